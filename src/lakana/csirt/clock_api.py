"""JSON API of statutory deadlines and hand-overs (mounted under ``/api/v1``).

Hand-over reports are served as documents: ``.../handover/{dpa|referral}`` answers the
HTML report, ``....pdf`` the PDF.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lakana.core import i18n
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.csirt import clocks, handover
from lakana.csirt.models import Case

router = APIRouter(prefix="/csirt", tags=["csirt: deadlines and hand-over"])


class ClockOut(BaseModel):
    """A statutory deadline of a case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    regulation: str
    clock: str
    title: str
    regulation_title: str
    source: str
    starts_at: dt.datetime
    due_at: dt.datetime
    met_at: dt.datetime | None
    met_by: str | None
    met_note: str
    state: Literal["running", "met", "met_late", "overdue"]
    delay: str
    markable: bool


class OverdueOut(BaseModel):
    """An overdue deadline with its case."""

    case_id: int
    reference: str
    case_title: str
    institution_id: int | None
    clock: ClockOut


class MarkMetIn(BaseModel):
    """How a manual deadline was met."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)
    attachment_id: int | None = None


class FlagIn(BaseModel):
    """Whether a hand-over is needed, with the case's version."""

    model_config = ConfigDict(extra="forbid")

    required: bool = True
    version: int | None = None


class DoneIn(BaseModel):
    """When a hand-over was done (now by default), with the case's version."""

    model_config = ConfigDict(extra="forbid")

    at: dt.datetime | None = None
    version: int | None = None


class HandoverOut(BaseModel):
    """The hand-over flags of a case."""

    case_id: int
    version: int
    dpa_notice_required: bool
    dpa_notified_at: dt.datetime | None
    cybercrime_referral: bool
    referred_at: dt.datetime | None


def _handover_out(case: Case) -> HandoverOut:
    return HandoverOut(case_id=case.id, version=case.version,
                       dpa_notice_required=case.dpa_notice_required,
                       dpa_notified_at=case.dpa_notified_at,
                       cybercrime_referral=case.cybercrime_referral,
                       referred_at=case.referred_at)


@router.get("/cases/{case_id}/clocks", response_model=list[ClockOut])
def case_clocks(case_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """The statutory deadlines of a case, soonest first, with their state."""
    return clocks.list_for_case(session=session, actor=actor, case_id=case_id,
                                language=i18n.current_language())


@router.post("/clocks/{clock_id}/met", response_model=ClockOut)
def mark_met(clock_id: int, body: MarkMetIn, session: DbSession, actor: CurrentActor) -> Any:
    """Mark a manual deadline met (focal points of the case's institution and analysts)."""
    clock = clocks.mark_met(session=session, actor=actor, clock_id=clock_id, note=body.note,
                            attachment_id=body.attachment_id)
    views = clocks.list_for_case(session=session, actor=actor, case_id=clock.case_id,
                                 language=i18n.current_language())
    return next(v for v in views if v.id == clock.id)


@router.get("/clocks/overdue", response_model=list[OverdueOut])
def overdue_clocks(session: DbSession, actor: CurrentActor) -> Any:
    """Overdue deadlines of the cases the caller sees, most overdue first."""
    return [OverdueOut(case_id=o.case_id, reference=o.reference, case_title=o.case_title,
                       institution_id=o.institution_id,
                       clock=ClockOut.model_validate(o.clock))
            for o in clocks.overdue(session=session, actor=actor)]


def _handover_routes(kind: str) -> None:
    """Register the hand-over routes of one kind (``dpa`` or ``referral``): one explicit
    path each, so that no free-text path parameter is involved."""
    flag = handover.flag_dpa_notice if kind == "dpa" else handover.flag_cybercrime_referral
    mark = handover.mark_dpa_notified if kind == "dpa" else handover.mark_referred
    what = ("the notice to the data protection authority (APDP)" if kind == "dpa"
            else "the referral to the judicial police (cybercrime)")

    def flag_route(case_id: int, body: FlagIn, session: DbSession,
                   actor: CurrentActor) -> HandoverOut:
        return _handover_out(flag(session=session, actor=actor, case_id=case_id,
                                  required=body.required, version=body.version))

    def done_route(case_id: int, body: DoneIn, session: DbSession,
                   actor: CurrentActor) -> HandoverOut:
        return _handover_out(mark(session=session, actor=actor, case_id=case_id, at=body.at,
                                  version=body.version))

    def pdf_route(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
        data, name = handover.report_pdf(session=session, actor=actor, case_id=case_id,
                                         kind=kind)
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def html_route(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
        report = handover.build_report(session=session, actor=actor, case_id=case_id,
                                       kind=kind)
        return HTMLResponse(handover.render_document(report))

    base = f"/cases/{{case_id}}/handover/{kind}"
    router.add_api_route(base, flag_route, methods=["POST"], response_model=HandoverOut,
                         summary=f"Flag {what} as needed (or not)",
                         description="Analysts; send the case's version.")
    router.add_api_route(f"{base}/done", done_route, methods=["POST"],
                         response_model=HandoverOut, summary=f"Record {what} as done")
    router.add_api_route(f"{base}.pdf", pdf_route, methods=["GET"], response_class=Response,
                         summary=f"The report for {what}, as PDF")
    router.add_api_route(base, html_route, methods=["GET"], response_class=HTMLResponse,
                         summary=f"The report for {what}, as HTML")


for _kind in handover.KINDS:
    _handover_routes(_kind)
