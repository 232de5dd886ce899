"""How the national strategy domain plugs into the core: the action plan, its indicators
measured from the other domains' data, snapshots and reports, and the ITU GCI self-assessment."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.strategy import (
    api,
    cli,
    demo,
    editing_api,
    editing_pages,
    gci_api,
    gci_pages,
    monitoring_api,
    monitoring_pages,
    pages,
    permissions,
    report_api,
    report_pages,
    service,
)
from lakana.strategy.permissions import StrategyPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="strategy",
    register_permissions=permissions.register,
    api_routers=(api.router, monitoring_api.router, report_api.router, gci_api.router,
                 editing_api.router),
    pages_routers=(pages.router, monitoring_pages.router, report_pages.router,
                   gci_pages.router, editing_pages.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(MenuEntry("Action plan", "/strategy", StrategyPermission.PLAN_READ, order=75,
                    group="National strategy"),
          MenuEntry("Strategy dashboard", "/strategy/dashboard", StrategyPermission.PLAN_READ,
                    order=76, group="National strategy"),
          MenuEntry("Snapshots and reports", "/strategy/snapshots",
                    StrategyPermission.PLAN_READ, order=77, group="National strategy"),
          MenuEntry("ITU GCI benchmarking", "/strategy/gci", StrategyPermission.PLAN_READ,
                    order=78, group="National strategy")),
    dashboard=(DashboardCard("Strategy actions late", "/strategy",
                             StrategyPermission.PLAN_READ, service.count_actions_late),),
    cli=cli.app,
    demo=(DemoStep("strategy-plan", demo.load_demo, order=90),),
)
