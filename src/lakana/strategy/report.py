"""The quarterly and annual follow-up reports of the national strategy to the Council of
Ministers, as a printable page and a PDF.

A report is drawn from one snapshot only (its frozen JSON: indicators' evaluations and the
plan as it stood), never from live data: printed twice, it shows the same figures. It names
the snapshot's label and digest and says whether the content still matches that digest; a
snapshot whose content was altered is flagged on the cover and above every section.
Downloads are ledgered.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy.orm import Session

from lakana.core import audit, i18n
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.errors import Invalid
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web import pdf
from lakana.core.web.templating import build_environment
from lakana.strategy import charts, gci, measures, tracking
from lakana.strategy.gci_schemas import ANSWER_LABELS, GciAnswer
from lakana.strategy.models import StrategySnapshot
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR, SOURCE_LABELS, STATUS_LABELS

TEMPLATES_DIR = Path(__file__).parent / "templates"
REPORT_PAGE = "strategy/report.html"
REPORT_PDF = "strategy/report_pdf.html"
FORMATS = ("pdf", "html")
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}

#: The words of each indicator status (the traffic light).
INDICATOR_STATUS_LABELS = measures.STATUS_NAMES
KIND_TITLES = {
    "quarterly": N_("Quarterly monitoring report of the National Cybersecurity Strategy "
                    "2026–2030"),
    "annual": N_("Annual monitoring report of the National Cybersecurity Strategy "
                 "2026–2030")}
#: Actions that are over: neither late nor overdue.
CLOSED = ("done", "cancelled")


def figure(value: float | int | None, decimals: int = 2) -> str:
    """A number as the report writes it, in the current language (French: narrow no-break
    space between thousands, decimal comma)."""
    if value is None:
        return "—"
    text = (f"{value:,.0f}" if float(value).is_integer()
            else f"{value:,.{decimals}f}".rstrip("0").rstrip("."))
    if i18n.current_language() == "en":
        return text
    return text.replace(",", "\u202f").replace(".", ",")


def inputs_text(inputs: Mapping[str, Any]) -> str:
    """A computed figure's inputs: ``212 / 300`` for a ratio, then the other counts."""
    rest = dict(inputs)
    parts: list[str] = []
    if "numerator" in rest and "denominator" in rest:
        parts.append(f"{_number_or_text(rest.pop('numerator'))} / "
                     f"{_number_or_text(rest.pop('denominator'))}")
    parts += [f"{input_label(key)} = {_number_or_text(value)}"
              for key, value in sorted(rest.items())]
    return "; ".join(parts)


def input_label(key: str) -> str:
    """An input's name in the report's language (``class:<id>``: a taxonomy class)."""
    if key.startswith("class:"):
        return _("class %(name)s", name=key.split(":", 1)[1])
    label = measures.INPUT_LABELS.get(key)
    return _(label) if label else key


def _number_or_text(value: Any) -> str:
    return figure(value) if isinstance(value, (int, float)) else str(value)


def _status_label(value: str) -> str:
    for key, label in STATUS_LABELS.items():
        if key.value == value:
            return _(label)
    return value


def _source_label(value: str) -> str:
    for key, label in SOURCE_LABELS.items():
        if key.value == value:
            return _(label)
    return value


def _reason(figure_: Mapping[str, Any]) -> str:
    reason = figure_.get("reason") or ""
    return i18n.translate(reason, **dict(figure_.get("reason_args") or {})) if reason else ""


def _formula(figure_: Mapping[str, Any]) -> str:
    formula = figure_.get("formula") or ""
    return i18n.translate(formula) if formula else ""


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _objective(objective: Mapping[str, Any], figures: Mapping[str, Mapping[str, Any]]
               ) -> dict[str, Any]:
    """An objective of the frozen plan with each indicator's frozen evaluation."""
    rows = []
    for indicator in objective.get("indicators", []):
        found = figures.get(indicator["code"])
        rows.append({"indicator": indicator, "figure": found or {
            "code": indicator["code"], "name": indicator["name"], "unit": indicator["unit"],
            "direction": indicator["direction"], "value": None, "target": None,
            "baseline": indicator.get("baseline_value"), "status": "none", "inputs": {},
            "reason": "", "reason_args": {}, "evidence": None, "formula": "",
            "source_kind": indicator["source_kind"],
            "source_key": indicator["source_key"]}})
    return {**objective, "rows": rows}


