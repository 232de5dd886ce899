"""HTML pages of indicators: a case's indicators (with the paste form), one indicator and
the cases where it appeared, and the search.

Values are always shown defanged and never as links, so that nobody opens a malicious
address by mistake. A paste keeps its valid lines and shows the refused ones again, each
with its line number and reason, for correction. Scope comes from the services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from lakana.core import i18n
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, TooLarge
from lakana.core.plugins import institution_choices
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import access, observable_service
from lakana.csirt.models import Case
from lakana.csirt.observables import KIND_LABELS, MAX_LENGTH, Kind, LineError, kind_label
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.tlp import ORDER

router = APIRouter(prefix="/csirt")

HELPERS: dict[str, Any] = {"kind_label": kind_label, "kinds": list(Kind),
                           "kind_labels": KIND_LABELS, "tlps": [t.value for t in ORDER]}



def _language(request: Request) -> str:
    return str(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE))


def _line_errors(request: Request, errors: list[LineError]) -> list[dict[str, Any]]:
    """Refused lines with their reason in the page's language."""
    with i18n.use_language(_language(request)):
        return [{"line": e.line, "text": e.text,
                 "message": i18n.translate(e.error.message, **e.error.params)}
                for e in errors]


def _names(session: Any) -> dict[int, str]:
    return {ident: text.split(" — ", 1)[0] for ident, text in institution_choices(session)}


def _case_page(request: Request, session: Any, actor: Actor, case: Case, *,
               values: dict[str, Any] | None = None, line_errors: list[dict[str, Any]] | None
               = None, error: str | None = None, added: int | None = None,
               status_code: int = 200) -> Response:
    return render(request, "csirt/observables/case.html", {
        "case": case,
        "items": observable_service.for_case(session=session, actor=actor, case=case),
        "related": observable_service.related_cases(session=session, actor=actor, case=case),
        "can_add": actor.can(CsirtPermission.CASE_CONTRIBUTE),
        "can_remove": actor.can(CsirtPermission.CASE_MANAGE),
        "values": values or {"tlp": case.tlp, "is_ioc": True}, "line_errors": line_errors or [],
        "error": error, "added": added, "errors": {}, "max_length": MAX_LENGTH, **HELPERS},
        status_code=status_code)


@router.get("/cases/{case_id}/observables")
def case_observables(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                     added: Annotated[int | None, Query(ge=0, le=100000)] = None) -> Response:
    """A case's indicators (defanged), the form to paste more, and related cases."""
    case = access.get_case(session, actor, case_id)
    return _case_page(request, session, actor, case, added=added)


@router.post("/cases/{case_id}/observables")
def add_observables(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Add a paste of indicators: valid lines are kept, refused ones shown for correction."""
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_CONTRIBUTE)
    text, kind = str(form.get("text", "")), str(form.get("kind", "")).strip()
    label = str(form.get("tlp", "")).strip() or case.tlp
    is_ioc, comment = bool(form.get("is_ioc")), str(form.get("comment", ""))
    values: dict[str, Any] = {"text": text, "kind": kind, "tlp": label, "is_ioc": is_ioc,
                              "comment": comment}
    try:
        result = observable_service.add_many(
            session=session, actor=actor, case_id=case.id, text=text, kind=kind or None,
            tlp=label, is_ioc=is_ioc, comment=comment)
    except (Invalid, TooLarge, Conflict) as exc:
        session.rollback()
        case = access.get_case(session, actor, case_id)
        with i18n.use_language(_language(request)):
            line_errors = [{"line": e["line"], "text": e.get("value", ""),
                            "message": i18n.translate(str(e["message"]),
                                                      **e.get("params", {}))}
                           for e in exc.errors if "line" in e]
            message = i18n.translate(exc.message, **exc.params)
        return _case_page(request, session, actor, case, values=values,
                          line_errors=line_errors, error=message, status_code=exc.status)
    if not result.rejected:
        return RedirectResponse(f"/csirt/cases/{case.id}/observables?added={result.created}",
                                status_code=303)
    # Keep only the refused lines in the box, so that they can be corrected and sent again.
    values["text"] = "\n".join(e.text for e in result.rejected)
    return _case_page(request, session, actor, case, values=values,
                      line_errors=_line_errors(request, result.rejected),
                      added=result.created)


@router.post("/case-observables/{case_observable_id}/delete")
def remove_observable(request: Request, case_observable_id: int, session: DbSession,
                      actor: CurrentActor) -> Response:
    """Take an indicator off a case."""
    case = observable_service.remove_from_case(session=session, actor=actor,
                                               case_observable_id=case_observable_id)
    return RedirectResponse(f"/csirt/cases/{case.id}/observables", status_code=303)


@router.get("/observables")
def search(request: Request, session: DbSession, actor: CurrentActor,
           q: Annotated[str | None, Query(max_length=MAX_LENGTH)] = None) -> Response:
    """Find indicators by value (defanged input accepted)."""
    hits = observable_service.search(session=session, actor=actor, q=q)
    return render(request, "csirt/observables/search.html", {
        "q": q or "", "hits": hits, **HELPERS})


@router.get("/observables/{observable_id}")
def observable_detail(request: Request, observable_id: int, session: DbSession,
                      actor: CurrentActor) -> Response:
    """One indicator: where it appeared, among the cases the person sees."""
    detail = observable_service.get_observable(session=session, actor=actor,
                                               observable_id=observable_id)
    return render(request, "csirt/observables/detail.html", {
        "o": detail, "names": _names(session), "national": actor.is_national,
        **HELPERS})
