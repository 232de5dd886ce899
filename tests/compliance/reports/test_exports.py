"""CSV and XLSX exports: expected rows, formula injection neutralised, scope, ledger."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.reports import exports
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from tests.compliance.reports.conftest import ADMIN, Reports
from tests.conftest import Factory

Client = Callable[..., TestClient]


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_national_csv(reports: Reports, factory: Factory, api_as: Client, db: Session) -> None:
    # Given an agency officer, when they export the 2026 scores as CSV
    client = api_as(factory.user(Role.AGENCY_OFFICER))
    response = client.get(f"/api/v1/compliance/campaigns/{reports.c2026}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _rows(response.content.decode("utf-8"))
    # Then there is one row per scored institution, with kind, tier, parent and domains
    by_acronym = {r["acronym"]: r for r in rows}
    assert set(by_acronym) == {"MIN", "AG1", "AG2", "AG3", "AG4", "LONE"}
    assert by_acronym["AG1"] == {"acronym": "AG1", "name": "Institution AG1", "kind": "agency",
                                 "tier": "1", "parent": "MIN", "overall": "60.0",
                                 "answers": "2", "gov": "80.0", "net": "20.0"}
    assert by_acronym["AG4"]["net"] == ""
    # And a name that a spreadsheet would run as a formula is neutralised
    assert by_acronym["AG3"]["name"] == "'=HYPERLINK(\"http://evil.example\")"
    # And the download is ledgered
    entry = db.scalar(select(AuditEntry).where(
        AuditEntry.action == "compliance.report.download",
        AuditEntry.object_type == "compliance.campaign"))
    assert entry is not None and '"csv"' in entry.details


def test_national_xlsx(reports: Reports, db: Session) -> None:
    # When the national table is written as XLSX
    data, name = exports.export(session=db, actor=ADMIN, fmt="xlsx", campaign_id=reports.c2026)
    assert name.endswith(".xlsx") and data[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(data)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    # Then scores stay numbers and formula-like text is plain text
    assert values[0][:7] == ["acronym", "name", "kind", "tier", "parent", "overall", "answers"]
    ag3 = next(r for r in values if r[0] == "AG3")
    assert ag3[1] == "'=HYPERLINK(\"http://evil.example\")" and ag3[5] == 100.0
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_assessment_csv_and_xlsx(reports: Reports, factory: Factory, api_as: Client,
                                 session_factory: sessionmaker[Session]) -> None:
    # Given the focal point of AG1
    client = api_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag1))
    assessment = reports.assessment(session_factory, reports.c2026, reports.ag1)
    # When it exports its assessment
    response = client.get(f"/api/v1/compliance/assessments/{assessment}/export.csv")
    assert response.status_code == 200
    rows = {r["control_id"]: r for r in _rows(response.content.decode("utf-8"))}
    # Then there is one row per requirement with the effective rating and linked actions
    assert list(rows) == ["gov-1", "gov-2", "gov-3", "net-1"]
    assert rows["gov-1"]["status"] == "implemented" and rows["gov-1"]["maturity"] == "4"
    assert rows["gov-1"]["comment"] == "'=1+2"
    assert rows["gov-1"]["weight"] == "4" and rows["gov-1"]["domain"] == "gov"
    assert rows["gov-2"]["status"] == "" and rows["gov-2"]["evidence"] == "0"
    assert rows["net-1"]["effective_status"] == "partial"
    assert rows["net-1"]["actions"].startswith("'#") is False
    assert "+Segmenter le réseau (open)" in rows["net-1"]["actions"]
    xlsx = client.get(f"/api/v1/compliance/assessments/{assessment}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["gov-1"][10] == "'=1+2"


def test_overridden_answer_export(reports: Reports, db: Session,
                                  session_factory: sessionmaker[Session]) -> None:
    # AG2's 2025 gov-1: the institution said 4, the auditor 3 (partial), with a reason
    assessment = reports.assessment(session_factory, reports.c2025, reports.ag2)
    table = exports.assessment_table(session=db, actor=ADMIN, assessment_id=assessment)
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert (row["status"], row["maturity"]) == ("implemented", 4)
    assert (row["effective_status"], row["effective_maturity"]) == ("partial", 3)
    assert row["overridden"] == "yes" and row["override_reason"] == "Preuve insuffisante"
    # A free action of AG2 naming the control is linked too
    assert row["actions"].endswith("Plan de continuité (open)")


def test_formula_like_action_titles_are_neutralised() -> None:
    table = exports.Table("t", ["a", "b"], [["-2+3", 4], ["@SUM(A1)", None], ["\tx", "ok"]])
    rows = list(csv.reader(io.StringIO(exports.to_csv(table).removeprefix("\ufeff"))))
    assert rows[1:] == [["'-2+3", "4"], ["'@SUM(A1)", ""], ["'\tx", "ok"]]


def test_scope_of_exports(reports: Reports, factory: Factory, api_as: Client,
                          session_factory: sessionmaker[Session]) -> None:
    # Given the focal point of AG2
    client = api_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag2))
    other = reports.assessment(session_factory, reports.c2026, reports.ag1)
    # Then another institution's assessment does not exist for it
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/api/v1/compliance/assessments/{other}/export.{fmt}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    # And the national table is the agency's (403), or unknown when not targeted (404)
    assert client.get(f"/api/v1/compliance/campaigns/{reports.c2026}/export.csv"
                      ).status_code == 403
    outsider = api_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag3))
    assert outsider.get(f"/api/v1/compliance/campaigns/{reports.c2025}/export.xlsx"
                        ).status_code == 404
