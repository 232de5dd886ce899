"""HTML pages of statutory deadlines and hand-overs.

* ``POST /csirt/clocks/{clock_id}/met`` — the "mark met" form of the case page's deadline
  panel (``csirt/clocks/_panel.html``), back to the case page;
* ``GET /csirt/clocks/overdue`` — overdue deadlines of the cases the reader sees;
* ``GET /csirt/cases/{case_id}/handover/{dpa|referral}`` (and ``.pdf``) — hand-over
  reports; ``POST`` on the same path flags, unflags or marks the hand-over done (the form of
  ``csirt/clocks/_handover_panel.html``), back to the case page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.i18n import current_language
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import clocks, handover
from lakana.registry import service as registry_service

router = APIRouter(prefix="/csirt")



def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


@router.post("/clocks/{clock_id}/met")
def mark_met(request: Request, clock_id: int, session: DbSession, actor: CurrentActor,
             form: Form) -> Response:
    """Mark a manual deadline met, then go back to the case."""
    clock = clocks.mark_met(session=session, actor=actor, clock_id=clock_id,
                            note=str(form.get("note", "") or ""),
                            attachment_id=_int(form.get("attachment_id")))
    return redirect(request, f"/csirt/cases/{clock.case_id}")


@router.get("/clocks/overdue")
def overdue(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Overdue statutory deadlines of the cases the reader sees."""
    items = clocks.overdue(session=session, actor=actor, language=current_language())
    names = dict(registry_service.institution_choices(session=session))
    return render(request, "csirt/clocks/overdue.html", {"items": items, "names": names})


def _page(request: Request, report: handover.HandoverReport) -> Response:
    return render(request, "csirt/clocks/handover_page.html",
                  handover.report_context(report))


def _handover_routes(kind: str) -> None:
    """Register the hand-over pages of one kind (explicit paths, no free parameter)."""
    flag = handover.flag_dpa_notice if kind == "dpa" else handover.flag_cybercrime_referral
    mark = handover.mark_dpa_notified if kind == "dpa" else handover.mark_referred

    def page(request: Request, case_id: int, session: DbSession,
             actor: CurrentActor) -> Response:
        return _page(request, handover.build_report(session=session, actor=actor,
                                                    case_id=case_id, kind=kind))

    def pdf(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
        data, name = handover.report_pdf(session=session, actor=actor, case_id=case_id,
                                         kind=kind)
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def change(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
               form: Form) -> Response:
        action = str(form.get("action", "") or "")
        version = _int(form.get("version"))
        if action in ("flag", "unflag"):
            flag(session=session, actor=actor, case_id=case_id, required=action == "flag",
                 version=version)
        elif action == "done":
            mark(session=session, actor=actor, case_id=case_id, version=version)
        else:
            # The case is looked up first, so that an outsider still gets 404, not 422.
            handover.check_can_hand_over(session=session, actor=actor, case_id=case_id)
            raise Invalid("Unknown action %(value)s.", value=action[:20])
        return redirect(request, f"/csirt/cases/{case_id}")

    base = f"/cases/{{case_id}}/handover/{kind}"
    router.add_api_route(f"{base}.pdf", pdf, methods=["GET"])
    router.add_api_route(base, page, methods=["GET"])
    router.add_api_route(base, change, methods=["POST"])


for _kind in handover.KINDS:
    _handover_routes(_kind)
