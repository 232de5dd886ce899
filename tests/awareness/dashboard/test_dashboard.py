"""The awareness overview: training and role coverage per institution and for the nation,
quarterly completions, scope (an institution sees itself only), the page, the API and the
CSV, XLSX and PDF downloads (ledgered)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.dashboard import service
from lakana.awareness.training import service as training
from lakana.awareness.training.schemas import EnrolmentCreate, EnrolmentResult, Outcome
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from tests.awareness.training.conftest import ADMIN, actor_of
from tests.conftest import Factory


def _two_institutions(db: Session, factory: Factory, make_trainee: Callable[..., int],
                      make_session: Callable[..., int],
                      make_holder: Callable[..., int]) -> tuple[int, int]:
    """AAA (tier 3: CISO + implementer required): 4 trainees, one completed, one failed, a
    CISO. BBB (tier 3): 1 trainee, nobody trained, no role holder."""
    aaa = factory.institution("AAA", criticality_tier=3)
    bbb = factory.institution("BBB", criticality_tier=3)
    people = [make_trainee(aaa, f"p{n}@aaa.ml") for n in range(4)]
    make_trainee(bbb, "solo@bbb.ml")
    make_holder(aaa)
    session_id = make_session(seats=5)
    for trainee, outcome in ((people[0], Outcome.COMPLETED), (people[1], Outcome.FAILED)):
        enrolment = training.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
            session_id=session_id, trainee_id=trainee))
        training.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                               data=EnrolmentResult(outcome=outcome, version=enrolment.version))
    db.commit()
    return aaa, bbb


def test_overview_counts_coverage_per_institution_and_nation(
        db: Session, factory: Factory, make_trainee: Callable[..., int],
        make_session: Callable[..., int], make_holder: Callable[..., int]) -> None:
    aaa, bbb = _two_institutions(db, factory, make_trainee, make_session, make_holder)
    found = service.overview(session=db, actor=ADMIN)
    rows = {r.acronym: r for r in found.institutions}
    assert (rows["AAA"].trainees, rows["AAA"].people_trained,
            rows["AAA"].training_coverage) == (4, 1, 25)
    assert (rows["AAA"].seats_required, rows["AAA"].seats_filled,
            rows["AAA"].role_coverage) == (2, 1, 50)
    assert (rows["BBB"].trainees, rows["BBB"].people_trained, rows["BBB"].role_coverage) \
        == (1, 0, 0)
    assert (found.total.trainees, found.total.people_trained,
            found.total.training_coverage) == (5, 1, 20)
    assert (found.total.seats_required, found.total.seats_filled) == (4, 1)
    # The session ended on 2026-10-07: one completion in the fourth quarter
    assert [(q.quarter, q.completions) for q in found.quarters] == [("2026-T4", 1)]
    # An institution's focal point sees its own institution only
    mine = service.overview(session=db, actor=actor_of(Role.FOCAL_POINT, bbb))
    assert [r.acronym for r in mine.institutions] == ["BBB"]
    assert mine.total.trainees == 1 and mine.quarters == []


def test_page_api_and_downloads(
        db: Session, factory: Factory, make_trainee: Callable[..., int],
        make_session: Callable[..., int], make_holder: Callable[..., int],
        login_as: Callable[..., TestClient]) -> None:
    aaa, _bbb = _two_institutions(db, factory, make_trainee, make_session, make_holder)
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/awareness/dashboard")
    assert page.status_code == 200
    assert "Culture de la sécurité numérique" in page.text and "25 %" in page.text
    api = browser.get("/api/v1/awareness/overview")
    assert api.status_code == 200
    body = api.json()
    assert body["total"]["people_trained"] == 1
    assert body["quarters"] == [{"quarter": "2026-T4", "completions": 1, "phishing_targets": 0,
                                 "click_rate": None, "report_rate": None}]
    as_csv = browser.get("/awareness/dashboard/export.csv")
    assert as_csv.status_code == 200 and "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [(r["acronym"], r["people_trained"], r["training_coverage"]) for r in rows] == [
        ("AAA", "1", "25"), ("BBB", "0", "0"), ("NATION", "1", "20")]
    as_xlsx = browser.get("/awareness/dashboard/export.xlsx")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert [c.value for c in sheet[2]][:6] == ["AAA", "Institution AAA", 3, 4, 1, 25]
    as_pdf = browser.get("/awareness/dashboard/export.pdf")
    assert as_pdf.status_code == 200 and as_pdf.content.startswith(b"%PDF")
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert browser.get("/awareness/dashboard/export.docx").status_code == 404
    db.expire_all()
    formats = [e.details for e in db.scalars(select(AuditEntry).where(
        AuditEntry.action == "awareness.dashboard.download"))]
    assert len(formats) == 3 and all('"format"' in d for d in formats)


def test_an_institution_user_downloads_only_its_own_rows(
        db: Session, factory: Factory, make_trainee: Callable[..., int],
        make_session: Callable[..., int], make_holder: Callable[..., int],
        login_as: Callable[..., TestClient]) -> None:
    _aaa, bbb = _two_institutions(db, factory, make_trainee, make_session, make_holder)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=bbb))
    rows = list(csv.DictReader(io.StringIO(
        browser.get("/awareness/dashboard/export.csv").content.decode("utf-8-sig"))))
    assert [r["acronym"] for r in rows] == ["BBB", "NATION"]
    assert "AAA" not in browser.get("/awareness/dashboard").text


def test_an_unknown_export_format_is_refused(db: Session) -> None:
    import pytest

    from lakana.awareness.dashboard import exports
    from lakana.core.errors import Invalid

    with pytest.raises(Invalid, match="csv, xlsx or pdf"):
        exports.export(session=db, actor=ADMIN, fmt="docx")



def test_phishing_rates_per_institution_and_quarter_without_names(
        db: Session, factory: Factory, make_exercise: Callable[..., int]) -> None:
    import datetime as dt

    from lakana.awareness.phishing import service as phishing
    from lakana.awareness.phishing.models import PhishingExercise
    from lakana.awareness.phishing.schemas import EventKind

    # Given a sent exercise of AAA: three people mailed, one clicked, two reported
    aaa = factory.institution("AAA", criticality_tier=3)
    factory.institution("BBB", criticality_tier=3)
    exercise_id = make_exercise(aaa)
    exercise = db.get(PhishingExercise, exercise_id)
    assert exercise is not None
    exercise.sent_at = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    targets = phishing.targets_of(db, exercise_id)
    for n, target in enumerate(targets):
        kinds = [EventKind.SENT] + ([EventKind.CLICKED] if n == 0 else [EventKind.REPORTED])
        phishing.add_events(db, target, kinds)
    db.commit()
    # Then the overview counts them for AAA, the nation and the quarter of sending
    found = service.overview(session=db, actor=ADMIN)
    rows = {r.acronym: r for r in found.institutions}
    figures = rows["AAA"].phishing
    assert (figures.exercises, figures.targets, figures.click_rate, figures.report_rate) \
        == (1, 3, 33, 66)
    assert rows["BBB"].phishing.targets == 0 and rows["BBB"].phishing.click_rate is None
    assert (found.total.phishing.targets, found.total.phishing.click_rate) == (3, 33)
    assert [(q.quarter, q.phishing.targets, q.phishing.report_rate)
            for q in found.quarters] == [("2026-T2", 3, 66)]
    # And another institution's focal point sees none of it
    other = service.overview(session=db, actor=actor_of(
        Role.FOCAL_POINT, factory.institution("CCC")))
    assert other.total.phishing.exercises == 0 and other.quarters == []
