"""How the awareness domain plugs into the core: the skills register and training."""

from __future__ import annotations

from pathlib import Path

import typer

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


def _register_permissions() -> None:
    skills_permissions.register()
    training_permissions.register()


PLUGIN = DomainPlugin(
    name="awareness",
    register_permissions=_register_permissions,
    api_routers=(skills_api.router, training_api.router),
    pages_routers=(skills_pages.router, training_pages.router, training_public.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(MenuEntry("Skills register", "/awareness/skills", SkillsPermission.SKILLS_READ,
                    order=70, group="Awareness"),
          MenuEntry("Training", "/awareness/training", TrainingPermission.TRAINING_READ,
                    order=71, group="Awareness")),
    dashboard=(DashboardCard("Security role seats to fill", "/awareness/skills",
                             SkillsPermission.SKILLS_READ, skills_service.count_missing_seats),
               DashboardCard("People trained", "/awareness/training/completion",
                             TrainingPermission.TRAINING_READ,
                             training_service.count_people_trained)),
    cli=cli,
    demo=(DemoStep("awareness-skills", skills_demo.load_demo, order=70),
          DemoStep("awareness-training", training_demo.load_demo, order=71)),
)
