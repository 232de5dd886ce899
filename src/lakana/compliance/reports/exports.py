"""CSV and XLSX exports: a campaign's national scores table and one institution's
assessment.

* National table (agency roles only): one row per scored institution — acronym, name, kind,
  tier, parent, overall score, answers, then one column per domain code.
* Assessment: one row per requirement — control id, title, domain, the institution's status
  and maturity, the effective (auditor-overridden) rating with its reason, comment, evidence
  count and linked remediation actions.

Column names are stable snake_case keys (for scripts), values are raw codes. Text cells that
a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a leading
``'`` — the compliance spreadsheet export's own rule, reused — and XLSX text cells are typed
as text. CSV is UTF-8 with a BOM, as the other exports. Every download is ledgered.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence

from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.campaigns.models import Answer
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.permissions import ActionPermission
from lakana.compliance.reports.service import ledger_download, require_national
from lakana.compliance.scoring import service as scoring
from lakana.compliance.spreadsheet import XLSX_MEDIA_TYPE
from lakana.compliance.spreadsheet import _safe as safe_text
from lakana.core.auth.rbac import Actor, restrict
from lakana.registry import service as registry_service

__all__ = ["XLSX_MEDIA_TYPE", "Table", "assessment_table", "national_table", "to_csv",
           "to_xlsx"]

Cell = str | int | float | None
NATIONAL_COLUMNS = ("acronym", "name", "kind", "tier", "parent", "overall", "answers")
ASSESSMENT_COLUMNS = ("control_id", "title", "domain", "weight", "status", "maturity",
                      "effective_status", "effective_maturity", "overridden",
                      "override_reason", "comment", "evidence", "actions")


class Table:
    """A header and rows, with a name for the file and the sheet."""

    def __init__(self, name: str, header: Sequence[str], rows: list[list[Cell]]) -> None:
        self.name = name
        self.header = list(header)
        self.rows = rows


def national_table(*, session: Session, actor: Actor, campaign_id: int) -> Table:
    """The campaign's scores, one row per scored institution (agency roles only)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    require_national(actor)
    heat = scoring.heatmap(session=session, actor=actor, campaign_id=campaign.id)
    registry = {i.id: i for i in registry_service.all_institutions(session=session,
                                                                   actor=actor)}
    rows: list[list[Cell]] = []
    for row in heat.rows:
        inst = registry[row.institution_id]
        parent = registry.get(inst.parent_id) if inst.parent_id is not None else None
        rows.append([inst.acronym, inst.name, inst.kind, inst.criticality_tier,
                     parent.acronym if parent else "", row.total.score, row.total.answers,
                     *[None if c is None else c.score for c in row.cells]])
    return Table(f"campaign-{campaign.id}-scores",
                 [*NATIONAL_COLUMNS, *[d.code for d in heat.domains]], rows)


def _linked_actions(session: Session, actor: Actor, institution_id: int,
                    answers: list[Answer]) -> dict[int, list[str]]:
    """``{answer id: ["#12 Title (open)", …]}``: actions made from the answer's gap or
    naming its control, when the actor may read actions."""
    if not answers or not actor.can(ActionPermission.ACTION_READ):
        return {}
    by_control = {a.control_id: a.id for a in answers}
    stmt = restrict(select(Action), actor=actor, permission=ActionPermission.ACTION_READ,
                    scope=Action.institution_id)
    stmt = stmt.where(Action.institution_id == institution_id,
                      or_(Action.answer_id.in_([a.id for a in answers]),
                          Action.control_id.in_(list(by_control))))
    linked: dict[int, list[str]] = defaultdict(list)
    for action in session.scalars(stmt.order_by(Action.id)):
        answer_id = action.answer_id or by_control.get(action.control_id or "")
        if answer_id is not None:
            linked[answer_id].append(f"#{action.id} {action.title} ({action.status})")
    return linked


def _overridden(answer: Answer) -> bool:
    """Whether an auditor's rating replaces the institution's (as the scores count it)."""
    return answer.is_overridden or answer.override_status is not None \
        or answer.override_maturity is not None


def assessment_table(*, session: Session, actor: Actor, assessment_id: int) -> Table:
    """An assessment's answers, one row per requirement (404 out of scope)."""
    assessment = campaign_service.get_assessment(session=session, actor=actor,
                                                 assessment_id=assessment_id)
    answers = answer_service.list_answers(session=session, actor=actor,
                                          assessment_id=assessment.id)
    actions = _linked_actions(session, actor, assessment.institution_id, answers)
    rows: list[list[Cell]] = []
    for a in answers:
        rows.append([a.control_id, a.requirement.text("title", actor.language),
                     a.requirement.domain_code, a.requirement.weight, a.status, a.maturity,
                     a.effective_status, a.effective_maturity,
                     "yes" if _overridden(a) else "no", a.override_reason or "", a.comment,
                     len(a.evidence), "; ".join(actions.get(a.id, []))])
    return Table(f"assessment-{assessment.id}", ASSESSMENT_COLUMNS, rows)


def _text(value: Cell) -> str:
    return "" if value is None else safe_text(str(value))


def to_csv(table: Table) -> str:
    """The table as CSV (UTF-8 with BOM, CRLF), formula-like text neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_text(v) for v in row])
    return "\ufeff" + out.getvalue()


def to_xlsx(table: Table) -> bytes:
    """The table as an XLSX workbook: numbers stay numbers, text is never a formula."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.name[:31]
    sheet.append(table.header)
    for row in table.rows:
        sheet.append([v if isinstance(v, int | float) else _text(v) for v in row])
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(*, session: Session, actor: Actor, fmt: str, campaign_id: int | None = None,
           assessment_id: int | None = None) -> tuple[bytes, str]:
    """The national table of ``campaign_id`` or the answers of ``assessment_id`` as ``csv``
    or ``xlsx`` bytes with a file name; the download is ledgered."""
    if assessment_id is not None:
        table = assessment_table(session=session, actor=actor, assessment_id=assessment_id)
        assessment = campaign_service.get_assessment(session=session, actor=actor,
                                                     assessment_id=assessment_id)
        ledger_download(session=session, actor=actor, object_type="compliance.assessment",
                        object_id=assessment.id, object_repr=table.name,
                        institution_id=assessment.institution_id, fmt=fmt)
    else:
        table = national_table(session=session, actor=actor, campaign_id=campaign_id or -1)
        ledger_download(session=session, actor=actor, object_type="compliance.campaign",
                        object_id=campaign_id or -1, object_repr=table.name,
                        institution_id=None, fmt=fmt)
    if fmt == "xlsx":
        return to_xlsx(table), f"{table.name}.xlsx"
    return to_csv(table).encode("utf-8"), f"{table.name}.csv"
