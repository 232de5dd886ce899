"""HTML pages of the plan's monitoring: the national dashboard (each indicator against its
target for a year, with its traffic light, formula and reason), one indicator's page (its
history and the values entered by hand with their evidence, and the entry form), and the
snapshots frozen at each reporting date (with the form to freeze an ended period).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Forbidden, Invalid, LakanaError, NotFound
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.strategy import charts, measures, report, service, tracking
from lakana.strategy.monitoring_api import SnapshotRequest, shown
from lakana.strategy.pages import _labels
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

router = APIRouter(prefix="/strategy")

Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]
VALUE_FIELDS = ("year", "quarter", "value", "evidence")
#: The largest evidence file accepted with a manual value.
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


def _status_label(status: str) -> str:
    return _(measures.STATUS_NAMES.get(status, measures.STATUS_NAMES["none"]))


def _current_year() -> int:
    return min(max(dt.date.today().year, FIRST_YEAR), LAST_YEAR)


def _by_objective(items: list[dict[str, Any]], session: Session, actor: Actor
                  ) -> list[dict[str, Any]]:
    """The evaluations grouped under the plan's axes and objectives."""
    by_code = {i["code"]: i for i in items}
    plan = service.get_plan(session=session, actor=actor)
    return [{"code": axis.code, "title": axis.title, "objectives": [
        {"code": o.code, "title": o.title,
         "indicators": [by_code[i.code] for i in o.indicators if i.code in by_code]}
        for o in axis.objectives]} for axis in plan.axes]


@router.get("/dashboard")
def dashboard(request: Request, session: DbSession, actor: CurrentActor,
              year: Year = None) -> Response:
    """Every indicator against the year's target, by axis and objective."""
    chosen = year or _current_year()
    items = [shown(e.as_dict()) for e in measures.evaluate(session=session, actor=actor,
                                                           year=chosen)]
    counts = {status: sum(1 for i in items if i["status"] == status)
              for status in measures.STATUSES}
    plan = service.get_plan(session=session, actor=actor).model_dump(mode="json")
    return render(request, "strategy/dashboard.html", {
        "year": chosen, "axes": _by_objective(items, session, actor), "counts": counts,
        "charts": [report.chart_statuses(counts), report.chart_axes(plan["axes"], items)],
        **_labels(), "light_label": _status_label, "lights": measures.STATUSES,
        "figure": report.figure, "inputs_text": report.inputs_text})


def _indicator_page(request: Request, session: Session, actor: Actor, code: str, *,
                    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                    error: str | None = None, status_code: int = 200) -> Response:
    found, points = tracking.history(session=session, actor=actor, code=code)
    [current] = measures.evaluate(session=session, actor=actor, year=_current_year(),
                                  indicators=[found])
    live = [p for p in points if not p.frozen]
    chart = charts.history_line(
        [{"label": p.label, "value": p.value, "target": p.target} for p in live],
        title=_("History"), value_label=_("value"), target_label=_("target"),
        no_data=_("no data"), unit=found.unit, fmt=report.figure)
    return render(request, "strategy/indicator.html", {
        # The chart escapes every text it draws.
        "indicator": found, "history_chart": Markup(chart),
        "current": shown(current.as_dict()),
        "history": [{**vars(p), "reason_text": translate(p.reason, **p.reason_args)
                     if p.reason else ""} for p in points],
        "entered": tracking.values_of(session=session, actor=actor, code=code),
        "can_enter": actor.can(P.PLAN_MANAGE) and found.source_kind == "manual",
        "can_edit": actor.can(P.PLAN_MANAGE),
        "values": values or {"year": _current_year()}, "errors": errors or {},
        "error": error, **_labels(), "light_label": _status_label, "figure": report.figure},
        status_code=status_code)


@router.get("/indicators/{indicator_code}")
def indicator(request: Request, indicator_code: str, session: DbSession,
              actor: CurrentActor) -> Response:
    """One indicator: definition, source and formula, history, values entered by hand."""
    return _indicator_page(request, session, actor, indicator_code)


