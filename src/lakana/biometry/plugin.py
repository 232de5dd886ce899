"""How the biometric registry plugs into the core. For now it brings only its translations
(the protection-at-rest errors); pages, API, CLI and permissions come with enrollment."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DomainPlugin


def _register_permissions() -> None:
    """No permission yet: nothing of the registry is reachable from the web or the CLI."""


PLUGIN = DomainPlugin(
    name="biometry",
    register_permissions=_register_permissions,
    catalog_dir=Path(__file__).parent / "locale",
)
