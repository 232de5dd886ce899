"""How exposure monitoring plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.monitoring.exposure import api, cli, demo, indicators, pages, permissions, service
from lakana.monitoring.exposure import tasks as _tasks  # noqa: F401  (scan task, daily schedule)
from lakana.monitoring.exposure.permissions import ExposurePermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="exposure",
    register_permissions=permissions.register,
    api_routers=(api.router,),
    pages_routers=(pages.router,),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Internet exposure", "/exposure", ExposurePermission.READ, order=60,
                  group="Exposure"),
        MenuEntry("Exposure findings", "/exposure/findings", ExposurePermission.READ, order=61,
                  group="Exposure"),
        MenuEntry("Exposure scans", "/exposure/scans", ExposurePermission.READ, order=62,
                  group="Exposure"),
    ),
    dashboard=(DashboardCard("Open critical exposure findings",
                             "/exposure/findings?severity=critical&status=open",
                             ExposurePermission.READ, service.count_open_critical),),
    cli=cli.app,
    demo=(DemoStep("exposure", demo.load_demo, order=60),),
    indicator_sources=indicators.SOURCES,
)