@router.post("/indicators/{indicator_code}/values")
def enter_value(request: Request, indicator_code: str, session: DbSession,
                actor: CurrentActor, form: Form) -> Response:
    """Record a manual value with its evidence, or show the page again with the problems."""
    actor.require(P.PLAN_MANAGE)
    values = {name: str(form.get(name, "")).strip() for name in VALUE_FIELDS}
    upload = form.get("file")
    data = b""
    name, media_type = "", None
    if isinstance(upload, UploadFile) and upload.filename:
        data = upload.file.read(MAX_EVIDENCE_BYTES + 1)
        name, media_type = upload.filename, upload.content_type
    try:
        if len(data) > MAX_EVIDENCE_BYTES:
            raise Invalid("The evidence file is larger than %(size)s MB.",
                          size=MAX_EVIDENCE_BYTES // (1024 * 1024))
        entry = tracking.ValueEntry(**{k: v for k, v in values.items()
                                       if v != "" or k == "evidence"})
        tracking.enter_value(session=session, actor=actor,
                             settings=request.app.state.settings, code=indicator_code,
                             data=entry, file_name=name, file_data=data, file_type=media_type)
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e.get("loc") else "value": validation_message(dict(e))
                  for e in exc.errors()}
        return _indicator_page(request, session, actor, indicator_code, values=values,
                               errors=errors, status_code=422)
    except LakanaError as exc:
        session.rollback()
        if isinstance(exc, Forbidden | NotFound):
            raise
        return _indicator_page(request, session, actor, indicator_code, values=values,
                               error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/strategy/indicators/{indicator_code}", status_code=303)


@router.get("/gantt")
def gantt(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The actions of each axis on a timeline 2026–2030, with their milestones and today."""
    plan = service.get_plan(session=session, actor=actor).model_dump(mode="json")
    today = dt.date.today()
    axes = [{"code": axis["code"], "title": axis["title"],
             "chart": report.chart_gantt([a for o in axis["objectives"] for a in o["actions"]],
                                         today, today_label=_("today"))}
            for axis in plan["axes"]]
    labels = _labels()
    key = charts.legend([(colour, labels["status_label"](status))
                         for status, colour in charts.ACTION_COLOURS.items()],
                        title=_("Colour key"))
    return render(request, "strategy/gantt.html", {
        "axes": axes, **labels, "key": Markup(key),  # the chart escapes every text it draws
        "legend": _("Bars: planned period of each action, coloured by status; diamonds: "
                    "milestones (filled when done); dashed line: today.")})


def _snapshots_page(request: Request, session: Session, actor: Actor, *,
                    error: str | None = None, values: dict[str, Any] | None = None,
                    status_code: int = 200) -> Response:
    return render(request, "strategy/snapshots.html", {
        "snapshots": [(s, tracking.verify_snapshot(s))
                      for s in tracking.list_snapshots(session=session, actor=actor)],
        "can_manage": actor.can(P.PLAN_MANAGE), "error": error,
        "values": values or {"kind": "quarterly", "year": _current_year()},
        **_labels()}, status_code=status_code)


@router.get("/snapshots")
def snapshots(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The snapshots frozen so far, and the form to freeze an ended period."""
    return _snapshots_page(request, session, actor)


@router.post("/snapshots")
def take_snapshot(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Freeze an ended quarter or year, or show the list again with the reason."""
    actor.require(P.PLAN_MANAGE)
    values = {name: str(form.get(name, "")).strip() for name in ("kind", "year", "quarter")}
    try:
        wanted = SnapshotRequest(kind=values["kind"], year=values["year"] or 0,
                                 quarter=values["quarter"] or None)
        tracking.take_snapshot(session=session, actor=actor, kind=wanted.kind,
                               year=wanted.year, quarter=wanted.quarter)
    except ValidationError as exc:
        return _snapshots_page(request, session, actor, values=values, status_code=422,
                               error="; ".join(validation_message(dict(e))
                                               for e in exc.errors()))
    except LakanaError as exc:
        session.rollback()
        if isinstance(exc, Forbidden):
            raise
        return _snapshots_page(request, session, actor, values=values,
                               error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse("/strategy/snapshots", status_code=303)
