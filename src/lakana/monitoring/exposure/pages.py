"""HTML pages of exposure monitoring (under ``/exposure``).

National dashboard (worst first; an institution's staff land on their own page), an
institution's exposure (score, trend, endpoints with their HTTP Observatory grade, open
findings, the PDF letter), findings (list, CSV, one finding with its evidence, explanation,
advice, triage form and "open a CSIRT case"), scans (list, "scan now" form, progress page
refreshed by htmx every 2 s while it runs) and the vulnerability feed imports.

Forms carry the CSRF token like every other form; a refused form comes back with the
reason (422, 409) and what was typed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Forbidden, Invalid, LakanaError, TooLarge
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render
from lakana.monitoring.exposure import exports, feeds, flows, service
from lakana.monitoring.exposure.api import (
    FEED_SOURCES,
    check_source,
    institution_names,
    progress_of,
)
from lakana.monitoring.exposure.checks.base import SEVERITY_ORDER
from lakana.monitoring.exposure.models import ExposureFinding
from lakana.monitoring.exposure.permissions import ExposurePermission as P
from lakana.monitoring.exposure.schemas import (
    LABELS,
    FindingQuery,
    FindingStatus,
    FindingTriage,
    ScanOut,
    ScanRequest,
)
from lakana.registry import service as registry_service

router = APIRouter(prefix="/exposure")

NOTICES = {"triaged": N_("The finding was updated."),
           "case": N_("A CSIRT case is open for this finding."),
           "imported": N_("The feed file was imported.")}
SEVERITIES = [str(s) for s in SEVERITY_ORDER]
HELPERS: dict[str, Any] = {"labels": LABELS, "issue_text": exports.issue_text,
                           "severities": SEVERITIES,
                           "statuses": [str(s) for s in FindingStatus],
                           "triage_statuses": ["open", "accepted", "false_positive"]}
RUNNING = ("queued", "running")





#: Trend chart geometry (SVG user units); colours are attributes, the CSP forbids styles.
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 360, 120, 24


def trend_chart(trend: Sequence[tuple[dt.datetime, float]]) -> dict[str, Any]:
    """The score history as SVG coordinates: 100 (worst) at the top, oldest on the left."""
    points = list(trend)[-60:]
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / (len(points) - 1) if len(points) > 1 else 0.0
    dots = [{"x": round(CHART_PAD + i * step, 1),
             "y": round(CHART_PAD + inner_h * (1 - max(0.0, min(score, 100.0)) / 100), 1),
             "label": f"{when:%Y-%m-%d}", "score": round(score, 1)}
            for i, (when, score) in enumerate(points)]
    return {"dots": dots, "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots),
            "width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD,
            "bottom": CHART_HEIGHT - CHART_PAD}


# --- dashboard and institutions ---------------------------------------------------------------

@router.get("")
def national(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The national exposure dashboard, worst first; institution staff go to their own page."""
    if not actor.can(P.NATIONAL_READ):
        if actor.institution_id is None:
            raise Forbidden("You are not allowed to do this (%(permission)s).",
                            permission=str(P.NATIONAL_READ))
        return redirect(request, f"/exposure/institutions/{actor.institution_id}")
    rows = service.national_exposure(session=session, actor=actor)
    return render(request, "exposure/national.html", {"rows": rows, **HELPERS})


@router.get("/institutions/{institution_id}")
def institution(institution_id: int, request: Request, session: DbSession,
                actor: CurrentActor) -> Response:
    """An institution's exposure: score, trend, endpoints and open findings."""
    exposure = service.institution_exposure(session=session, actor=actor,
                                            institution_id=institution_id)
    query = FindingQuery(institution_id=institution_id, status=FindingStatus.OPEN, limit=200)
    findings = exports.letter_items(service.list_findings(session=session, actor=actor,
                                                          query=query))
    return render(request, "exposure/institution.html", {
        "exposure": exposure, "items": findings, "chart": trend_chart(exposure.trend),
        "can_scan": actor.can(P.SCAN), **HELPERS})


