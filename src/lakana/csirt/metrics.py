"""Incident metrics: response times, weekly series and the national dashboard's figures.

Response times are measured from a case's ``reported_at``:

* **MTTA** (time to acknowledge) — ``acknowledged_at - reported_at``;
* **MTTC** (time to contain) — ``contained_at - reported_at``;
* **MTTR** (time to resolve) — ``closed_at - reported_at``.

Each is given as mean and median, in hours (one decimal), with the number of cases it is
computed from, for the cases *reported* during the period. A case lacking the timestamp (not
yet acknowledged, contained or closed) does not count for that measure; neither does a
negative duration (a timestamp entered before the report: bad data, not a fast response).
Cases closed as ``false_positive`` or ``duplicate`` are left out of MTTR: closing them says
nothing about how fast incidents are resolved, and they would pull the figure down.

Figures are computed from one query fetching the few timestamp columns of the cases in scope,
then aggregated in Python (fine up to about 100k cases; no query per case). National figures
need :attr:`CsirtPermission.NATIONAL_READ` (institution roles get 403); the institution
variant needs ``CASE_READ`` and covers the reader's own institution. SQLite hands back naive
datetimes: every timestamp goes through :func:`lakana.core.db.as_utc`.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import record_read
from lakana.core.auth.rbac import Actor
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Invalid
from lakana.core.i18n import N_, current_language, gettext
from lakana.core.web.templating import build_environment
from lakana.csirt import access, clocks, handover, service, severity, taxonomy
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission

Group = Literal["institution", "class", "severity"]
GROUPS: tuple[str, ...] = ("institution", "class", "severity")
#: Closure reasons left out of the time to resolve.
NOT_RESOLVED = ("false_positive", "duplicate")
#: Severities from the most to the least serious (the order of every table).
SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_DAYS = 90
MAX_WEEKS = 104
UNCLASSIFIED = N_("Not classified")
UNATTRIBUTED = N_("No institution")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A span of days, both ends included."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        """The first instant of the period (UTC)."""
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        """The first instant after the period (UTC)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Stat:
    """One response time over a set of cases."""

    count: int
    mean_hours: float | None
    median_hours: float | None


@dataclass(frozen=True)
class MetricRow:
    """The response times of one group (an institution, a class or a severity)."""

    key: str | None
    label: str
    cases: int
    mtta: Stat
    mttc: Stat
    mttr: Stat


@dataclass(frozen=True)
class Metrics:
    """Response times over a period, by group, with the overall figures."""

    period: Period
    group: str
    rows: tuple[MetricRow, ...]
    total: MetricRow


@dataclass(frozen=True)
class Week:
    """One ISO week of the series, counts by severity."""

    label: str
    start: dt.date
    new: dict[str, int]
    closed: dict[str, int]
    open: dict[str, int]

    @property
    def new_total(self) -> int:
        """Cases reported this week."""
        return sum(self.new.values())

    @property
    def closed_total(self) -> int:
        """Cases closed this week."""
        return sum(self.closed.values())

    @property
    def open_total(self) -> int:
        """Cases open at the end of the week."""
        return sum(self.open.values())


@dataclass(frozen=True)
class Dashboard:
    """The headline figures of the national dashboard."""

    open_by_severity: dict[str, int]
    new_this_week: int
    overdue_clocks: int
    top_institutions: tuple[tuple[str, int], ...]
    by_class: Metrics
    by_severity: Metrics
    weeks: tuple[Week, ...] = field(default_factory=tuple)

    @property
    def open_total(self) -> int:
        """Open cases, every severity."""
        return sum(self.open_by_severity.values())


# -- periods ---------------------------------------------------------------------------------

def _date(value: str | None, name: str) -> dt.date | None:
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("%(field)s must be a date (YYYY-MM-DD).", field=name) from None


