"""How the incident response centre plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DomainPlugin
from lakana.csirt import permissions

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="csirt",
    register_permissions=permissions.register,
    api_routers=(),
    pages_routers=(),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(),
    dashboard=(),
    cli=None,
    demo=(),
)