@router.get("/institutions/{institution_id}/letter.pdf")
def letter(institution_id: int, request: Request, session: DbSession, actor: CurrentActor,
           lang: Annotated[str, Query(max_length=5)] = "fr") -> Response:
    """The PDF letter to the institution listing what to fix (French unless ``lang=en``)."""
    data, name = exports.institution_letter(session=session, actor=actor,
                                            env=request.app.state.jinja,
                                            institution_id=institution_id, language=lang)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- findings ---------------------------------------------------------------------------------

@router.get("/findings")
def findings(request: Request, session: DbSession, actor: CurrentActor,
             query: Annotated[FindingQuery, Query()]) -> Response:
    """Findings the person reads, filtered and paged."""
    rows = service.list_findings(session=session, actor=actor, query=query)
    total = service.count_findings(session=session, actor=actor, query=query)
    params = {k: v for k, v in query.model_dump(exclude={"limit", "offset"}).items()
              if v is not None}
    return render(request, "exposure/findings.html", {
        "items": exports.letter_items(rows), "total": total, "query": query,
        "names": institution_names(session) if actor.is_national else {},
        "csv_query": urlencode({k: str(v).lower() if isinstance(v, bool) else str(v)
                                for k, v in params.items()}),
        "checks": service.check_titles(), **HELPERS})


