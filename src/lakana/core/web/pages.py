"""Core pages: the home dashboard (one per role) and the API documentation."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lakana.core.auth import service
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import INSTITUTION_ROLES, Actor, CorePermission, Role
from lakana.core.i18n import N_
from lakana.core.plugins import institution_choices
from lakana.core.web.templating import render

router = APIRouter()

#: Where the audit ledger's pages live (served by the core's audit package).
AUDIT_PATH = "/audit"


@dataclass(frozen=True)
class Guidance:
    """A block of role-specific guidance on the home page (texts are gettext message ids)."""

    title: str
    text: str
    link: str | None = None
    link_label: str | None = None
    value: str | None = None


def guidance_for(session: DbSession, actor: Actor) -> list[Guidance]:
    """What the actor's role should look at first; built from permissions, not domains."""
    blocks: list[Guidance] = []
    if actor.can(CorePermission.USER_WRITE):
        blocks.append(Guidance(
            N_("Accounts"),
            N_("Create accounts, reset passwords and second factors, disable leavers."),
            "/admin/users", N_("Manage users"),
            str(service.count_users(session=session, actor=actor))))
    if actor.role is Role.AUDITOR:
        blocks.append(Guidance(
            N_("Audit ledger"), N_("Check that the ledger's chain and signatures are intact, "
                                   "then review recent changes."),
            AUDIT_PATH, N_("Verify the audit ledger")))
    elif actor.can(CorePermission.AUDIT_READ):
        blocks.append(Guidance(
            N_("Audit ledger"), N_("Every change on the platform is recorded in a signed ledger."),
            AUDIT_PATH, N_("Recent ledger activity")))
    if actor.role in INSTITUTION_ROLES and actor.institution_id is not None:
        name = dict(institution_choices(session)).get(actor.institution_id)
        blocks.append(Guidance(
            N_("Your institution"), N_("You see only your institution's data; the national "
                                       "agency sees every institution."), value=name))
    blocks.append(Guidance(
        N_("Your account"), N_("Change your password, manage two-factor authentication and "
                               "API tokens."), "/account", N_("My account")))
    return blocks


@router.get("/", name="home")
def home(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The home dashboard: what the actor's role needs first, from every domain."""
    cards = [
        {"label": card.label, "path": card.path, "value": card.count(session, actor)}
        for plugin in request.app.state.plugins for card in plugin.dashboard
        if actor.can(card.permission)
    ]
    return render(request, "home.html",
                  {"cards": cards, "guidance": guidance_for(session, actor)})


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> Response:
    """Swagger UI from vendored files (no CDN, no inline script)."""
    return HTMLResponse("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lakana API</title><link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>""")
