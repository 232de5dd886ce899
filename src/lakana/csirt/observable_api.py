"""JSON API of the indicators of cases (mounted under ``/api/v1``).

``POST /csirt/cases/{id}/observables`` takes one indicator (``value``), a list (``items``)
or a paste (``text``, one a line). Valid indicators are added and refused ones reported
with their line: the answer lists ``accepted`` and ``rejected`` (201 when something was
added, 200 when everything was already there); when nothing is valid it is a 422 problem
whose ``errors`` name each line. Values come back raw in ``value`` and defanged in
``display``: show ``display``, never a link.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.i18n import translate
from lakana.csirt import access, observable_service
from lakana.csirt.observable_service import Added, NewObservable
from lakana.csirt.observables import MAX_ITEMS, MAX_LENGTH, shown

router = APIRouter(prefix="/csirt", tags=["csirt: observables"])

#: A paste holds at most MAX_ITEMS lines of MAX_LENGTH characters.
TEXT_MAX = MAX_ITEMS * (MAX_LENGTH + 2)


class ObservableItemIn(BaseModel):
    """One indicator; the kind is recognised when left out, the TLP label defaults to the
    case's."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=MAX_LENGTH)
    kind: str | None = Field(default=None, max_length=20)
    tlp: str | None = Field(default=None, max_length=30)
    is_ioc: bool = True
    comment: str = Field(default="", max_length=2000)


class ObservablesIn(BaseModel):
    """One indicator (``value``), a list (``items``) or a paste (``text``); ``kind``,
    ``tlp``, ``is_ioc`` and ``comment`` apply to ``value`` and to every line of ``text``."""

    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(default=None, max_length=MAX_LENGTH)
    items: list[ObservableItemIn] | None = Field(default=None, max_length=MAX_ITEMS)
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    kind: str | None = Field(default=None, max_length=20)
    tlp: str | None = Field(default=None, max_length=30)
    is_ioc: bool = True
    comment: str = Field(default="", max_length=2000)


class CaseObservableOut(BaseModel):
    """An indicator of a case."""

    id: int
    case_id: int
    observable_id: int
    kind: str
    value: str
    display: str
    tlp: str
    is_ioc: bool
    comment: str
    added_by: str
    added_at: dt.datetime
    sightings: int


class AcceptedOut(BaseModel):
    """An accepted indicator: ``created`` false when the case already had it (then ``tlp``,
    ``is_ioc`` and ``comment`` are those already recorded, or null if hidden from you)."""

    line: int
    created: bool
    id: int
    observable_id: int
    kind: str
    value: str
    display: str
    tlp: str | None
    is_ioc: bool | None
    comment: str | None


class RejectedOut(BaseModel):
    """A refused line, with the reason."""

    line: int
    value: str
    message: str


class AddOut(BaseModel):
    """What a request added and what it refused."""

    created: int
    accepted: list[AcceptedOut]
    rejected: list[RejectedOut]


class SightingOut(BaseModel):
    """A case where an indicator appeared."""

    case_observable_id: int
    case_id: int
    reference: str
    title: str
    status: str
    severity: str
    institution_id: int | None
    case_tlp: str
    tlp: str
    is_ioc: bool
    comment: str
    added_by: str
    added_at: dt.datetime


class ObservableOut(BaseModel):
    """An indicator, the cases you see it in, and how many other cases share it as
    TLP:CLEAR/GREEN (their details are not yours to see)."""

    id: int
    kind: str
    value: str
    display: str
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    cases: list[SightingOut]
    shared_elsewhere: int


class ObservableHitOut(BaseModel):
    """A search result."""

    id: int
    kind: str
    value: str
    display: str
    last_seen: dt.datetime
    sightings: int


class RelatedCaseOut(BaseModel):
    """A case sharing indicators or the affected system."""

    case_id: int
    reference: str
    title: str
    status: str
    severity: str
    reasons: list[str]
    shared: int
    same_system: bool


