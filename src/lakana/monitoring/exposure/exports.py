"""Exports of exposure monitoring: the findings as CSV, and the PDF letter that tells an
institution what to fix.

CSV: UTF-8 with a BOM and CRLF like the other exports; column names are stable snake_case
keys, values raw codes. A text cell that a spreadsheet would run as a formula (starting with
``= + - @``, a tab or a carriage return) gets a leading ``'``: targets, subjects and evidence
come from scanned servers, so they are hostile input. The core has no shared CSV helper
(the compliance and registry exports each keep their own), hence this small one.

The letter is a standalone HTML page drawn by WeasyPrint offline (``lakana.core.web.pdf``),
in French by default: it goes to a Malian institution. Each download is ledgered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit.ledger import record_read
from lakana.core.auth.rbac import Actor
from lakana.core.db import as_utc
from lakana.core.web import pdf
from lakana.monitoring.exposure import service
from lakana.monitoring.exposure.checks.base import SEVERITY_ORDER
from lakana.monitoring.exposure.models import ExposureFinding
from lakana.monitoring.exposure.schemas import (
    LABELS,
    FindingQuery,
    FindingStatus,
    InstitutionExposure,
)

FINDING_COLUMNS = ("id", "institution_id", "institution", "system_id", "target", "check_id",
                   "issue_id", "title", "subject", "severity", "status", "status_reason",
                   "first_seen", "last_seen", "fixed_at", "due_at", "reopened_count",
                   "case_reference")
#: Rows in one CSV export at most (the service pages by 500).
CSV_MAX_ROWS = 50_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LETTER_TEMPLATE = "exposure/letter.html"
LETTER_LANGUAGES = ("fr", "en")
#: How many fixes the letter lists at most (the rest is counted, not listed).
LETTER_MAX_FINDINGS = 200


def safe_cell(value: object) -> str:
    """A CSV cell as text that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV (UTF-8 with BOM, CRLF), formula-like text neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return "\ufeff" + out.getvalue()


def issue_title(finding: ExposureFinding) -> str:
    """The English title of a finding's issue (its id when the catalogue lacks it)."""
    issue = service.issue_of(finding.issue_id)
    return issue.title if issue is not None else finding.issue_id


class _Params(dict[str, str]):
    """Title parameters; an unknown one shows the finding's subject rather than failing."""

    def __init__(self, values: dict[str, str], fallback: str) -> None:
        super().__init__(values)
        self.fallback = fallback

    def __missing__(self, key: str) -> str:
        return self.fallback


def issue_text(message: str, finding: ExposureFinding) -> str:
    """An issue text in the current language, its ``%(name)s`` placeholders filled from the
    finding's evidence (``params`` or top-level values), else its subject."""
    text = i18n.gettext(message)
    if "%(" not in text:
        return text
    evidence = finding.evidence if isinstance(finding.evidence, dict) else {}
    nested = evidence.get("params")
    raw: dict[str, Any] = nested if isinstance(nested, dict) else evidence
    values = {str(k): str(v) for k, v in raw.items() if isinstance(v, str | int | float)}
    try:
        return text % _Params(values, finding.subject or "?")
    except (TypeError, ValueError):  # a malformed placeholder: show the text as written
        return text


def finding_row(finding: ExposureFinding, names: dict[int, str]) -> list[object]:
    """One CSV row of a finding."""
    return [finding.id, finding.institution_id, names.get(finding.institution_id, ""),
            finding.system_id, finding.target, finding.check_id, finding.issue_id,
            issue_text(issue_title(finding), finding), finding.subject, finding.severity,
            finding.status, finding.status_reason, finding.first_seen, finding.last_seen,
            finding.fixed_at, finding.due_at, finding.reopened_count, finding.case_reference]


def all_findings(*, session: Session, actor: Actor, query: FindingQuery
                 ) -> list[ExposureFinding]:
    """Every finding matching ``query`` (its page ignored), paging through the service."""
    found: list[ExposureFinding] = []
    page = query.model_copy(update={"limit": 500, "offset": 0})
    while len(found) < CSV_MAX_ROWS:
        rows = service.list_findings(session=session, actor=actor, query=page)
        found.extend(rows)
        if len(rows) < page.limit:
            break
        page = page.model_copy(update={"offset": page.offset + page.limit})
    return found[:CSV_MAX_ROWS]


