"""How the registry plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DomainPlugin, MenuEntry
from lakana.registry import permissions
from lakana.registry.permissions import RegistryPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="registry",
    register_permissions=permissions.register,
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Institutions", "/registry/institutions", RegistryPermission.INSTITUTION_READ,
                  order=10),
        MenuEntry("Information systems", "/registry/systems", RegistryPermission.SYSTEM_READ,
                  order=11),
    ),
)
