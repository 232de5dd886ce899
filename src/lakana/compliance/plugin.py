"""How the compliance domain plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.compliance import api, cli, demo, indicators, pages, permissions
from lakana.compliance.campaigns import api as campaigns_api
from lakana.compliance.campaigns import demo as campaigns_demo
from lakana.compliance.campaigns import oscal_api
from lakana.compliance.campaigns import pages as campaigns_pages
from lakana.compliance.campaigns import permissions as campaigns_permissions
from lakana.compliance.campaigns.permissions import CampaignPermission
from lakana.compliance.permissions import CompliancePermission
from lakana.compliance.remediation import api as remediation_api
from lakana.compliance.remediation import pages as remediation_pages
from lakana.compliance.remediation import permissions as remediation_permissions
from lakana.compliance.remediation import service as remediation_service
from lakana.compliance.remediation import tasks as _remediation_tasks  # noqa: F401  (digest task)
from lakana.compliance.remediation.permissions import ActionPermission
from lakana.compliance.reports import api as reports_api
from lakana.compliance.reports import pages as reports_pages
from lakana.compliance.risks import api as risks_api
from lakana.compliance.risks import demo as risks_demo
from lakana.compliance.risks import pages as risks_pages
from lakana.compliance.risks import permissions as risks_permissions
from lakana.compliance.risks.permissions import RiskPermission
from lakana.compliance.scoring import api as scoring_api
from lakana.compliance.scoring import pages as scoring_pages
from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry

_HERE = Path(__file__).parent


def _register_permissions() -> None:
    """Grant the permissions of the catalogs, the campaigns and the risk register."""
    permissions.register()
    campaigns_permissions.register()
    risks_permissions.register()
    remediation_permissions.register()


PLUGIN = DomainPlugin(
    name="compliance",
    register_permissions=_register_permissions,
    api_routers=(api.router, campaigns_api.router, risks_api.router, scoring_api.router,
                 remediation_api.router, oscal_api.router, reports_api.router),
    pages_routers=(pages.router, campaigns_pages.router, risks_pages.router,
                   scoring_pages.router, remediation_pages.router, reports_pages.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Security baseline", "/compliance/catalogs", CompliancePermission.CATALOG_READ,
                  order=20, group="Compliance"),
        MenuEntry("Assessment campaigns", "/compliance/campaigns",
                  CampaignPermission.CAMPAIGN_READ, order=21, group="Compliance"),
        MenuEntry("Risk register", "/compliance/risks", RiskPermission.RISK_READ, order=22,
                  group="Compliance"),
        MenuEntry("Remediation actions", "/compliance/actions", ActionPermission.ACTION_READ,
                  order=23, group="Compliance"),
    ),
    dashboard=(DashboardCard("Overdue remediation actions", "/compliance/actions?overdue=true",
                             ActionPermission.ACTION_READ, remediation_service.count_overdue),),
    cli=cli.app,
    demo=(DemoStep("compliance", demo.load_demo, order=20),
          DemoStep("compliance-campaigns", campaigns_demo.load_demo, order=30),
          DemoStep("compliance-risks", risks_demo.load_demo, order=35)),
    indicator_sources=indicators.SOURCES,
)
