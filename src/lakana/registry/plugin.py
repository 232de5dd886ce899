"""How the registry plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.registry import api, cli, demo, pages, permissions, service
from lakana.registry.permissions import RegistryPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="registry",
    register_permissions=permissions.register,
    api_routers=(api.router,),
    pages_routers=(pages.router,),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Institutions", "/registry/institutions", RegistryPermission.INSTITUTION_READ,
                  order=10),
        MenuEntry("Information systems", "/registry/systems", RegistryPermission.SYSTEM_READ,
                  order=11),
    ),
    dashboard=(
        DashboardCard("Institutions", "/registry/institutions",
                      RegistryPermission.INSTITUTION_READ, service.count_institutions),
        DashboardCard("Information systems", "/registry/systems",
                      RegistryPermission.SYSTEM_READ, service.count_systems),
        DashboardCard("Internet-facing systems", "/registry/systems?internet_facing=true",
                      RegistryPermission.SYSTEM_READ, service.count_internet_facing),
        DashboardCard("Systems with biometric data", "/registry/systems?biometric_data=true",
                      RegistryPermission.SYSTEM_READ, service.count_biometric),
    ),
    cli=cli.app,
    demo=(DemoStep("registry", demo.load_demo, order=10),),
)
