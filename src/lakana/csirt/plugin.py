"""How the incident response centre plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.csirt import (
    advisory_api,
    advisory_demo,
    advisory_pages,
    api,
    cli,
    clock_api,
    clock_pages,
    clocks,
    coordination,
    coordination_api,
    coordination_pages,
    demo,
    indicators,
    metrics_api,
    metrics_pages,
    misp_api,
    misp_pages,
    observable_api,
    observable_pages,
    pages,
    permissions,
    public_api,
    public_pages,
    service,
    sharing_demo,
    sharing_pages,
    sharing_service,
    stix_api,
    stix_pages,
    taxii_api,
)
from lakana.csirt import clock_tasks as _clock_tasks  # noqa: F401  (overdue deadlines job)
from lakana.csirt import webhooks as _webhooks  # noqa: F401  (webhook delivery job)
from lakana.csirt.permissions import CsirtPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="csirt",
    register_permissions=permissions.register,
    api_routers=(api.router, observable_api.router, public_api.router,
                 public_api.analyst_router, clock_api.router, metrics_api.router,
                 misp_api.router, stix_api.router, coordination_api.router,
                 advisory_api.router),
    pages_routers=(pages.router, observable_pages.router, public_pages.router,
                   public_pages.analyst_router, clock_pages.router, metrics_pages.router,
                   misp_pages.router, stix_pages.router, coordination_pages.router,
                   sharing_pages.router, taxii_api.router, advisory_pages.router,
                   advisory_pages.public_router, advisory_api.well_known),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Incidents", "/csirt/cases", CsirtPermission.CASE_READ, order=40,
                  group="Incident response"),
        MenuEntry("Analyst queue", "/csirt/queue", CsirtPermission.CASE_MANAGE, order=41,
                  group="Incident response"),
        MenuEntry("CSIRT notices", "/csirt/notices", CsirtPermission.CASE_READ, order=42,
                  group="Incident response"),
        MenuEntry("Advisories", "/csirt/advisories", CsirtPermission.ADVISORY_READ,
                  order=45, group="Incident response"),
        MenuEntry("Webhooks", "/csirt/webhooks", CsirtPermission.WEBHOOK_MANAGE, order=46,
                  group="Incident response"),
        MenuEntry("Import MISP events", "/csirt/misp/import", CsirtPermission.COORDINATE,
                  order=47, group="Incident response"),
        MenuEntry("Incident metrics", "/csirt/metrics/institution", CsirtPermission.CASE_READ,
                  order=48, group="Incident response"),
        MenuEntry("National incident dashboard", "/csirt/dashboard",
                  CsirtPermission.NATIONAL_READ, order=49, group="Incident response"),
        MenuEntry("Sharing with partner CERTs", "/csirt/sharing", CsirtPermission.COORDINATE,
                  order=50, group="Incident response"),
        MenuEntry("Shared intelligence (TAXII)", "/csirt/partner",
                  CsirtPermission.SHARING_PULL, order=51, group="Incident response"),
    ),
    dashboard=(
        DashboardCard("Open cases assigned to me", "/csirt/cases?assignee=me&open=true",
                      CsirtPermission.CASE_MANAGE, service.count_assigned_to_me),
        DashboardCard("New cases awaiting triage", "/csirt/cases?status=new",
                      CsirtPermission.CASE_MANAGE, service.count_awaiting_triage),
        DashboardCard("Overdue statutory deadlines", "/csirt/clocks/overdue",
                      CsirtPermission.CASE_READ, clocks.count_overdue),
        DashboardCard("Sharing collections you can pull (TAXII)", "/csirt/partner",
                      CsirtPermission.SHARING_PULL, sharing_service.count_pullable_groups),
    ),
    cli=cli.app,
    demo=(DemoStep("csirt-cases", demo.load_demo, order=40),
          DemoStep("csirt-notices", coordination.load_demo, order=46),
          DemoStep("csirt-sharing", sharing_demo.load_sharing_demo, order=45),
          DemoStep("csirt-advisories", advisory_demo.load_demo, order=47)),
    indicator_sources=indicators.SOURCES,
)
