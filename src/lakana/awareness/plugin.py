"""How the awareness domain plugs into the core: the skills register, training, awareness
campaigns and the public portal."""

from __future__ import annotations

from pathlib import Path

import typer

from lakana.awareness import indicators
from lakana.awareness.campaigns import api as campaigns_api
from lakana.awareness.campaigns import cli as campaigns_cli
from lakana.awareness.campaigns import demo as campaigns_demo
from lakana.awareness.campaigns import pages as campaigns_pages
from lakana.awareness.campaigns import permissions as campaigns_permissions
from lakana.awareness.campaigns import service as campaigns_service
from lakana.awareness.campaigns.permissions import CampaignPermission
from lakana.awareness.dashboard import api as dashboard_api
from lakana.awareness.dashboard import pages as dashboard_pages
from lakana.awareness.phishing import api as phishing_api
from lakana.awareness.phishing import cli as phishing_cli
from lakana.awareness.phishing import demo as phishing_demo
from lakana.awareness.phishing import pages as phishing_pages
from lakana.awareness.phishing import permissions as phishing_permissions
from lakana.awareness.phishing import public_pages as phishing_public
from lakana.awareness.phishing.permissions import PhishingPermission
from lakana.awareness.portal import pages as portal_pages
from lakana.awareness.skills import api as skills_api
from lakana.awareness.skills import cli as skills_cli
from lakana.awareness.skills import demo as skills_demo
from lakana.awareness.skills import pages as skills_pages
from lakana.awareness.skills import permissions as skills_permissions
from lakana.awareness.skills import service as skills_service
from lakana.awareness.skills.permissions import SkillsPermission
from lakana.awareness.training import api as training_api
from lakana.awareness.training import cli as training_cli
from lakana.awareness.training import demo as training_demo
from lakana.awareness.training import pages as training_pages
from lakana.awareness.training import permissions as training_permissions
from lakana.awareness.training import public_pages as training_public
from lakana.awareness.training import service as training_service
from lakana.awareness.training.permissions import TrainingPermission
from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry

_HERE = Path(__file__).parent

cli = typer.Typer(no_args_is_help=True,
                  help="Culture of digital security: skills register, training.")
cli.add_typer(skills_cli.app, name="skills")
cli.add_typer(training_cli.app, name="training")
cli.add_typer(phishing_cli.app, name="phishing")
cli.add_typer(campaigns_cli.app, name="campaigns")


def _register_permissions() -> None:
    skills_permissions.register()
    training_permissions.register()
    phishing_permissions.register()
    campaigns_permissions.register()


PLUGIN = DomainPlugin(
    name="awareness",
    register_permissions=_register_permissions,
    api_routers=(skills_api.router, training_api.router, campaigns_api.router,
                 phishing_api.router, dashboard_api.router),
    pages_routers=(skills_pages.router, training_pages.router, training_public.router,
                   campaigns_pages.router, portal_pages.router, phishing_pages.router,
                   phishing_public.router, dashboard_pages.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(MenuEntry("Digital security culture", "/awareness/dashboard",
                    TrainingPermission.TRAINING_READ, order=69, group="Awareness"),
          MenuEntry("Skills register", "/awareness/skills", SkillsPermission.SKILLS_READ,
                    order=70, group="Awareness"),
          MenuEntry("Training", "/awareness/training", TrainingPermission.TRAINING_READ,
                    order=71, group="Awareness"),
          MenuEntry("Awareness campaigns", "/awareness/campaigns",
                    CampaignPermission.CAMPAIGNS_READ, order=72, group="Awareness"),
          MenuEntry("Phishing exercises", "/awareness/phishing",
                    PhishingPermission.PHISHING_READ, order=73, group="Awareness")),
    dashboard=(DashboardCard("Security role seats to fill", "/awareness/skills",
                             SkillsPermission.SKILLS_READ, skills_service.count_missing_seats),
               DashboardCard("People trained", "/awareness/training/completion",
                             TrainingPermission.TRAINING_READ,
                             training_service.count_people_trained),
               DashboardCard("Awareness campaigns running", "/awareness/campaigns",
                             CampaignPermission.CAMPAIGNS_READ, campaigns_service.count_running)),
    public_links=(MenuEntry("Public portal: security advice, advisories, reporting",
                            "/portail", None, order=10),),
    cli=cli,
    demo=(DemoStep("awareness-skills", skills_demo.load_demo, order=70),
          DemoStep("awareness-training", training_demo.load_demo, order=71),
          DemoStep("awareness-campaigns", campaigns_demo.load_demo, order=72),
          DemoStep("awareness-phishing", phishing_demo.load_demo, order=73)),
    indicator_sources=indicators.SOURCES,
)
