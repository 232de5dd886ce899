"""HTML pages of notices and webhooks.

* ``/csirt/cases/{case_id}/notify`` — the centre notifies institutions about a case and
  sees who acknowledged;
* ``/csirt/notices`` — the notices addressed to one's institution, with "acknowledge";
* ``/csirt/webhooks`` — register, enable, disable, ping and delete webhooks; the signing
  secret is shown once, on the page answering the creation (never in a URL);
  ``/csirt/webhooks/{webhook_id}/deliveries`` — the delivery log, with "send again".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, LakanaError
from lakana.core.i18n import N_, gettext
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import coordination, webhooks
from lakana.csirt.access import get_case
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.tlp import ORDER, Tlp
from lakana.registry import service as registry_service

router = APIRouter(prefix="/csirt")

#: Notices shown after a redirect (``?done=...``): fixed texts, never the query's own text.
DONE: dict[str, str] = {
    "sent": N_("The notice was sent."), "ack": N_("The notice was acknowledged."),
    "deleted": N_("The webhook was deleted."), "ping": N_("A test event was queued."),
    "retry": N_("The delivery will be sent again."),
    "enabled": N_("The webhook was enabled."), "disabled": N_("The webhook was disabled."),
}
NOTICE_TLPS = [t.value for t in ORDER if t is not Tlp.RED]



def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _ids(form: FormData, name: str) -> list[int]:
    return [int(v) for v in form.getlist(name) if isinstance(v, str) and v.strip().isdigit()]


def _problem(exc: LakanaError) -> tuple[str, dict[str, str]]:
    fields = {str(e["field"]): gettext(str(e["message"]), **dict(e.get("params") or {}))
              for e in exc.errors if "field" in e}
    return gettext(exc.message, **exc.params), fields


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done") or "")


# --- notify institutions about a case ---------------------------------------------------

def _notify_page(request: Request, session: Session, actor: Actor, case: Case, *,
                 values: dict[str, Any], errors: dict[str, str] | None = None,
                 problem: str | None = None, status_code: int = 200) -> Response:
    notices = coordination.list_for_case(session=session, actor=actor, case_id=case.id)
    names = dict(registry_service.institution_choices(session=session))
    return render(request, "csirt/coordination/notify.html", {
        "case": case, "notices": notices, "names": names,
        "institutions": sorted(names.items(), key=lambda item: item[1]),
        "tlps": NOTICE_TLPS, "values": values, "errors": errors or {}, "problem": problem,
        "notice": _done(request)}, status_code=status_code)


@router.get("/cases/{case_id}/notify")
def notify_form(request: Request, case_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """The form to notify institutions about a case, and the notices already sent."""
    case = get_case(session, actor, case_id, P.COORDINATE)
    chosen = [case.institution_id] if case.institution_id else []
    tlp = case.tlp if case.tlp != Tlp.RED.value else Tlp.AMBER_STRICT.value
    return _notify_page(request, session, actor, case,
                        values={"institution_ids": chosen, "tlp": tlp, "message": ""})


@router.post("/cases/{case_id}/notify")
def notify_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Send the notice, or show the form again with the problems."""
    chosen, message, tlp = _ids(form, "institution_ids"), _text(form, "message"), \
        _text(form, "tlp")
    values: dict[str, Any] = {"institution_ids": chosen, "message": message, "tlp": tlp}
    try:
        coordination.notify_institutions(session=session, actor=actor, case_id=case_id,
                                         institution_ids=chosen, message=message, tlp=tlp)
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, errors = _problem(exc)
        case = get_case(session, actor, case_id, P.COORDINATE)
        return _notify_page(request, session, actor, case, values=values, errors=errors,
                            problem=problem, status_code=exc.status)
    return redirect(request, f"/csirt/cases/{case_id}/notify?done=sent")


# --- notices of my institution ----------------------------------------------------------

@router.get("/notices")
def notices_page(request: Request, session: DbSession, actor: CurrentActor,
                 offset: int = 0) -> Response:
    """Notices addressed to the reader's institution (the centre: all), newest first."""
    offset = max(0, offset)
    rows, total = coordination.list_notices(session=session, actor=actor, limit=50,
                                            offset=offset)
    return render(request, "csirt/coordination/notices.html", {
        "rows": rows, "total": total,
        "refs": coordination.case_references(session=session, notices=rows),
        "names": dict(registry_service.institution_choices(session=session)),
        "can_ack": actor.can(P.CASE_CONTRIBUTE) and actor.institution_id is not None,
        "own_institution": actor.institution_id, "notice": _done(request),
        "next_offset": offset + 50 if offset + 50 < total else None,
        "prev_offset": max(offset - 50, 0) if offset else None})


