"""HTML pages of MISP exchange: a case's event as a download, and the import form for the
centre's analysts (a file, an optional institution; the result lists the cases created or
completed and the attributes skipped). Scope and permissions come from :mod:`misp`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from lakana.core import i18n
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Forbidden, Invalid, LakanaError
from lakana.core.plugins import institution_choices
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import misp
from lakana.csirt.misp_api import import_out
from lakana.csirt.permissions import CsirtPermission

router = APIRouter(prefix="/csirt")



def _language(request: Request) -> str:
    return str(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE))


@router.get("/cases/{case_id}/misp.json")
def download_misp(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """The case as a MISP event file (refused for a case labelled AMBER+STRICT or RED)."""
    doc = misp.export_case(session=session, actor=actor, case_id=case_id)
    return Response(misp.export_json(doc), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{misp.export_filename(case_id, doc)}"',
        "X-Content-Type-Options": "nosniff"})


def _page(request: Request, session: Any, context: dict[str, Any], status_code: int = 200
          ) -> Response:
    defaults: dict[str, Any] = {"institution_id": None, "skip_invalid": False, "error": None,
                                "problems": [], "result": None,
                                "institutions": institution_choices(session)}
    return render(request, "csirt/misp/import.html", {**defaults, **context},
                  status_code=status_code)


@router.get("/misp/import")
def import_form(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Upload a MISP event file (the centre)."""
    actor.require(CsirtPermission.COORDINATE)
    return _page(request, session, {})


def _institution(form: FormData) -> int | None:
    text = str(form.get("institution_id", "")).strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid("The institution %(id)s does not exist.", id=text[:20])
    return int(text)


@router.post("/misp/import")
def import_submit(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Import the uploaded file and show what it gave, or the problems found (nothing is
    imported then)."""
    actor.require(CsirtPermission.COORDINATE)
    skip_invalid = bool(form.get("skip_invalid"))
    context: dict[str, Any] = {"skip_invalid": skip_invalid,
                               "institution_id": str(form.get("institution_id", "")).strip()}
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        result = misp.import_events(session=session, actor=actor,
                                    data=upload.file.read(misp.MAX_BYTES + 1),
                                    institution_id=_institution(form),
                                    skip_invalid=skip_invalid)
    except LakanaError as exc:
        if isinstance(exc, Forbidden):
            raise
        session.rollback()
        with i18n.use_language(_language(request)):
            context["error"] = i18n.translate(exc.message, **exc.params)
            context["problems"] = [
                {"where": e.get("field", ""), "type": e.get("type", ""),
                 "value": e.get("value", ""),
                 "message": i18n.translate(str(e["message"]), **e.get("params", {}))}
                for e in exc.errors]
        return _page(request, session, context, status_code=exc.status)
    with i18n.use_language(_language(request)):
        context["result"] = import_out(result)
    return _page(request, session, context)
