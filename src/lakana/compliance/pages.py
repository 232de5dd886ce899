"""HTML pages of the compliance domain: catalogs, versions, requirements, profiles, import.

Texts of the baseline are shown in the interface language (French or English); the
requirement tables filter live with htmx (the handler returns only the table then).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from lakana.compliance import service, spreadsheet
from lakana.compliance.api import profile_out
from lakana.compliance.permissions import CompliancePermission as P
from lakana.compliance.schemas import RequirementQuery
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import Forbidden, Invalid, LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter(prefix="/compliance")
IMPORT_KINDS = ("catalog", "profile", "spreadsheet")



def _table_context(base: str, query: RequirementQuery, rows: list[Any], total: int
                   ) -> dict[str, Any]:
    params = {k: v for k, v in query.model_dump(exclude={"limit"}).items()
              if v not in (None, "", 0)}

    def qs(**overrides: Any) -> str:
        merged = {k: v for k, v in {**params, **overrides}.items() if v not in (None, "", 0)}
        return "?" + urlencode(merged)

    return {"base": base, "query": query, "rows": rows, "total": total, "qs": qs,
            "next_offset": query.offset + query.limit
            if query.offset + query.limit < total else None,
            "prev_offset": max(query.offset - query.limit, 0) if query.offset else None}


@router.get("/catalogs")
def catalogs(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Every catalog with its versions, and the profiles."""
    found = service.list_catalogs(session=session, actor=actor)
    counts = service.requirement_counts(
        session=session, catalog_version_ids=[v.id for c in found for v in c.versions])
    profiles = [profile_out(session, actor, p)
                for p in service.list_profiles(session=session, actor=actor)]
    return render(request, "compliance/catalogs.html", {
        "catalogs": found, "counts": counts, "profiles": profiles,
        "can_manage": actor.can(P.CATALOG_MANAGE)})


@router.get("/catalog-versions/{catalog_version_id}")
def catalog_version(request: Request, catalog_version_id: int, session: DbSession,
                    actor: CurrentActor, query: Annotated[RequirementQuery, Query()]
                    ) -> Response:
    """A catalog version: its domains and requirements, searched and filtered live."""
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=catalog_version_id)
    rows, total = service.list_requirements(session=session, actor=actor,
                                            catalog_version_id=version.id, query=query)
    base = f"/compliance/catalog-versions/{version.id}"
    return render(request, "compliance/version.html", {
        "version": version, "domains": version.domains,
        **_table_context(base, query, rows, total)},
        fragment="compliance/_requirement_table.html")


@router.get("/requirements/{requirement_id}")
def requirement(request: Request, requirement_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """One requirement: statement, guidance, maturity scale, mappings, legal source."""
    found = service.get_requirement(session=session, actor=actor, requirement_id=requirement_id)
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=found.catalog_version_id)
    return render(request, "compliance/requirement.html", {"req": found, "version": version})


@router.get("/profiles")
def profiles(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Every profile with its resolved size against its baseline."""
    found = [profile_out(session, actor, p)
             for p in service.list_profiles(session=session, actor=actor)]
    return render(request, "compliance/profiles.html", {
        "profiles": found, "can_manage": actor.can(P.CATALOG_MANAGE)})


@router.get("/profiles/{profile_id}")
def profile(request: Request, profile_id: int, session: DbSession, actor: CurrentActor,
            query: Annotated[RequirementQuery, Query()]) -> Response:
    """A profile: counts, the difference from its baseline, its resolved requirements."""
    found = service.get_profile(session=session, actor=actor, profile_id=profile_id)
    detail = profile_out(session, actor, found, detail=True)
    rows, total = service.list_profile_requirements(session=session, actor=actor,
                                                    profile_id=found.id, query=query)
    base = f"/compliance/profiles/{found.id}"
    return render(request, "compliance/profile.html", {
        "profile": detail, "domains": found.base_version.domains,
        **_table_context(base, query, rows, total)},
        fragment="compliance/_requirement_table.html")


def _import_page(request: Request, context: dict[str, Any], status_code: int = 200
                 ) -> Response:
    defaults: dict[str, Any] = {"kind": "catalog", "catalog_id": "", "version": "", "error": None,
                "problems": []}
    return render(request, "compliance/import.html", {**defaults, **context},
                  status_code=status_code)


@router.get("/import")
def import_form(request: Request, actor: CurrentActor) -> Response:
    """Upload an OSCAL catalog or profile, or a spreadsheet."""
    actor.require(P.CATALOG_MANAGE)
    return _import_page(request, {})


def _run_import(session: Any, actor: Any, form: FormData, content: bytes, filename: str,
                limit: int) -> str:
    kind = str(form.get("kind", "catalog"))
    if kind == "profile":
        found, _created = service.import_profile(session=session, actor=actor, content=content)
        return f"/compliance/profiles/{found.id}"
    if kind == "spreadsheet":
        version, _created = spreadsheet.import_spreadsheet(
            session=session, actor=actor, content=content, filename=filename,
            catalog_id=str(form.get("catalog_id", "")).strip(),
            version=str(form.get("version", "")).strip(), max_bytes=limit)
    else:
        version, _created = service.import_catalog(session=session, actor=actor,
                                                   content=content)
    return f"/compliance/catalog-versions/{version.id}"


@router.post("/import")
def import_submit(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Import the uploaded file, then show it; or show the problems (path or row/column)."""
    actor.require(P.CATALOG_MANAGE)
    kind = str(form.get("kind", "catalog"))
    context: dict[str, Any] = {"kind": kind if kind in IMPORT_KINDS else "catalog",
                               "catalog_id": str(form.get("catalog_id", "")),
                               "version": str(form.get("version", ""))}
    limit = get_settings(request).max_upload_bytes
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        location = _run_import(session, actor, form, upload.file.read(limit + 1),
                               upload.filename or "", limit)
    except LakanaError as exc:
        if isinstance(exc, Forbidden):
            raise
        session.rollback()
        context["error"] = _(exc.message, **exc.params)
        context["problems"] = [
            {"where": e.get("path") or e.get("row"), "column": e.get("column"),
             "message": translate(e["message"], **e.get("params", {}))} for e in exc.errors]
        return _import_page(request, context, status_code=exc.status)
    return RedirectResponse(location, status_code=303)
