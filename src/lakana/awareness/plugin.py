"""How the awareness domain plugs into the core (the skills register, for now)."""

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
from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry

_HERE = Path(__file__).parent

cli = typer.Typer(no_args_is_help=True, help="Culture of digital security: skills register.")
cli.add_typer(skills_cli.app, name="skills")

PLUGIN = DomainPlugin(
    name="awareness",
    register_permissions=skills_permissions.register,
    api_routers=(skills_api.router,),
    pages_routers=(skills_pages.router,),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(MenuEntry("Skills register", "/awareness/skills", SkillsPermission.SKILLS_READ,
                    order=70, group="Awareness"),),
    dashboard=(DashboardCard("Security role seats to fill", "/awareness/skills",
                             SkillsPermission.SKILLS_READ, skills_service.count_missing_seats),),
    cli=cli,
    demo=(DemoStep("awareness-skills", skills_demo.load_demo, order=70),),
)
