"""Core pages: the home dashboard (one per role) and the API documentation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.web.templating import render

router = APIRouter()


@router.get("/", name="home")
def home(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The home dashboard: what the actor's role needs first, from every domain."""
    cards = [
        {"label": card.label, "path": card.path, "value": card.count(session, actor)}
        for plugin in request.app.state.plugins for card in plugin.dashboard
        if actor.can(card.permission)
    ]
    return render(request, "home.html", {"cards": cards})


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> Response:
    """Swagger UI from vendored files (no CDN, no inline script)."""
    return HTMLResponse("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lakana API</title><link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>""")