@router.post("/notices/{notice_id}/acknowledge")
def acknowledge(request: Request, notice_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """Acknowledge a notice, then go back to the list."""
    notice = coordination.acknowledge(session=session, actor=actor, notice_id=notice_id)
    return redirect(request, f"/csirt/notices?done=ack#notice-{notice.id}")


# --- webhooks ---------------------------------------------------------------------------

def _webhooks_page(request: Request, session: Session, actor: Actor, *,
                   values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                   problem: str | None = None, created: tuple[int, str] | None = None,
                   status_code: int = 200) -> Response:
    hooks = webhooks.list_webhooks(session=session, actor=actor)
    names = dict(registry_service.institution_choices(session=session))
    owners = sorted(names.items(), key=lambda item: item[1]) if actor.is_national else []
    return render(request, "csirt/coordination/webhooks.html", {
        "hooks": hooks, "names": names, "owners": owners, "national": actor.is_national,
        "events": webhooks.EVENTS, "values": values or {"events": list(webhooks.EVENTS)},
        "errors": errors or {}, "problem": problem, "created": created,
        "notice": _done(request), "max_attempts": webhooks.MAX_ATTEMPTS,
        "disable_after": webhooks.DISABLE_AFTER}, status_code=status_code)


@router.get("/webhooks")
def webhooks_page(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The webhooks the reader manages, the form to add one, and how to verify them."""
    return _webhooks_page(request, session, actor)


@router.post("/webhooks")
def create_webhook(request: Request, session: DbSession, actor: CurrentActor,
                   form: Form) -> Response:
    """Register a webhook and show its secret, once."""
    owner = _text(form, "institution_id").strip()
    values: dict[str, Any] = {"url": _text(form, "url"), "description": _text(form,
                              "description"), "events": [str(e) for e in form.getlist("events")],
                              "institution_id": owner}
    try:
        hook, secret = webhooks.create_webhook(
            session=session, actor=actor, settings=get_settings(request), url=values["url"],
            events=values["events"], description=values["description"],
            institution_id=int(owner) if owner.isdigit() else None)
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, errors = _problem(exc)
        return _webhooks_page(request, session, actor, values=values, errors=errors,
                              problem=problem, status_code=exc.status)
    return _webhooks_page(request, session, actor, created=(hook.id, secret),
                          status_code=201)


@router.post("/webhooks/{webhook_id}/delete")
def delete_webhook(request: Request, webhook_id: int, session: DbSession,
                   actor: CurrentActor) -> Response:
    """Delete a webhook."""
    webhooks.delete_webhook(session=session, actor=actor, webhook_id=webhook_id)
    return redirect(request, "/csirt/webhooks?done=deleted")


@router.post("/webhooks/{webhook_id}/active")
def set_active(request: Request, webhook_id: int, session: DbSession, actor: CurrentActor,
               form: Form) -> Response:
    """Enable (``active=1``) or disable a webhook."""
    active = _text(form, "active") == "1"
    webhooks.set_active(session=session, actor=actor, webhook_id=webhook_id, active=active)
    return redirect(request, "/csirt/webhooks?done=" + ("enabled" if active else "disabled"))


@router.post("/webhooks/{webhook_id}/ping")
def ping(request: Request, webhook_id: int, session: DbSession,
         actor: CurrentActor) -> Response:
    """Queue a test event, then show the delivery log."""
    webhooks.ping(session=session, actor=actor, webhook_id=webhook_id)
    return redirect(request, f"/csirt/webhooks/{webhook_id}/deliveries?done=ping")


@router.get("/webhooks/{webhook_id}/deliveries")
def deliveries_page(request: Request, webhook_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """The last 50 deliveries of a webhook."""
    hook = webhooks.get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    rows = webhooks.list_deliveries(session=session, actor=actor, webhook_id=webhook_id)
    return render(request, "csirt/coordination/deliveries.html", {
        "hook": hook, "rows": rows, "notice": _done(request)})


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
def retry(request: Request, webhook_id: int, delivery_id: int, session: DbSession,
          actor: CurrentActor) -> Response:
    """Send a failed delivery again."""
    webhooks.retry_delivery(session=session, actor=actor, webhook_id=webhook_id,
                            delivery_id=delivery_id)
    return redirect(request, f"/csirt/webhooks/{webhook_id}/deliveries?done=retry")