def accepted_out(added: Added) -> AcceptedOut:
    """An accepted line as the API shows it."""
    item, parsed = added.item, added.parsed
    return AcceptedOut(line=added.line, created=added.created, id=item.id,
                       observable_id=item.observable_id, kind=parsed.kind, value=parsed.value,
                       display=parsed.display, tlp=item.tlp if added.visible else None,
                       is_ioc=item.is_ioc if added.visible else None,
                       comment=item.comment if added.visible else None)


@router.post("/cases/{case_id}/observables", response_model=AddOut, status_code=201)
def add_observables(case_id: int, body: ObservablesIn, session: DbSession,
                    actor: CurrentActor, response: Response) -> AddOut:
    """Add one indicator, a list or a paste to a case (defanged input accepted)."""
    given = [body.value is not None, body.items is not None, body.text is not None]
    if sum(given) != 1:
        # Check access first, so an outsider learns nothing about the case from a bad body.
        access.get_case(session, actor, case_id)
        raise Invalid("Send exactly one of value (one indicator), items (a list) or text "
                      "(one indicator a line).")
    items = [NewObservable(value=body.value, kind=body.kind, tlp=body.tlp,
                           is_ioc=body.is_ioc, comment=body.comment)] \
        if body.value is not None else \
        [NewObservable(value=i.value, kind=i.kind, tlp=i.tlp, is_ioc=i.is_ioc,
                       comment=i.comment) for i in body.items or []]
    result = observable_service.add_many(
        session=session, actor=actor, case_id=case_id, text=body.text,
        items=items if body.text is None else None, kind=body.kind, tlp=body.tlp,
        is_ioc=body.is_ioc, comment=body.comment)
    if not result.created:
        response.status_code = 200
    return AddOut(created=result.created,
                  accepted=[accepted_out(a) for a in result.accepted],
                  rejected=[RejectedOut(line=e.line, value=shown(e.text),
                                        message=translate(e.error.message, **e.error.params))
                            for e in result.rejected])


@router.get("/cases/{case_id}/observables", response_model=list[CaseObservableOut])
def case_observables(case_id: int, session: DbSession,
                     actor: CurrentActor) -> list[CaseObservableOut]:
    """The indicators of a case that you may see."""
    case = access.get_case(session, actor, case_id)
    return [CaseObservableOut(**vars(v)) for v in observable_service.for_case(
        session=session, actor=actor, case=case)]


@router.get("/cases/{case_id}/related", response_model=list[RelatedCaseOut])
def related(case_id: int, session: DbSession, actor: CurrentActor) -> list[RelatedCaseOut]:
    """Cases you see that share indicators or the affected system with this one."""
    case = access.get_case(session, actor, case_id)
    return [RelatedCaseOut(**vars(r)) for r in observable_service.related_cases(
        session=session, actor=actor, case=case)]


@router.delete("/case-observables/{case_observable_id}", status_code=204)
def remove_observable(case_observable_id: int, session: DbSession,
                      actor: CurrentActor) -> None:
    """Take an indicator off a case (the indicator stays for the other cases)."""
    observable_service.remove_from_case(session=session, actor=actor,
                                        case_observable_id=case_observable_id)


@router.get("/observables", response_model=list[ObservableHitOut])
def search(session: DbSession, actor: CurrentActor,
           q: Annotated[str | None, Query(max_length=MAX_LENGTH)] = None,
           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ObservableHitOut]:
    """Indicators you may know, by value (defanged input accepted; prefix, and for a domain
    its URLs and e-mail addresses)."""
    return [ObservableHitOut(**vars(h)) for h in observable_service.search(
        session=session, actor=actor, q=q, limit=limit)]


@router.get("/observables/{observable_id}", response_model=ObservableOut)
def get_observable(observable_id: int, session: DbSession,
                   actor: CurrentActor) -> ObservableOut:
    """An indicator with the cases you see it in."""
    detail = observable_service.get_observable(session=session, actor=actor,
                                               observable_id=observable_id)
    return ObservableOut(id=detail.id, kind=detail.kind, value=detail.value,
                         display=detail.display, first_seen=detail.first_seen,
                         last_seen=detail.last_seen, shared_elsewhere=detail.shared_elsewhere,
                         cases=[SightingOut(**vars(s)) for s in detail.sightings])
