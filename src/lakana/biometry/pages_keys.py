"""HTML page of the registry's master keys (``/biometry/keys``): their states, the objects
each wraps, the rotations with their progress, and a button to start one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.biometry import keys, runtime
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Conflict
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect
from lakana.core.web.templating import render

router = APIRouter(prefix="/biometry")


@router.get("/keys")
def keys_page(request: Request, session: DbSession, actor: CurrentActor,
              done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Master keys and rotations."""
    view = keys.status(session=session, actor=actor,
                       store=runtime.keystore(request.app.state.settings))
    return render(request, "biometry/keys.html", {
        "view": view, "started": done == "started", "problem": None,
        "can_rotate": actor.can(P.KEYS_MANAGE)})


@router.post("/keys/rotation")
def start_rotation(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Start a rotation (a background job re-wraps the data keys)."""
    store = runtime.keystore(request.app.state.settings)
    try:
        keys.start_rotation(session=session, actor=actor, store=store)
    except Conflict as exc:
        session.rollback()
        view = keys.status(session=session, actor=actor, store=store)
        return render(request, "biometry/keys.html", {
            "view": view, "started": False, "problem": _(exc.message, **exc.params),
            "can_rotate": True}, status_code=409)
    return redirect(request, "/biometry/keys?done=started")
