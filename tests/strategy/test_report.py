"""The strategy's follow-up reports: drawn from a snapshot only, stating its digest, flagging
an altered one; PDF and HTML routes for readers, 404 for an unknown label; ledgered."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.strategy import report, report_cli, service, tracking
from lakana.strategy.demo import DRAFT_PLAN
from lakana.strategy.models import StrategySnapshot
from tests.conftest import Factory
from tests.strategy.conftest import ADMIN

AFTER_2026 = dt.date(2027, 1, 15)
runner = CliRunner()


def _annual_snapshot(session_factory: sessionmaker[Session], settings: Settings) -> str:
    """The draft plan with one manual value (and its evidence file), frozen for 2026."""
    with session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=DRAFT_PLAN.read_bytes(),
                            filename=DRAFT_PLAN.name)
        tracking.enter_value(
            session=session, actor=ADMIN, settings=settings, code="IND-01",
            data=tracking.ValueEntry(year=2026, value=3, evidence="Journal officiel n° 12"),
            file_name="jo-12.txt", file_data=b"JO 12", file_type="text/plain")
        return tracking.take_snapshot(session=session, actor=ADMIN, kind="annual", year=2026,
                                      today=AFTER_2026).label


@pytest.fixture
def annual(session_factory: sessionmaker[Session], settings: Settings,
           institutions: dict[str, int]) -> str:
    """The label of the 2026 annual snapshot of the draft plan."""
    return _annual_snapshot(session_factory, settings)


def _crafted(content: dict[str, Any]) -> StrategySnapshot:
    """A snapshot row (not stored) of ``content``, with its true digest."""
    return StrategySnapshot(label=content["label"], kind=content["kind"],
                            period_start=dt.date(2026, 7, 1), period_end=dt.date(2026, 9, 30),
                            taken_at=utcnow(), taken_by="tests", content=content,
                            digest=hashlib.sha256(tracking.canonical(content)).hexdigest())


COMPUTED = {"code": "IND-09", "name": "Incidents traités", "unit": "%", "direction": "higher",
            "source_kind": "computed", "source_key": "csirt.closed_share",
            "formula": "Anything <b>bold</b>", "year": 2026, "period_start": "2026-01-01",
            "period_end": "2026-09-30", "value": 70.67, "target": 80.0, "baseline": 50.0,
            "status": "off", "reason": "", "reason_args": {},
            "inputs": {"numerator": 212, "denominator": 300}, "evidence": None}
PLAN = {"axes": [{"code": "A9", "title": "Axe <test>", "description": "", "objectives": [{
    "code": "A9.O1", "title": "Objectif", "description": "",
    "indicators": [{"code": "IND-09", "name": "Incidents traités", "definition": "",
                    "unit": "%", "baseline_value": 50.0, "baseline_year": 2025,
                    "source_kind": "computed", "source_key": "csirt.closed_share",
                    "frequency": "yearly", "responsible": "", "direction": "higher",
                    "gci_pillar": "", "targets": {"2026": 80.0}}],
    "actions": [{"id": 1, "code": "A9.O1.AC1", "title": "Action", "description": "",
                 "lead": "MEF", "lead_institution_id": None, "partners": [],
                 "budget_estimate": 1000000, "budget_committed": 250000,
                 "starts_on": "2026-01-01", "ends_on": "2026-06-30", "status": "late",
                 "depends_on": [], "version": 1,
                 "milestones": [{"code": "M1", "title": "Jalon", "due_on": "2026-03-31",
                                 "done_on": "2026-03-20"}]}]}]}]}
QUARTER = {"label": "2026-T3", "kind": "quarterly", "period_start": "2026-07-01",
           "period_end": "2026-09-30", "indicators": [COMPUTED], "plan": PLAN}


def test_report_shows_the_frozen_figures_inputs_and_digest() -> None:
    # Given a quarterly snapshot with a computed figure and its inputs
    snapshot = _crafted(QUARTER)
    # When its report is rendered in French
    html = report.render_html(report.environment(), snapshot, "fr")
    # Then the cover, the figure, its inputs, the status, the digest and the actions show
    assert "Rapport trimestriel de suivi de la Stratégie nationale de cybersécurité" in html
    assert "Conseil des ministres" in html and "2026-T3" in html
    assert snapshot.digest in html and "correspond à son empreinte" in html
    assert "70,67" in html and "212 / 300" in html and "csirt.closed_share" in html
    assert '<span class="badge off">Loin de la cible</span>' in html
    assert "250\u202f000 / 1\u202f000\u202f000" in html and "En retard" in html
    # and user text is escaped, in the tables and in the charts
    assert "Axe &lt;test&gt;" in html and "<b>bold</b>" not in html
    assert "<test>" not in html
    # and one overdue action is counted in the summary
    assert "1 non terminée(s) après leur date de fin" in html


def test_an_altered_snapshot_is_flagged(annual: str, session_factory: sessionmaker[Session]
                                        ) -> None:
    # Given the annual snapshot, whose stored content is then altered
    with session_factory.begin() as session:
        snapshot = tracking.get_snapshot(session=session, actor=ADMIN, label=annual)
        content = dict(snapshot.content)
        content["indicators"] = [{**content["indicators"][0], "value": 999.0},
                                 *content["indicators"][1:]]
        session.execute(update(StrategySnapshot).where(StrategySnapshot.id == snapshot.id)
                        .values(content=content))
    # When its report is rendered
    with session_factory() as session:
        snapshot = tracking.get_snapshot(session=session, actor=ADMIN, label=annual)
        html = report.render_html(report.environment(), snapshot, "fr")
    # Then the report says, above every section, that the content does not match
    assert not tracking.verify_snapshot(snapshot)
    assert html.count("ne correspond plus à son empreinte") >= 3
    assert "INSTANTANÉ ALTÉRÉ" in html


def test_annual_report_pdf_has_the_manual_value_and_pages(
        annual: str, session_factory: sessionmaker[Session]) -> None:
    # Given the 2026 annual snapshot with a manual value and its evidence
    with session_factory.begin() as session:
        data, name = report.report(session=session, actor=ADMIN, env=report.environment(),
                                   label=annual, fmt="html", language="fr")
        html = data.decode()
        pdf, pdf_name = report.report(session=session, actor=ADMIN,
                                      env=report.environment(), label=annual)
    # Then the HTML shows the value, its evidence and file, and the annual title
    assert name == "rapport-strategie-2026.html" and pdf_name == "rapport-strategie-2026.pdf"
    assert "Rapport annuel de suivi" in html and "Journal officiel n° 12" in html
    assert "jo-12.txt" in html and "Annexe : traçabilité" in html
    assert "Gouvernance et coopération internationale" in html
    # And the PDF is a PDF with several pages
    assert pdf.startswith(b"%PDF")
    assert report.page_count(pdf) > 3
    # And both downloads are ledgered
    with session_factory() as session:
        ledgered = session.scalars(select(AuditEntry.object_repr).where(
            AuditEntry.action == "strategy.report.download")).all()
    assert ledgered == [annual, annual]


def test_reader_gets_page_pdf_and_api_and_404_for_unknown_label(
        annual: str, factory: Factory, institutions: dict[str, int],
        login_as: Callable[..., TestClient], api_as: Callable[..., TestClient]) -> None:
    # Given a focal point (who reads the plan)
    reader = factory.user(Role.FOCAL_POINT, institution_id=institutions["MEF"])
    browser = login_as(reader)
    # When they open the report page, then download the PDF
    page = browser.get(f"/strategy/snapshots/{annual}/report")
    assert page.status_code == 200 and "Rapport annuel de suivi" in page.text
    assert "Télécharger le PDF" in page.text
    pdf = browser.get(f"/strategy/snapshots/{annual}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "rapport-strategie-2026.pdf" in pdf.headers["content-disposition"]
    # And through the API, as HTML
    api = api_as(reader)
    html = api.get(f"/api/v1/strategy/snapshots/{annual}/report", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text
    # Then an unknown label is a clear 404
    missing = api.get("/api/v1/strategy/snapshots/2029-T4/report")
    assert missing.status_code == 404 and "2029-T4" in missing.text
    assert browser.get("/strategy/snapshots/2029-T4/report").status_code == 404
    assert browser.get("/strategy/snapshots/2029-T4/report.pdf").status_code == 404
    bad = api.get(f"/api/v1/strategy/snapshots/{annual}/report", params={"format": "doc"})
    assert bad.status_code == 422


def test_cli_writes_the_report(annual: str, settings: Settings,
                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given the CLI pointed at the test database, with the report command added
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    app = typer.Typer()
    app.command("report")(report_cli.report)
    app.command("noop")(lambda: None)  # more than one command: "report" stays a sub-command
    # When the annual report is written as PDF, then as HTML
    pdf = runner.invoke(app, ["report", annual, "--out", str(tmp_path / "r.pdf")])
    html = runner.invoke(app, ["report", annual, "-o", str(tmp_path / "r.html")])
    missing = runner.invoke(app, ["report", "2029-T4", "--out", str(tmp_path / "x.pdf")])
    # Then both files are written; an unknown label fails with its reason
    assert pdf.exit_code == 0, pdf.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert html.exit_code == 0 and "Synthèse" in (tmp_path / "r.html").read_text()
    assert missing.exit_code != 0 and "2029-T4" in missing.output


def test_the_report_shows_the_gci_self_assessment_as_frozen(
        session_factory: sessionmaker[Session], settings: Settings,
        institutions: dict[str, int]) -> None:
    from lakana.strategy import gci
    from lakana.strategy.gci_schemas import GciAnswerIn

    # Given a legal question answered yes with evidence before the snapshot
    with session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=DRAFT_PLAN.read_bytes(),
                            filename=DRAFT_PLAN.name)
        gci.save_answer(session=session, actor=ADMIN, code="LEG-1", version=0,
                        data=GciAnswerIn(answer="yes", evidence_note="Loi 2019-056"))
        label = tracking.take_snapshot(session=session, actor=ADMIN, kind="annual",
                                       year=2026, today=AFTER_2026).label
    # And answered otherwise afterwards
    with session_factory.begin() as session:
        gci.save_answer(session=session, actor=ADMIN, code="LEG-1", version=1,
                        data=GciAnswerIn(answer="no"))
    with session_factory() as session:
        snapshot = tracking.get_snapshot(session=session, actor=ADMIN, label=label)
    frozen = {p["code"]: p for p in snapshot.content["gci"]["pillars"]}
    assert frozen["legal"]["answered"] == 1 and frozen["legal"]["score"] > 0
    # Then the report shows the answer and its evidence as they were, in French
    html = report.render_html(report.environment(), snapshot, "fr")
    assert "Indice mondial de cybersécurité" in html or "indice mondial" in html.lower()
    assert "Loi 2019-056" in html and "IND-01" in html