def findings_csv(*, session: Session, actor: Actor, query: FindingQuery,
                 names: dict[int, str]) -> tuple[str, str]:
    """The findings the actor reads, filtered, as CSV with its file name; ledgered."""
    rows = all_findings(session=session, actor=actor, query=query)
    record_read(session=session, actor=actor, object_type="exposure_findings",
                object_id=query.institution_id or "all",
                object_repr=f"Exposure findings export ({len(rows)} rows)",
                institution_id=query.institution_id, reason="csv")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    return to_csv(FINDING_COLUMNS, (finding_row(f, names) for f in rows)), \
        f"exposure-findings-{stamp}.csv"


@dataclass(frozen=True)
class LetterItem:
    """One thing to fix, as the letter lists it."""

    finding: ExposureFinding
    title: str
    explanation: str
    advice: str
    requirements: tuple[str, ...]


def letter_items(findings: Sequence[ExposureFinding]) -> list[LetterItem]:
    """Open findings worst first, then by due date, with their issue's texts."""
    rank = {str(s): i for i, s in enumerate(SEVERITY_ORDER)}
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    ordered = sorted(findings, key=lambda f: (rank.get(f.severity, 9),
                                              as_utc(f.due_at) if f.due_at else far, f.id))
    items = []
    for f in ordered:
        issue = service.issue_of(f.issue_id)
        items.append(LetterItem(f, issue.title if issue else f.issue_id,
                                issue.explanation if issue else "",
                                issue.advice if issue else "",
                                issue.requirements if issue else ()))
    return items


def letter_context(exposure: InstitutionExposure, items: list[LetterItem], total: int,
                   today: dt.date) -> dict[str, Any]:
    """What the letter template needs."""
    return {"exposure": exposure, "items": items, "total": total, "today": today,
            "labels": LABELS, "issue_text": issue_text,
            "severities": [str(s) for s in SEVERITY_ORDER]}


def render_letter(env: jinja2.Environment, context: dict[str, Any], language: str) -> str:
    """The standalone letter page in ``language``."""
    with i18n.use_language(language):
        return env.get_template(LETTER_TEMPLATE).render(context)


def institution_letter(*, session: Session, actor: Actor, env: jinja2.Environment,
                       institution_id: int, language: str = "fr") -> tuple[bytes, str]:
    """The PDF letter listing an institution's open findings, with its file name (404 out
    of scope); the download is ledgered."""
    exposure = service.institution_exposure(session=session, actor=actor,
                                            institution_id=institution_id)
    query = FindingQuery(institution_id=institution_id, status=FindingStatus.OPEN)
    findings = all_findings(session=session, actor=actor, query=query)
    items = letter_items(findings)
    today = dt.datetime.now(dt.UTC).date()
    html = render_letter(env, letter_context(exposure, items[:LETTER_MAX_FINDINGS], len(items),
                                             today),
                         language if language in LETTER_LANGUAGES else "fr")
    record_read(session=session, actor=actor, object_type="exposure_letter",
                object_id=institution_id, object_repr=f"Exposure letter to "
                                                      f"{exposure.institution_acronym}",
                institution_id=institution_id, reason="pdf")
    name = f"exposure-{exposure.institution_acronym.lower()}-{today:%Y%m%d}.pdf"
    return pdf.to_pdf(html, stylesheet=LETTER_CSS), name


#: Print stylesheet of the letter (passed to WeasyPrint, not inlined: nothing to fetch).
LETTER_CSS = """
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: counter(page) " / " counter(pages);
        font-size: 8pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; line-height: 1.35; }
h1 { font-size: 15pt; margin: 0 0 4mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; }
h3 { font-size: 10pt; margin: 4mm 0 1mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
th, td { border: 0.5pt solid #999; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
.item { page-break-inside: avoid; border-left: 2pt solid #999; padding-left: 3mm; margin: 3mm 0; }
.sev-critical { border-color: #8b0000; } .sev-high { border-color: #d2491c; }
.sev-medium { border-color: #e0a100; } .sev-low { border-color: #4f7a28; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; }
.hint { color: #555; font-size: 8.5pt; }
"""
