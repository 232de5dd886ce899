"""How the compliance domain plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.compliance import api, cli, demo, pages, permissions
from lakana.compliance.permissions import CompliancePermission
from lakana.core.plugins import DemoStep, DomainPlugin, MenuEntry

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="compliance",
    register_permissions=permissions.register,
    api_routers=(api.router,),
    pages_routers=(pages.router,),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Security baseline", "/compliance/catalogs", CompliancePermission.CATALOG_READ,
                  order=20),
    ),
    cli=cli.app,
    demo=(DemoStep("compliance", demo.load_demo, order=20),),
)