def parse_period(date_from: str | None, date_to: str | None, *,
                 today: dt.date | None = None) -> Period:
    """The period from two optional ISO dates (default: the last 90 days up to today)."""
    today = today or utcnow().date()
    end = _date(date_to, "to") or today
    start = _date(date_from, "from") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Invalid("The period must start before it ends.")
    if (end - start).days > 366 * 5:
        raise Invalid("The period may not exceed five years.")
    return Period(start, end)


def parse_month(month: str | None, *, today: dt.date | None = None) -> Period:
    """The calendar month ``YYYY-MM`` (default: the current month)."""
    if month is None or not month.strip():
        first = (today or utcnow().date()).replace(day=1)
    else:
        found = _MONTH.match(month.strip())
        if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
            raise Invalid("The month must be written YYYY-MM (for example %(example)s).",
                          example="2026-03")
        first = dt.date(int(found.group(1)), int(found.group(2)), 1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return Period(first, following - dt.timedelta(days=1))


def check_group(group: str) -> str:
    """``group`` if it is one of :data:`GROUPS`; raise :class:`Invalid` otherwise."""
    if group not in GROUPS:
        raise Invalid("Unknown grouping %(value)s (institution, class or severity).",
                      value=group[:30])
    return group


# -- response times --------------------------------------------------------------------------

def _hours(start: dt.datetime, end: dt.datetime | None) -> float | None:
    if end is None:
        return None
    seconds = (as_utc(end) - as_utc(start)).total_seconds()
    return seconds / 3600 if seconds >= 0 else None


def _stat(values: list[float]) -> Stat:
    if not values:
        return Stat(0, None, None)
    return Stat(len(values), round(statistics.fmean(values), 1),
                round(statistics.median(values), 1))


def _row(key: str | None, label: str, rows: list[Any]) -> MetricRow:
    mtta: list[float] = []
    mttc: list[float] = []
    mttr: list[float] = []
    for row in rows:
        for values, end in ((mtta, row.acknowledged_at), (mttc, row.contained_at)):
            hours = _hours(row.reported_at, end)
            if hours is not None:
                values.append(hours)
        if row.closure_reason not in NOT_RESOLVED:
            hours = _hours(row.reported_at, row.closed_at)
            if hours is not None:
                mttr.append(hours)
    return MetricRow(key, label, len(rows), _stat(mtta), _stat(mttc), _stat(mttr))


def _labels(session: Session, group: str, keys: Iterable[str | None],
            language: str) -> dict[str | None, str]:
    if group == "severity":
        return {k: gettext(severity.LABELS.get(k or "", k or "")) for k in keys}
    if group == "class":
        return {k: taxonomy.label(k, None, language) or gettext(UNCLASSIFIED) for k in keys}
    names = service.institution_names(session=session)
    return {k: names.get(int(k), k) if k else gettext(UNATTRIBUTED) for k in keys}


def _order(group: str, row: MetricRow) -> tuple[Any, ...]:
    if group == "severity":
        rank = SEVERITIES.index(row.key) if row.key in SEVERITIES else len(SEVERITIES)
        return (rank, row.label)
    return (row.key is None, row.label.lower())


def _metrics(session: Session, stmt: Any, period: Period, group: str) -> Metrics:
    column = {"institution": Case.institution_id, "class": Case.taxonomy_class,
              "severity": Case.severity}[check_group(group)]
    stmt = stmt.with_only_columns(
        column.label("key"), Case.reported_at, Case.acknowledged_at, Case.contained_at,
        Case.closed_at, Case.closure_reason,
    ).where(Case.reported_at >= period.since, Case.reported_at < period.until)
    rows = list(session.execute(stmt))
    grouped: dict[str | None, list[Any]] = {}
    for row in rows:
        key = None if row.key is None else str(row.key)
        grouped.setdefault(key, []).append(row)
    labels = _labels(session, group, grouped, current_language())
    out = sorted((_row(k, labels[k], v) for k, v in grouped.items()),
                 key=lambda r: _order(group, r))
    return Metrics(period, group, tuple(out), _row(None, gettext(N_("All cases")), rows))


def _national(actor: Actor) -> Any:
    return access.restrict_cases(select(Case.id), actor, CsirtPermission.NATIONAL_READ)


def _institutional(actor: Actor, institution_id: int | None) -> Any:
    stmt = access.restrict_cases(select(Case.id), actor, CsirtPermission.CASE_READ)
    if actor.is_national and institution_id is not None:
        stmt = stmt.where(Case.institution_id == institution_id)
    return stmt


def national_metrics(*, session: Session, actor: Actor, period: Period,
                     group: str = "class") -> Metrics:
    """MTTA/MTTC/MTTR of every case reported in ``period``, by ``group`` (national roles)."""
    return _metrics(session, _national(actor), period, group)


def institution_metrics(*, session: Session, actor: Actor, period: Period,
                        group: str = "class", institution_id: int | None = None) -> Metrics:
    """The same figures for the reader's own institution (any role with ``CASE_READ``).

    A national reader may name ``institution_id`` (otherwise: every case they see).
    """
    return _metrics(session, _institutional(actor, institution_id), period, group)


# -- weekly series ---------------------------------------------------------------------------

def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _weekly(session: Session, stmt: Any, weeks: int, today: dt.date | None) -> tuple[Week, ...]:
    if not 1 <= weeks <= MAX_WEEKS:
        raise Invalid("The number of weeks must be between 1 and %(max)s.", max=MAX_WEEKS)
    last = _monday(today or utcnow().date())
    starts = [last - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    since = dt.datetime.combine(starts[0], dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    stmt = stmt.with_only_columns(Case.severity, Case.status, Case.reported_at,
                                  Case.closed_at).where(
        Case.reported_at < until, or_(Case.closed_at.is_(None), Case.closed_at >= since))
    rows = []
    for row in session.execute(stmt):
        reported = as_utc(row.reported_at)
        # A closed case without its date (old data) counts as closed when it was reported.
        closed = as_utc(row.closed_at) if row.closed_at is not None else (
            reported if row.status == "closed" else None)
        rows.append((row.severity, reported, closed))
    out = []
    for start in starts:
        begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        end = begin + dt.timedelta(days=7)
        new: Counter[str] = Counter()
        done: Counter[str] = Counter()
        still: Counter[str] = Counter()
        for level, reported, closed in rows:
            if begin <= reported < end:
                new[level] += 1
            if closed is not None and begin <= closed < end:
                done[level] += 1
            if reported < end and (closed is None or closed >= end):
                still[level] += 1
        iso = start.isocalendar()
        out.append(Week(f"{iso.year}-W{iso.week:02d}", start,
                        {s: new[s] for s in SEVERITIES}, {s: done[s] for s in SEVERITIES},
                        {s: still[s] for s in SEVERITIES}))
    return tuple(out)


def weekly_series(*, session: Session, actor: Actor, weeks: int = 12,
                  today: dt.date | None = None) -> tuple[Week, ...]:
    """The last ``weeks`` ISO weeks (the current one last): new, closed and open-at-end
    cases by severity (national roles)."""
    return _weekly(session, _national(actor), weeks, today)


def institution_weekly_series(*, session: Session, actor: Actor, weeks: int = 12,
                              institution_id: int | None = None,
                              today: dt.date | None = None) -> tuple[Week, ...]:
    """The same weekly series for the reader's own institution (or ``institution_id`` for a
    national reader)."""
    return _weekly(session, _institutional(actor, institution_id), weeks, today)


# -- dashboard and monthly report ------------------------------------------------------------

def _open_by_severity(session: Session, stmt: Any, moment: dt.datetime | None) -> dict[str, int]:
    stmt = stmt.with_only_columns(Case.severity, func.count()).group_by(Case.severity)
    if moment is None:
        stmt = stmt.where(Case.status != "closed")
    else:
        stmt = stmt.where(Case.reported_at < moment,
                          or_(Case.closed_at.is_(None), Case.closed_at >= moment))
    counts = {str(level): int(n) for level, n in session.execute(stmt)}
    return {s: counts.get(s, 0) for s in SEVERITIES}


def _top_institutions(session: Session, stmt: Any, limit: int) -> tuple[tuple[str, int], ...]:
    count = func.count().label("n")
    stmt = stmt.with_only_columns(Case.institution_id, count).where(
        Case.institution_id.is_not(None)).group_by(Case.institution_id).order_by(
        count.desc(), Case.institution_id).limit(limit)
    names = service.institution_names(session=session)
    return tuple((names.get(ident, str(ident)), int(n)) for ident, n in session.execute(stmt))


def dashboard(*, session: Session, actor: Actor, period: Period, weeks: int = 12,
              today: dt.date | None = None) -> Dashboard:
    """Every figure of the national incident dashboard (national roles)."""
    stmt = _national(actor)
    monday = dt.datetime.combine(_monday(today or utcnow().date()), dt.time(), tzinfo=dt.UTC)
    new = session.execute(stmt.with_only_columns(func.count()).where(
        Case.reported_at >= monday)).scalar_one()
    return Dashboard(
        open_by_severity=_open_by_severity(session, stmt, None),
        new_this_week=int(new),
        overdue_clocks=clocks.count_overdue(session, actor),
        top_institutions=_top_institutions(session, stmt.where(Case.status != "closed"), 10),
        by_class=_metrics(session, stmt, period, "class"),
        by_severity=_metrics(session, stmt, period, "severity"),
        weeks=_weekly(session, stmt, weeks, today))


@dataclass(frozen=True)
class MonthlyReport:
    """The figures of one month, as the printable report gives them."""

    period: Period
    reported: int
    closed: int
    open_at_end: dict[str, int]
    by_class: Metrics
    by_severity: Metrics
    by_institution: Metrics
    generated_at: dt.datetime
    generated_by: str

    @property
    def open_total(self) -> int:
        """Cases open at the end of the month."""
        return sum(self.open_at_end.values())


def monthly_report(*, session: Session, actor: Actor, period: Period) -> MonthlyReport:
    """The national figures of the month ``period`` (national roles)."""
    stmt = _national(actor)
    closed = session.execute(stmt.with_only_columns(func.count()).where(
        Case.closed_at >= period.since, Case.closed_at < period.until)).scalar_one()
    by_class = _metrics(session, stmt, period, "class")
    return MonthlyReport(
        period=period, reported=by_class.total.cases, closed=int(closed),
        open_at_end=_open_by_severity(session, stmt, period.until),
        by_class=by_class, by_severity=_metrics(session, stmt, period, "severity"),
        by_institution=_metrics(session, stmt, period, "institution"),
        generated_at=utcnow(), generated_by=actor.name)


MONTHLY_DOCUMENT = "csirt/metrics/monthly_document.html"
REPORT_LANGUAGE = "fr"


def monthly_context(report: MonthlyReport) -> dict[str, Any]:
    """What the monthly report templates need (the page and the printable document)."""
    return {"report": report, "severities": SEVERITIES, "severity_labels": severity.LABELS,
            "month": f"{report.period.start:%Y-%m}"}


def render_monthly_document(report: MonthlyReport) -> str:
    """The standalone monthly report (French: it goes to Malian authorities)."""
    with i18n.use_language(REPORT_LANGUAGE):
        return build_environment([handover.TEMPLATES_DIR]).get_template(
            MONTHLY_DOCUMENT).render(monthly_context(report))


def monthly_pdf(*, session: Session, actor: Actor, period: Period) -> tuple[bytes, str]:
    """The monthly report as PDF (drawn offline by WeasyPrint), with its file name.

    Generating it is ledgered as a read: it gathers every institution's incident figures.
    """
    report = monthly_report(session=session, actor=actor, period=period)
    data = handover.to_pdf(render_monthly_document(report))
    month = f"{period.start:%Y-%m}"
    record_read(session=session, actor=actor, object_type="csirt_monthly_report",
                object_id=month, object_repr=f"Monthly incident report {month}",
                reason="pdf")
    return data, f"csirt-incidents-{month}.pdf"
