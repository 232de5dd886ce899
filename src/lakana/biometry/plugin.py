"""How the biometric registry plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.biometry import (
    api_enrollment,
    api_keys,
    api_lifecycle,
    api_oversight,
    api_services,
    cli,
    demo,
    pages_citizen,
    pages_enrollment,
    pages_keys,
    pages_lifecycle,
    pages_oversight,
    pages_services,
    permissions,
)
from lakana.biometry import tasks as _tasks  # noqa: F401  (daily retention job)
from lakana.biometry import tasks_keys as _tasks_keys  # noqa: F401  (re-wrap job)
from lakana.biometry.abis import api as api_abis
from lakana.biometry.abis import tasks as _tasks_abis  # noqa: F401  (ABIS request jobs)
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.plugins import DemoStep, DomainPlugin, MenuEntry

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="biometry",
    register_permissions=permissions.register,
    # Enrollment packets are read under their own cap and every refusal is ledgered.
    own_body_limit_paths=("/api/v1/biometry/enrollments",),
    api_routers=(api_enrollment.router, api_lifecycle.router, api_services.router,
                 api_oversight.router, api_keys.router, api_abis.router),
    pages_routers=(pages_enrollment.router, pages_lifecycle.router, pages_services.router,
                   pages_citizen.router, pages_oversight.router, pages_keys.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Enrollment station", "/biometry/enroll", P.ENROL, order=80,
                  group="Identity registry"),
        MenuEntry("Persons", "/biometry/persons", P.PERSON_READ, order=81,
                  group="Identity registry"),
        MenuEntry("Adjudications", "/biometry/adjudications", P.ADJUDICATE, order=82,
                  group="Identity registry"),
        MenuEntry("Relying services", "/biometry/services", P.SERVICE_MANAGE, order=83,
                  group="Identity registry"),
        MenuEntry("Oversight of the identity registry", "/biometry/oversight",
                  P.OVERSIGHT_READ, order=84, group="Identity registry"),
        MenuEntry("Complaints", "/biometry/oversight/complaints", P.OVERSIGHT_READ, order=85,
                  group="Identity registry"),
        MenuEntry("Master keys", "/biometry/keys", P.OVERSIGHT_READ, order=86,
                  group="Identity registry"),
    ),
    cli=cli.app,
    demo=(DemoStep("biometry", demo.load_demo, order=80),),
)
