"""HTML pages of advisories: public (``/advisories``, no account, TLP:CLEAR published only)
and staff (``/csirt/advisories``: list, write, publish, revise, download the signed CSAF).

The form takes lists one item a line (no script needed): CVEs separated by commas or lines;
products ``vendor | product | affected versions | fixed versions``; remediations
``category | what to do | URL``; references ``URL | title``. A refused form comes back with
what was typed and the reasons (422, 409); a schema failure at publication lists the JSON
paths of the CSAF document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import Conflict, Invalid, LakanaError, NotFound
from lakana.core.i18n import N_, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect, validation_message
from lakana.core.web.forms import Form, text_field
from lakana.core.web.templating import render
from lakana.csirt import advisories as service
from lakana.csirt import csaf
from lakana.csirt.advisories import (
    AdvisoryCreate,
    AdvisoryQuery,
    AdvisoryRevise,
    AdvisoryUpdate,
)
from lakana.csirt.advisory_api import artefact_response
from lakana.csirt.advisory_models import Advisory
from lakana.csirt.permissions import CsirtPermission as P

router = APIRouter(prefix="/csirt")
public_router = APIRouter()

TEXT_FIELDS = ("title_fr", "title_en", "summary_fr", "summary_en", "details_fr", "details_en",
               "audience", "tlp", "severity", "cves", "products", "remediations", "references",
               "case_id", "revision_summary")
NOTICES = {"created": N_("The draft advisory was saved."),
           "saved": N_("The draft advisory was saved."),
           "published": N_("The advisory was published and signed."),
           "revised": N_("The revision was published and signed.")}
HELPERS: dict[str, Any] = {
    "audience_labels": service.AUDIENCE_LABELS, "severity_labels": service.SEVERITY_LABELS,
    "remediation_labels": service.REMEDIATION_LABELS, "status_labels": service.STATUS_LABELS,
    "advisory_tlps": ["clear", "green", "amber"],
}



# --- form <-> values --------------------------------------------------------------------------


def _rows(text: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) > len(names):  # a "|" inside the last column belongs to it
                parts = [*parts[:len(names) - 1], " | ".join(parts[len(names) - 1:])]
            rows.append(dict(zip(names, parts, strict=False)))
    return rows


PRODUCT_COLUMNS = ("vendor", "product", "affected", "fixed")
REMEDIATION_COLUMNS = ("category", "details", "url")
REFERENCE_COLUMNS = ("url", "summary")


def form_payload(values: dict[str, str]) -> dict[str, Any]:
    """The service's input from the form's texts."""
    data: dict[str, Any] = {k: values[k] for k in (
        "title_fr", "title_en", "summary_fr", "summary_en", "details_fr", "details_en",
        "audience", "tlp", "severity") if k in values}
    data["cves"] = [c for c in values.get("cves", "").replace(",", "\n").split() if c]
    data["products"] = _rows(values.get("products", ""), PRODUCT_COLUMNS)
    data["remediations"] = [r | {"url": r.get("url") or None} for r in
                            _rows(values.get("remediations", ""), REMEDIATION_COLUMNS)]
    data["references"] = _rows(values.get("references", ""), REFERENCE_COLUMNS)
    case = values.get("case_id", "")
    data["case_id"] = int(case) if case.isdigit() else (case or None)
    if values.get("revision_summary"):
        data["revision_summary"] = values["revision_summary"]
    return data


def _lines(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return "\n".join(" | ".join(str(r.get(c) or "") for c in columns).rstrip(" |")
                     for r in rows)


def values_of(advisory: Advisory) -> dict[str, str]:
    """The form's texts for an advisory."""
    values = {k: str(getattr(advisory, k) or "") for k in TEXT_FIELDS[:9]}
    values["cves"] = ", ".join(advisory.cves or [])
    values["products"] = _lines(advisory.products or [], PRODUCT_COLUMNS)
    values["remediations"] = _lines(advisory.remediations or [], REMEDIATION_COLUMNS)
    values["references"] = _lines(advisory.references or [], REFERENCE_COLUMNS)
    values["case_id"] = str(advisory.case_id or "")
    return values