def _summary(actions: list[Mapping[str, Any]], statuses: list[str], period_end: dt.date
             ) -> dict[str, Any]:
    milestones = [m for a in actions for m in a.get("milestones", [])]
    due = [m for m in milestones if (_day(m["due_on"]) or dt.date.max) <= period_end]
    return {
        "indicators": Counter(statuses), "indicator_total": len(statuses),
        "actions": Counter(a["status"] for a in actions), "action_total": len(actions),
        "overdue": sum(1 for a in actions if a["status"] not in CLOSED
                       and (_day(a["ends_on"]) or period_end) < period_end),
        "budget_estimate": sum(int(a.get("budget_estimate") or 0) for a in actions),
        "budget_committed": sum(int(a.get("budget_committed") or 0) for a in actions),
        "milestones_due": len(due),
        "milestones_due_done": sum(1 for m in due if m.get("done_on")),
    }


def build_context(snapshot: StrategySnapshot, *, generated_at: dt.datetime | None = None
                  ) -> dict[str, Any]:
    """Everything the report shows, from the snapshot's frozen content alone."""
    content: Mapping[str, Any] = snapshot.content or {}
    figures = {f["code"]: f for f in content.get("indicators", [])}
    axes = []
    for axis in content.get("plan", {}).get("axes", []):
        objectives = [_objective(o, figures) for o in axis.get("objectives", [])]
        axes.append({**axis, "objectives": objectives,
                     "actions": [a for o in objectives for a in o.get("actions", [])]})
    actions = [a for axis in axes for a in axis["actions"]]
    period_end = _day(content.get("period_end")) or snapshot.period_end
    kind = str(content.get("kind") or snapshot.kind)
    return {
        "snapshot": {"label": content.get("label", snapshot.label), "kind": kind,
                     "period_start": content.get("period_start", ""),
                     "period_end": content.get("period_end", ""),
                     "digest": snapshot.digest, "taken_at": snapshot.taken_at,
                     "taken_by": snapshot.taken_by},
        "kind_title": KIND_TITLES.get(kind, KIND_TITLES["annual"]),
        "verified": tracking.verify_snapshot(snapshot),
        "generated_at": generated_at or utcnow(),
        "axes": axes,
        "figures": list(figures.values()),
        "summary": _summary(actions, [f.get("status", "none") for f in figures.values()],
                            period_end),
        "period_end": period_end,
        "gci": _gci(content.get("gci"), figures, content.get("plan", {})),
        **helpers(),
    }


def _gci(frozen: Mapping[str, Any] | None, figures: Mapping[str, Mapping[str, Any]],
         plan: Mapping[str, Any]) -> dict[str, Any] | None:
    """The GCI section: each pillar's score and answers as frozen, worded in the report's
    language, with the plan indicators mapped to it (``None`` for an older snapshot)."""
    if not frozen:
        return None
    mapped: dict[str, list[Mapping[str, Any]]] = {}
    for axis in plan.get("axes", []):
        for objective in axis.get("objectives", []):
            for indicator in objective.get("indicators", []):
                pillar = indicator.get("gci_pillar") or ""
                if pillar and indicator["code"] in figures:
                    mapped.setdefault(pillar, []).append(figures[indicator["code"]])
    return {"score": frozen.get("score", 0.0), "pillars": [
        {**p, "title": gci.pillar_title(p["code"]), "total": len(p.get("answers", [])),
         "indicators": mapped.get(p["code"], []),
         "answers": [{**a, "text": gci.question_text(a["code"]),
                      "answer_label": _(ANSWER_LABELS.get(GciAnswer(a["answer"]), a["answer"]))}
                     for a in p.get("answers", [])]}
        for p in frozen.get("pillars", [])]}


def helpers() -> dict[str, Any]:
    """Functions the report templates call while rendering (in the report's language)."""
    return {
        "figure": figure, "inputs_text": inputs_text, "reason_of": _reason,
        "formula_of": _formula, "action_status_label": _status_label,
        "source_label": _source_label,
        "indicator_status_label": lambda s: _(INDICATOR_STATUS_LABELS.get(
            s, INDICATOR_STATUS_LABELS["none"])),
        "chart_bars": chart_bars, "chart_statuses": chart_statuses,
        "chart_axes": chart_axes, "chart_gantt": chart_gantt,
    }


def _status_words() -> dict[str, str]:
    return {key: _(label) for key, label in INDICATOR_STATUS_LABELS.items()}


def chart_bars(rows: Sequence[Mapping[str, Any]]) -> Markup:
    """The indicators of ``rows`` (each with its ``figure``) against their targets, as SVG."""
    svg = charts.indicator_bars(
        [r["figure"] for r in rows], title=_("Indicators against their targets"),
        no_data=_("no data"), target_label=_("target"), lower_label=_("lower is better"),
        fmt=figure)
    return Markup(svg)  # the chart escapes every text it draws


