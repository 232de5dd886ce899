"""HTML pages of the lifecycle (under ``/biometry``).

The adjudication queue, one adjudication side by side (the enrollment's captures and each
candidate's, with the scores per finger, and the decision form), a capture's image (decrypted
for the eyes of an adjudicator, WSQ shown as PNG, never cached, ledgered), the person search
by national number (exact match through the blind index, ledgered) and the person record
(demographics, status, captures with quality, lifecycle history from the ledger, the relying
services' accesses, and the death and deletion forms).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lakana.biometry import lifecycle, runtime
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.purposes import PURPOSES
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render

router = APIRouter(prefix="/biometry")

NOTICES = {"decided": N_("The decision was recorded."),
           "death": N_("The death was recorded."),
           "deleted": N_("The person's biometric data and demographics were deleted.")}
#: Ledger actions of a person's lifecycle, as shown in the history.
HISTORY = {"biometry.person.issue": N_("Identity issued"),
           "biometry.person.update": N_("Captures updated"),
           "biometry.person.reject": N_("Rejected as a duplicate"),
           "biometry.person.death": N_("Death recorded"),
           "biometry.person.delete": N_("Data deleted"),
           "biometry.person.search": N_("Found by a search")}
STATUSES = {"pending": N_("pending"), "active": N_("active"), "deceased": N_("deceased"),
            "deleted": N_("deleted"), "rejected": N_("rejected")}
HELPERS: dict[str, Any] = {"history_labels": HISTORY,
                           "statuses": STATUSES}





@router.get("/adjudications")
def adjudications(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The open adjudications, oldest first."""
    rows = lifecycle.list_adjudications(session=session, actor=actor)
    return render(request, "biometry/adjudications.html", {
        "rows": [(a, e, lifecycle.candidates_of(a)) for a, e in rows]})


def _adjudication_page(request: Request, session: Session, actor: Actor, adjudication_id: int,
                       *, notice: str | None = None, problem: str | None = None,
                       values: dict[str, str] | None = None, status_code: int = 200
                       ) -> Response:
    view = lifecycle.get_adjudication(session=session, actor=actor,
                                      adjudication_id=adjudication_id)
    return render(request, "biometry/adjudication.html", {
        "view": view, "notice": notice, "problem": problem,
        "values": values or {"decision": "", "reason": "", "duplicate_of": ""},
        "can_see_images": actor.can(P.IMAGE_READ), **HELPERS}, status_code=status_code)


@router.get("/adjudications/{adjudication_id}")
def adjudication(adjudication_id: int, request: Request, session: DbSession,
                 actor: CurrentActor,
                 done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One adjudication side by side."""
    notice = NOTICES.get(done or "")
    return _adjudication_page(request, session, actor, adjudication_id,
                              notice=_(notice) if notice else None)


@router.post("/adjudications/{adjudication_id}/decision")
def decide(adjudication_id: int, request: Request, session: DbSession, actor: CurrentActor,
           form: Form) -> Response:
    """Record the decision; a refused one comes back with the reason and what was typed."""
    values = {"decision": text_field(form, "decision"), "reason": text_field(form, "reason"),
              "duplicate_of": text_field(form, "duplicate_of")}
    try:
        duplicate_of = int(values["duplicate_of"]) if values["duplicate_of"] else None
        lifecycle.decide(session=session, actor=actor, settings=get_settings(request),
                         adjudication_id=adjudication_id, decision=values["decision"],
                         duplicate_of=duplicate_of, reason=values["reason"])
    except ValueError:
        return _adjudication_page(request, session, actor, adjudication_id,
                                  problem=_("Choose which candidate the enrollment "
                                            "duplicates."), values=values, status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _adjudication_page(request, session, actor, adjudication_id, problem=problem,
                                  values=values, status_code=status)
    return redirect(request, f"/biometry/adjudications/{adjudication_id}?done=decided")


@router.get("/captures/{capture_id}/image")
def capture_image(capture_id: int, request: Request, session: DbSession,
                  actor: CurrentActor) -> Response:
    """A capture's image (PNG for a finger, JPEG for a face), never cached."""
    data, media_type = lifecycle.capture_image(
        session=session, actor=actor, store=runtime.keystore(get_settings(request)),
        capture_id=capture_id)
    return Response(data, media_type=media_type,
                    headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/persons")
def persons_search(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The search form. A number is searched only through the form's POST, so it never
    sits in an address, a proxy log or the browser history."""
    actor.require(P.PERSON_READ)
    return _search(request, session, actor, None)


@router.post("/persons")
def persons_search_post(request: Request, session: DbSession, actor: CurrentActor,
                        form: Form) -> Response:
    """The same search from the form (the number stays out of the address bar and logs)."""
    actor.require(P.PERSON_READ)
    return _search(request, session, actor, text_field(form, "nin")[:32])


def _search(request: Request, session: Session, actor: Actor, nin: str | None) -> Response:
    found, problem, status = None, None, 200
    if nin is not None:
        try:
            found = lifecycle.search_by_nin(session=session, actor=actor,
                                            store=runtime.keystore(get_settings(request)),
                                            nin=nin)
        except Invalid as exc:
            problem, status = problem_of(exc)
    return render(request, "biometry/persons.html", {
        "searched": nin is not None, "found": found, "problem": problem, **HELPERS},
        status_code=status)


def _person_page(request: Request, session: Session, actor: Actor, person_id: int, *,
                 notice: str | None = None, problem: str | None = None,
                 status_code: int = 200) -> Response:
    view = lifecycle.view_person(session=session, actor=actor,
                                 store=runtime.keystore(get_settings(request)),
                                 person_id=person_id)
    return render(request, "biometry/person.html", {
        "view": view, "notice": notice, "problem": problem,
        "can_lifecycle": actor.can(P.LIFECYCLE), "can_see_images": actor.can(P.IMAGE_READ),
        "purposes": PURPOSES, **HELPERS}, status_code=status_code)


@router.get("/persons/{person_id}")
def person(person_id: int, request: Request, session: DbSession, actor: CurrentActor,
           done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The person record."""
    notice = NOTICES.get(done or "")
    return _person_page(request, session, actor, person_id,
                        notice=_(notice) if notice else None)


@router.post("/persons/{person_id}/death")
def death(person_id: int, request: Request, session: DbSession, actor: CurrentActor,
          form: Form) -> Response:
    """Record a death from the person page."""
    try:
        raw = text_field(form, "date_of_death")
        try:
            date = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise Invalid("The date of death is not a valid date.") from None
        lifecycle.record_death(session=session, actor=actor, settings=get_settings(request),
                               person_id=person_id, date_of_death=date,
                               reference=text_field(form, "reference"))
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _person_page(request, session, actor, person_id, problem=problem,
                            status_code=status)
    return redirect(request, f"/biometry/persons/{person_id}?done=death")


@router.post("/persons/{person_id}/deletion")
def deletion(person_id: int, request: Request, session: DbSession, actor: CurrentActor,
             form: Form) -> Response:
    """Lawfully delete the person's data from the person page."""
    try:
        lifecycle.lawful_deletion(session=session, actor=actor, person_id=person_id,
                                  reason=text_field(form, "reason"))
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _person_page(request, session, actor, person_id, problem=problem,
                            status_code=status)
    return redirect(request, f"/biometry/persons/{person_id}?done=deleted")
