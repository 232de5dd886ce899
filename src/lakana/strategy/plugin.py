"""How the national strategy domain plugs into the core: the action plan and its
indicators."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.strategy import api, cli, demo, pages, permissions, service
from lakana.strategy.permissions import StrategyPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="strategy",
    register_permissions=permissions.register,
    api_routers=(api.router,),
    pages_routers=(pages.router,),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(MenuEntry("National strategy", "/strategy", StrategyPermission.PLAN_READ,
                    order=75),),
    dashboard=(DashboardCard("Strategy actions late", "/strategy",
                             StrategyPermission.PLAN_READ, service.count_actions_late),),
    cli=cli.app,
    demo=(DemoStep("strategy-plan", demo.load_demo, order=90),),
)