def chart_statuses(counts: Mapping[str, int]) -> Markup:
    """How many indicators have each status, as a stacked SVG bar."""
    svg = charts.status_bar(counts, labels=_status_words(), title=_("Indicators by status"),
                            no_data=_("no data"))
    return Markup(svg)  # the chart escapes every text it draws


def chart_axes(axes: Sequence[Mapping[str, Any]], figures: Sequence[Mapping[str, Any]]) -> Markup:
    """Each axis's share of indicators per status and of actions done, as SVG."""
    svg = charts.axis_progress(
        axes, {f["code"]: f.get("status", "none") for f in figures},
        title=_("Progress by axis"), indicators_label=_("Indicators"),
        actions_label=_("Actions done"), no_data=_("no data"))
    return Markup(svg)  # the chart escapes every text it draws


def chart_gantt(actions: Sequence[Mapping[str, Any]], today: dt.date,
                today_label: str | None = None) -> Markup:
    """The actions' schedule as an SVG Gantt chart, with a line at ``today`` (labelled
    "end of period" unless ``today_label`` is given)."""
    svg = charts.gantt(
        actions, start=dt.date(FIRST_YEAR, 1, 1), end=dt.date(LAST_YEAR, 12, 31), today=today,
        title=_("Schedule of the actions"), today_label=today_label or _("end of period"),
        no_data=_("no data"),
        status_labels={a["status"]: _status_label(a["status"]) for a in actions})
    return Markup(svg)  # the chart escapes every text it draws


def environment() -> jinja2.Environment:
    """A Jinja environment over the core's and the strategy's templates, with the strategy's
    French catalog (CLI, bench)."""
    i18n.register_catalog_dir(Path(__file__).parent / "locale")
    return build_environment([TEMPLATES_DIR])


def render_html(env: jinja2.Environment, snapshot: StrategySnapshot, language: str, *,
                template: str = REPORT_PDF, generated_at: dt.datetime | None = None,
                extra: Mapping[str, Any] | None = None) -> str:
    """The report of ``snapshot`` as HTML in ``language`` (standalone and printable by
    default; ``extra``: more context, such as the site layout's)."""
    context = {**(extra or {}), **build_context(snapshot, generated_at=generated_at)}
    with i18n.use_language(language):
        return env.get_template(template).render(context)


def to_pdf(html: str) -> bytes:
    """The PDF of a standalone report page (A4; nothing fetched from outside)."""
    return pdf.to_pdf(html)


def page_count(data: bytes) -> int:
    """How many pages a PDF written by WeasyPrint has (its page tree's largest ``/Count``,
    read through the compressed object streams too)."""
    chunks = [data]
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            chunks.append(zlib.decompress(stream.group(1)))
        except zlib.error:
            continue
    counts = [int(n) for chunk in chunks for n in re.findall(rb"/Count\s+(\d+)", chunk)]
    return max(counts, default=0)


def ledger_download(*, session: Session, actor: Actor, snapshot: StrategySnapshot,
                    fmt: str) -> None:
    """Ledger that ``actor`` took the report of ``snapshot`` in ``fmt``."""
    audit.record(session=session, actor=actor, action="strategy.report.download",
                 object_type="strategy_snapshot", object_id=snapshot.id,
                 object_repr=snapshot.label,
                 details={"format": fmt, "digest": snapshot.digest,
                          "verified": tracking.verify_snapshot(snapshot)})


def file_name(snapshot: StrategySnapshot, fmt: str) -> str:
    """The report's download name: ``rapport-strategie-2026-T3.pdf``."""
    return f"rapport-strategie-{snapshot.label}.{fmt}"


def report(*, session: Session, actor: Actor, env: jinja2.Environment, label: str,
           fmt: str = "pdf", language: str | None = None,
           generated_at: dt.datetime | None = None) -> tuple[bytes, str]:
    """The report of the snapshot ``label`` as PDF or standalone HTML, with its file name
    (readers of the plan; 404 for an unknown label); the download is ledgered."""
    if fmt not in FORMATS:
        raise Invalid("A report is a PDF or an HTML page.")
    snapshot = tracking.get_snapshot(session=session, actor=actor, label=label)
    html = render_html(env, snapshot, language or actor.language, generated_at=generated_at)
    ledger_download(session=session, actor=actor, snapshot=snapshot, fmt=fmt)
    data = to_pdf(html) if fmt == "pdf" else html.encode("utf-8")
    return data, file_name(snapshot, fmt)