def _field_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else "form"
        line = f" ({_('line %(n)s', n=int(item['loc'][1]) + 1)})" \
            if len(item.get("loc", ())) > 1 and isinstance(item["loc"][1], int) else ""
        found[key] = f"{found.get(key, '')} {validation_message(dict(item))}{line}".strip()
    return found


def _problems(exc: LakanaError) -> tuple[dict[str, str], list[dict[str, str]]]:
    fields = {str(e["field"]): translate(str(e["message"])) for e in exc.errors
              if "field" in e}
    paths = [{"path": str(e["path"]), "message": str(e["message"])} for e in exc.errors
             if "path" in e]
    return fields, paths


# --- public -----------------------------------------------------------------------------------

@public_router.get("/advisories")
def public_list(request: Request, session: DbSession,
                offset: Annotated[int, Query(ge=0, le=100000)] = 0) -> Response:
    """Published public advisories (TLP:CLEAR), newest first; no account needed."""
    rows, total = service.list_public(session=session, limit=50, offset=offset)
    return render(request, "csirt/advisories/public_list.html",
                  {"advisories": rows, "total": total, "offset": offset, **HELPERS})


@public_router.get("/advisories/{tracking_id}")
def public_detail(tracking_id: str, request: Request, session: DbSession) -> Response:
    """One public advisory, in French (and English when written)."""
    advisory = service.get_public(session=session, tracking_id=tracking_id)
    return render(request, "csirt/advisories/public_detail.html",
                  {"advisory": advisory, "csaf_path": service.public_path(advisory),
                   **HELPERS})


# --- staff ------------------------------------------------------------------------------------

@router.get("/advisories")
def staff_list(request: Request, session: DbSession, actor: CurrentActor,
               query: Annotated[AdvisoryQuery, Query()]) -> Response:
    """Every advisory the person reads, institutions' included; drafts for the centre."""
    rows, total = service.list_advisories(session=session, actor=actor, query=query)
    return render(request, "csirt/advisories/list.html",
                  {"advisories": rows, "total": total, "query": query,
                   "can_coordinate": actor.can(P.COORDINATE), **HELPERS})


def _form_page(request: Request, values: dict[str, str], *, advisory: Advisory | None = None,
               errors: dict[str, str] | None = None, problem: str | None = None,
               paths: list[dict[str, str]] | None = None, status_code: int = 200) -> Response:
    return render(request, "csirt/advisories/form.html",
                  {"values": values, "advisory": advisory, "errors": errors or {},
                   "problem": problem, "paths": paths or [], **HELPERS},
                  status_code=status_code)


@router.get("/advisories/new")
def new_form(request: Request, actor: CurrentActor) -> Response:
    """The form of a new advisory (the centre)."""
    actor.require(P.COORDINATE)
    return _form_page(request, {"audience": "public", "tlp": "clear", "severity": "medium"})


def _submit(request: Request, values: dict[str, str], advisory: Advisory | None,
            save: Callable[[dict[str, Any]], Advisory], done: str) -> Response:
    try:
        saved = save(form_payload(values))
    except ValidationError as exc:
        return _form_page(request, values, advisory=advisory, errors=_field_errors(exc),
                          problem=_("Please correct the fields marked below."),
                          status_code=422)
    except LakanaError as exc:
        if isinstance(exc, Invalid | Conflict):
            request.state.db_session.rollback()
            fields, paths = _problems(exc)
            return _form_page(request, values, advisory=advisory, errors=fields, paths=paths,
                              problem=_(exc.message, **exc.params), status_code=exc.status)
        raise
    return redirect(request, f"/csirt/advisories/{saved.id}?done={done}")


@router.post("/advisories/new")
def create(request: Request, session: DbSession, actor: CurrentActor, form: Form) -> Response:
    """Save a new draft."""
    actor.require(P.COORDINATE)
    values = {k: text_field(form, k) for k in TEXT_FIELDS}
    return _submit(request, values, None, lambda data: service.create_advisory(
        session=session, actor=actor, data=AdvisoryCreate.model_validate(data)), "created")


