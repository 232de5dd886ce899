"""Following the indicators: manual values with evidence (and a file in the store), snapshots
frozen once for an ended period with a digest that detects tampering, history; and the
same through the API, the pages and the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.strategy import tracking
from lakana.strategy.cli import app as cli_app
from lakana.strategy.models import StrategyIndicatorValue, StrategySnapshot
from tests.awareness.campaigns.conftest import actor_of
from tests.conftest import Factory, csrf_from
from tests.strategy.conftest import ADMIN
from tests.strategy.test_measures import COMPUTED_PLAN, SOURCES

TODAY = dt.date(2026, 11, 24)
BASE = "/api/v1/strategy"


@pytest.fixture
def plan(factory: Factory, session_factory: sessionmaker[Session]) -> None:
    from lakana.strategy import service

    for acronym in ("MJDH", "ANSSI-ML", "MEF"):
        factory.institution(acronym)
    with session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=COMPUTED_PLAN.encode(),
                            filename="plan.yaml")


def _entry(**fields: object) -> tracking.ValueEntry:
    return tracking.ValueEntry(**{"year": 2026, "value": 2, "evidence": "Loi 2026-01",
                                  **fields})


def test_quarter_bounds() -> None:
    assert tracking.quarter_bounds(2026, 1) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert tracking.quarter_bounds(2026, 4) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert tracking.period_of("quarterly", 2027, 2)[0] == "2027-T2"
    assert tracking.period_of("annual", 2027, None)[0] == "2027"


def test_manual_values_need_evidence_and_a_manual_indicator(
        plan: None, session_factory: sessionmaker[Session], settings: Settings) -> None:
    with pytest.raises(ValueError):
        _entry(evidence="")
    with session_factory() as session:
        with pytest.raises(Invalid):
            tracking.enter_value(session=session, actor=ADMIN, code="IND-01",
                                 data=_entry(evidence="   "))
        with pytest.raises(Invalid):
            tracking.enter_value(session=session, actor=ADMIN, code="IND-02", data=_entry())
        with pytest.raises(NotFound):
            tracking.enter_value(session=session, actor=ADMIN, code="IND-99", data=_entry())
        with pytest.raises(Forbidden):
            tracking.enter_value(session=session, actor=actor_of(Role.FOCAL_POINT, 1),
                                 code="IND-01", data=_entry())
        # A file of a type not accepted is refused
        with pytest.raises(Invalid):
            tracking.enter_value(session=session, actor=ADMIN, code="IND-01", data=_entry(),
                                 settings=settings, file_name="x.exe",
                                 file_data=b"MZ\x90\x00" + b"\x00" * 100)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(StrategyIndicatorValue)) == 0
    with session_factory.begin() as session:
        row = tracking.enter_value(session=session, actor=ADMIN, code="IND-01",
                                   data=_entry(quarter=3), settings=settings,
                                   file_name="loi.txt", file_data=b"Loi 2026-01\n")
        assert (row.period_start, row.period_end) == (dt.date(2026, 7, 1),
                                                      dt.date(2026, 9, 30))
        assert row.file_name == "loi.txt" and len(row.file_sha256) == 64
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "strategy.indicator.value")) == 1


def test_a_snapshot_is_taken_once_for_an_ended_period_and_detects_tampering(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tracking.enter_value(session=session, actor=ADMIN, code="IND-01",
                             data=_entry(quarter=2, value=2))
    with session_factory() as session:
        with pytest.raises(Invalid):  # the fourth quarter has not ended on 24 November
            tracking.take_snapshot(session=session, actor=ADMIN, kind="quarterly",
                                   year=2026, quarter=4, today=TODAY)
        with pytest.raises(Invalid):
            tracking.take_snapshot(session=session, actor=ADMIN, kind="annual", year=2026,
                                   today=TODAY)
        with pytest.raises(Forbidden):
            tracking.take_snapshot(session=session, actor=actor_of(Role.FOCAL_POINT, 1),
                                   kind="quarterly", year=2026, quarter=1, today=TODAY)
    with session_factory.begin() as session:
        snap = tracking.take_snapshot(session=session, actor=ADMIN, kind="quarterly",
                                      year=2026, quarter=3, today=TODAY,
                                      sources=SOURCES)
        assert snap.label == "2026-T3" and tracking.verify_snapshot(snap)
    with session_factory() as session:
        with pytest.raises(Conflict):
            tracking.take_snapshot(session=session, actor=ADMIN, kind="quarterly",
                                   year=2026, quarter=3, today=TODAY)
        snap = tracking.get_snapshot(session=session, actor=ADMIN, label="2026-T3")
        frozen = {i["code"]: i for i in snap.content["indicators"]}
        # The year to date measured on the quarter's last day, with the evidence
        assert frozen["IND-02"]["value"] == 273 and frozen["IND-02"]["period_end"] == \
            "2026-09-30"
        assert frozen["IND-01"]["value"] == 2
        assert frozen["IND-01"]["evidence"]["note"] == "Loi 2026-01"
        assert frozen["IND-03"]["value"] is None and frozen["IND-03"]["reason"]
        assert snap.content["plan"]["axes"][0]["code"] == "A1"
    # Whoever alters the stored content is found out by the digest
    with session_factory.begin() as session:
        content = dict(snap.content)
        content["indicators"] = [{**i, "value": 999} if i["code"] == "IND-01" else i
                                 for i in content["indicators"]]
        session.execute(update(StrategySnapshot).values(content=content))
    with session_factory() as session:
        tampered = tracking.get_snapshot(session=session, actor=ADMIN, label="2026-T3")
        assert not tracking.verify_snapshot(tampered)


def test_history_lists_years_then_snapshots(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tracking.take_snapshot(session=session, actor=ADMIN, kind="quarterly", year=2026,
                               quarter=1, today=TODAY, sources=SOURCES)
    with session_factory() as session:
        found, points = tracking.history(session=session, actor=ADMIN, code="IND-02",
                                         today=TODAY, sources=SOURCES)
    assert found.code == "IND-02"
    assert [(p.label, p.frozen) for p in points] == [("2026", False), ("2026-T1", True)]
    assert points[0].value == 328 and points[1].value == 90


def test_api_measures_enters_and_freezes(
        factory: Factory, plan: None, api_as: Callable[..., TestClient]) -> None:
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=1))
    measured = focal.get(f"{BASE}/indicators", params={"year": 2026})
    assert measured.status_code == 200
    by_code = {i["code"]: i for i in measured.json()["indicators"]}
    # The reason is given in words (here in French, the default language)
    assert by_code["IND-03"]["value"] is None
    assert "nowhere.to_be_found" in by_code["IND-03"]["reason_text"]
    assert focal.get(f"{BASE}/indicators", params={"year": 2040}).status_code == 422
    # Entering a value: the agency only; the evidence is required
    body = {"year": 2026, "value": 2, "evidence": "Loi 2026-01"}
    assert focal.post(f"{BASE}/indicators/IND-01/values", json=body).status_code == 403
    missing = agency.post(f"{BASE}/indicators/IND-01/values", json={**body, "evidence": ""})
    assert missing.status_code == 422
    computed = agency.post(f"{BASE}/indicators/IND-02/values", json=body)
    assert computed.status_code == 422 and "IND-02" in computed.json()["detail"]
    assert agency.post(f"{BASE}/indicators/IND-99/values", json=body).status_code == 404
    saved = agency.post(f"{BASE}/indicators/IND-01/values", json=body)
    assert saved.status_code == 201 and saved.json()["evidence"] == "Loi 2026-01"
    history = focal.get(f"{BASE}/indicators/IND-01").json()
    assert history["values"][0]["value"] == 2
    # Snapshots: an ended quarter once; the list and the content with its digest
    taken = agency.post(f"{BASE}/snapshots", json={"kind": "quarterly", "year": 2026,
                                                   "quarter": 1})
    assert taken.status_code == 201, taken.text
    assert agency.post(f"{BASE}/snapshots", json={"kind": "quarterly", "year": 2026,
                                                  "quarter": 1}).status_code == 409
    assert agency.post(f"{BASE}/snapshots", json={"kind": "weekly", "year": 2026}
                       ).status_code == 422
    assert focal.post(f"{BASE}/snapshots", json={"kind": "annual", "year": 2026}
                      ).status_code == 403
    assert [s["label"] for s in focal.get(f"{BASE}/snapshots").json()] == ["2026-T1"]
    frozen = focal.get(f"{BASE}/snapshots/2026-T1").json()
    assert frozen["verified"] is True and frozen["digest"] == taken.json()["digest"]
    assert focal.get(f"{BASE}/snapshots/2099-T1").status_code == 404


def test_pages_show_the_dashboard_enter_values_and_freeze(
        factory: Factory, plan: None, login_as: Callable[..., TestClient]) -> None:
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    board = browser.get("/strategy/dashboard?year=2026")
    assert board.status_code == 200
    assert "Tableau de bord de la stratégie" in board.text
    assert "Aucun domaine installé ne calcule" in board.text
    assert "days counted" not in board.text  # a test source: not installed in the app
    page = browser.get("/strategy/indicators/IND-01")
    assert page.status_code == 200 and "Saisir une valeur" in page.text
    assert 'href="/strategy/indicators/IND-01/edit"' in page.text
    csrf = csrf_from(page.text)
    refused = browser.post("/strategy/indicators/IND-01/values",
                           data={"csrf_token": csrf, "year": "2026", "value": "2",
                                 "evidence": ""})
    assert refused.status_code == 422
    saved = browser.post("/strategy/indicators/IND-01/values",
                         data={"csrf_token": csrf, "year": "2026", "quarter": "2",
                               "value": "2", "evidence": "Loi 2026-01"},
                         files={"file": ("loi.txt", b"Loi 2026-01\n", "text/plain")},
                         follow_redirects=False)
    assert saved.status_code == 303
    shown = browser.get("/strategy/indicators/IND-01").text
    assert "Loi 2026-01" in shown and "loi.txt" in shown
    listing = browser.get("/strategy/snapshots")
    assert "Aucun instantané" in listing.text
    early = browser.post("/strategy/snapshots", data={
        "csrf_token": csrf, "kind": "annual", "year": "2030", "quarter": ""})
    assert early.status_code == 422 and "2030" in early.text
    done = browser.post("/strategy/snapshots", data={
        "csrf_token": csrf, "kind": "quarterly", "year": "2026", "quarter": "1"},
        follow_redirects=False)
    assert done.status_code == 303
    assert "2026-T1" in browser.get("/strategy/snapshots").text
    # A focal point reads but gets no forms
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=1))
    focal_page = focal.get("/strategy/indicators/IND-01").text
    assert "Saisir une valeur" not in focal_page and "/edit" not in focal_page
    assert focal.post("/strategy/snapshots", data={
        "csrf_token": csrf_from(focal.get("/strategy/snapshots").text), "kind": "annual",
        "year": "2026"}).status_code == 403


def test_cli_lists_enters_and_freezes(plan: None, settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["indicators", "--year", "2026"])
    assert shown.exit_code == 0, shown.output
    assert "IND-03" in shown.output and "nowhere.to_be_found" in shown.output
    bad = runner.invoke(cli_app, ["value", "IND-01", "--year", "2026",
                                  "--value", "2", "--evidence", ""])
    assert bad.exit_code == 2 and "evidence" in bad.output
    ok = runner.invoke(cli_app, ["value", "IND-01", "--year", "2026", "--value",
                                 "2", "--evidence", "Loi 2026-01"])
    assert ok.exit_code == 0, ok.output
    early = runner.invoke(cli_app, ["snapshot", "--year", "2030"])
    assert early.exit_code == 2 and "has not ended" in early.output
    taken = runner.invoke(cli_app, ["snapshot", "--year", "2026", "--quarter",
                                    "1"])
    assert taken.exit_code == 0 and "2026-T1" in taken.output