@router.get("/findings.csv")
def findings_csv(session: DbSession, actor: CurrentActor,
                 query: Annotated[FindingQuery, Query()]) -> Response:
    """The filtered findings as CSV."""
    text, name = exports.findings_csv(session=session, actor=actor, query=query,
                                      names=institution_names(session))
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _finding_page(request: Request, finding: ExposureFinding, actor: Actor, *,
                  notice: str | None = None, problem: str | None = None,
                  values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    item = exports.letter_items([finding])[0]
    return render(request, "exposure/finding.html", {
        "item": item, "finding": finding, "notice": notice, "problem": problem,
        "evidence": json.dumps(finding.evidence, indent=2, ensure_ascii=False,
                               sort_keys=True, default=str),
        "values": values or {"status": finding.status, "reason": finding.status_reason},
        "can_triage": actor.can(P.TRIAGE), **HELPERS}, status_code=status_code)


@router.get("/findings/{finding_id}")
def finding_detail(finding_id: int, request: Request, session: DbSession,
                   actor: CurrentActor,
                   done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One finding: evidence, explanation, advice, related requirements, triage."""
    finding = service.get_finding(session=session, actor=actor, finding_id=finding_id)
    return _finding_page(request, finding, actor, notice=NOTICES.get(done or ""))


@router.post("/findings/{finding_id}/triage")
def triage(finding_id: int, request: Request, session: DbSession, actor: CurrentActor,
           form: Form) -> Response:
    """Save a triage decision; a refused one comes back with the reason."""
    finding = service.get_finding(session=session, actor=actor, finding_id=finding_id)
    actor.require(P.TRIAGE)
    values = {"status": text_field(form, "status"), "reason": text_field(form, "reason")}
    try:
        data = FindingTriage.model_validate(values | {"version": text_field(form, "version")})
        service.triage_finding(session=session, actor=actor, finding_id=finding_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        finding = service.get_finding(session=session, actor=actor, finding_id=finding_id)
        return _finding_page(request, finding, actor, problem=problem, values=values,
                             status_code=status)
    return redirect(request, f"/exposure/findings/{finding.id}?done=triaged")


@router.post("/findings/{finding_id}/case")
def open_case(finding_id: int, request: Request, session: DbSession, actor: CurrentActor,
              form: Form) -> Response:
    """Open a CSIRT case for the finding, in one click."""
    finding = service.get_finding(session=session, actor=actor, finding_id=finding_id)
    actor.require(P.TRIAGE)
    flows.open_case(session=session, actor=actor, finding_id=finding.id)
    return redirect(request, f"/exposure/findings/{finding_id}?done=case")


# --- scans ------------------------------------------------------------------------------------

@router.get("/scans")
def scans(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Recent scans, newest first."""
    rows = [ScanOut.model_validate(s) for s in
            service.list_scans(session=session, actor=actor, limit=100)]
    return render(request, "exposure/scans.html", {
        "scans": rows, "names": institution_names(session), "progress": progress_of,
        "can_scan": actor.can(P.SCAN), **HELPERS})


def _scan_form(request: Request, session: DbSession, actor: Actor, *,
               values: dict[str, str] | None = None, problem: str | None = None,
               status_code: int = 200) -> Response:
    systems = registry_service.all_systems(session=session, actor=actor)
    institutions = [(i, n) for i, n in registry_service.institution_choices(session=session)
                    if actor.is_national or i == actor.institution_id]
    return render(request, "exposure/scan_new.html", {
        "institutions": institutions,
        "systems": [(s.id, f"{s.name} ({len(s.endpoints)})") for s in systems if s.endpoints],
        "values": values or {}, "problem": problem}, status_code=status_code)


@router.get("/scans/new")
def scan_form(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The "scan now" form: one institution or one system."""
    actor.require(P.SCAN)
    return _scan_form(request, session, actor)


@router.post("/scans/new")
def scan_now(request: Request, session: DbSession, actor: CurrentActor,
             form: Form) -> Response:
    """Queue the scan and show its progress page."""
    actor.require(P.SCAN)
    values = {"institution_id": text_field(form, "institution_id"),
              "system_id": text_field(form, "system_id")}
    try:
        data = ScanRequest.model_validate(values)
        scan = service.request_scan(session=session, actor=actor, data=data, trigger="ui")
    except (ValidationError, Invalid) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _scan_form(request, session, actor, values=values, problem=problem,
                          status_code=status)
    return redirect(request, f"/exposure/scans/{scan.id}")


@router.get("/scans/{scan_id}")
def scan_detail(scan_id: int, request: Request, session: DbSession,
                actor: CurrentActor) -> Response:
    """A scan's progress (refreshed every 2 s while it runs) and results per endpoint."""
    scan = ScanOut.model_validate(service.get_scan(session=session, actor=actor,
                                                   scan_id=scan_id))
    results = service.scan_results(session=session, actor=actor, scan_id=scan_id)
    return render(request, "exposure/scan.html", {
        "scan": scan, "results": results, "progress": progress_of(scan),
        "running": scan.status in RUNNING, "names": institution_names(session), **HELPERS},
        fragment="exposure/_scan_progress.html")


# --- feeds ------------------------------------------------------------------------------------

def _feeds_page(request: Request, session: DbSession, actor: Actor, *,
                notice: str | None = None, problem: str | None = None,
                problems: list[str] | None = None, status_code: int = 200) -> Response:
    return render(request, "exposure/feeds.html", {
        "imports": feeds.list_imports(session=session, actor=actor), "sources": FEED_SOURCES,
        "notice": notice, "problem": problem, "problems": problems or []},
        status_code=status_code)


@router.get("/feeds")
def feeds_page(request: Request, session: DbSession, actor: CurrentActor,
               done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The feed import form and the files imported."""
    actor.require(P.FEEDS_MANAGE)
    return _feeds_page(request, session, actor, notice=NOTICES.get(done or ""))


@router.post("/feeds")
def import_feed(request: Request, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Import the uploaded feed file; a malformed one is refused with its position."""
    actor.require(P.FEEDS_MANAGE)
    limit = get_settings(request).max_upload_bytes
    upload = form.get("file")
    try:
        source = check_source(text_field(form, "source"))
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            raise TooLarge("The request body is larger than %(size)s bytes.", size=limit)
        if not data:
            raise Invalid("The file is empty.")
        feeds.import_feed(session=session, actor=actor, source=source, data=data,
                          filename=upload.filename or "feed.json")
    except LakanaError as exc:
        session.rollback()
        problems = [_(str(e["message"]), **e.get("params", {})) for e in exc.errors
                    if "message" in e]
        return _feeds_page(request, session, actor, problem=_(exc.message, **exc.params),
                           problems=problems, status_code=exc.status)
    return redirect(request, "/exposure/feeds?done=imported")
