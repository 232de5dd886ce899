"""How the incident response centre plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.csirt import (
    api,
    cli,
    clock_api,
    clock_pages,
    clocks,
    demo,
    metrics_api,
    metrics_pages,
    observable_api,
    observable_pages,
    pages,
    permissions,
    public_api,
    public_pages,
    service,
)
from lakana.csirt import clock_tasks as _clock_tasks  # noqa: F401  (overdue deadlines job)
from lakana.csirt.permissions import CsirtPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="csirt",
    register_permissions=permissions.register,
    api_routers=(api.router, observable_api.router, public_api.router,
                 public_api.analyst_router, clock_api.router, metrics_api.router),
    pages_routers=(pages.router, observable_pages.router, public_pages.router,
                   public_pages.analyst_router, clock_pages.router, metrics_pages.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Incidents", "/csirt/cases", CsirtPermission.CASE_READ, order=40),
        MenuEntry("Analyst queue", "/csirt/queue", CsirtPermission.CASE_MANAGE, order=41),
        MenuEntry("National incident dashboard", "/csirt/dashboard",
                  CsirtPermission.NATIONAL_READ, order=49),
    ),
    dashboard=(
        DashboardCard("Open cases assigned to me", "/csirt/cases?assignee=me&open=true",
                      CsirtPermission.CASE_MANAGE, service.count_assigned_to_me),
        DashboardCard("New cases awaiting triage", "/csirt/cases?status=new",
                      CsirtPermission.CASE_MANAGE, service.count_awaiting_triage),
        DashboardCard("Overdue statutory deadlines", "/csirt/clocks/overdue",
                      CsirtPermission.CASE_READ, clocks.count_overdue),
    ),
    cli=cli.app,
    demo=(DemoStep("csirt-cases", demo.load_demo, order=40),),
)