def _detail(request: Request, advisory: Advisory, actor: Any, *, notice: str | None = None,
            problem: str | None = None, paths: list[dict[str, str]] | None = None,
            status_code: int = 200) -> Response:
    return render(request, "csirt/advisories/detail.html", {
        "advisory": advisory, "notice": notice, "problem": problem, "paths": paths or [],
        "csaf_file": csaf.file_name(advisory.tracking_id),
        "can_coordinate": actor.can(P.COORDINATE), **HELPERS}, status_code=status_code)


@router.get("/advisories/{advisory_id}")
def detail(advisory_id: int, request: Request, session: DbSession, actor: CurrentActor,
           done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One advisory, with its revisions, hashes and signature."""
    advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    return _detail(request, advisory, actor, notice=NOTICES.get(done or ""))


@router.get("/advisories/{advisory_id}/edit")
def edit_form(advisory_id: int, request: Request, session: DbSession,
              actor: CurrentActor) -> Response:
    """Edit a draft, or write a revision of a published advisory (the centre)."""
    advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    actor.require(P.COORDINATE)
    return _form_page(request, values_of(advisory), advisory=advisory)


@router.post("/advisories/{advisory_id}/edit")
def edit(advisory_id: int, request: Request, session: DbSession, actor: CurrentActor,
         form: Form) -> Response:
    """Save a draft, or publish a revision of a published advisory."""
    advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    actor.require(P.COORDINATE)
    values = {k: text_field(form, k) for k in TEXT_FIELDS}
    version = text_field(form, "version")
    number = int(version) if version.isdigit() else None
    if advisory.status == "published":
        return _submit(request, values, advisory, lambda data: service.revise(
            session=session, actor=actor, settings=get_settings(request),
            advisory_id=advisory_id,
            data=AdvisoryRevise.model_validate(data | {"version": number})), "revised")
    return _submit(request, values, advisory, lambda data: service.update_advisory(
        session=session, actor=actor, advisory_id=advisory_id,
        data=AdvisoryUpdate.model_validate(
            {k: v for k, v in data.items() if k != "revision_summary"} | {"version": number})),
        "saved")


@router.post("/advisories/{advisory_id}/publish")
def publish(advisory_id: int, request: Request, session: DbSession, actor: CurrentActor,
            form: Form) -> Response:
    """Publish a draft; a schema failure shows the CSAF paths and publishes nothing."""
    advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    version = text_field(form, "version")
    try:
        service.publish(session=session, actor=actor, settings=get_settings(request),
                        advisory_id=advisory_id,
                        version=int(version) if version.isdigit() else None)
    except (Invalid, Conflict) as exc:
        session.rollback()
        advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
        _fields, paths = _problems(exc)
        return _detail(request, advisory, actor, problem=_(exc.message, **exc.params),
                       paths=paths, status_code=exc.status)
    return redirect(request, f"/csirt/advisories/{advisory.id}?done=published")


@router.get("/advisories/{advisory_id}/csaf/{csaf_file}")
def download(advisory_id: int, csaf_file: str, request: Request, session: DbSession,
             actor: CurrentActor) -> Response:
    """The CSAF document (``<tracking id>.json``; a draft's is an unsigned preview) or, once
    published, its ``.asc``, ``.sha256`` and ``.sha512`` (staff: any TLP)."""
    advisory, data, published = service.csaf_bytes(
        session=session, actor=actor, settings=get_settings(request), advisory_id=advisory_id)
    name = csaf.file_name(advisory.tracking_id)
    suffix = csaf_file.removeprefix(name)
    if not csaf_file.startswith(name) or suffix not in ("", ".asc", ".sha256", ".sha512"):
        raise NotFound("No such file.")
    if suffix == "" and not published:
        response = Response(data, media_type="application/json")
    else:
        response = artefact_response(advisory, suffix, name)
    response.headers["Content-Disposition"] = f'attachment; filename="{csaf_file}"'
    return response
