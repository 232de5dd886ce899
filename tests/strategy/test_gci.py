"""Benchmarking against the ITU Global Cybersecurity Index: the pillars and questions, the
plan indicators by pillar with their evaluation, the scores, and saving an answer (evidence
required, known indicators only, 409 when stale, agency only, ledgered) through the service,
the API and the page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.strategy import gci, service
from lakana.strategy.demo import DRAFT_PLAN
from lakana.strategy.gci_schemas import GciAnswer, GciAnswerIn
from lakana.strategy.models import StrategyIndicator, StrategyIndicatorValue
from lakana.strategy.schemas import GCI_PILLARS
from tests.awareness.campaigns.conftest import actor_of
from tests.conftest import Factory, csrf_from
from tests.core.test_web_pages import _unlabelled
from tests.strategy.conftest import ADMIN

API = "/api/v1/strategy/gci"
END_OF_2026 = dt.date(2026, 12, 31)
AGENCY = actor_of(Role.AGENCY_OFFICER)


@pytest.fixture
def plan(session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    """The draft plan, with IND-01 (legal, manual) at its 2026 target of 3."""
    with session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=DRAFT_PLAN.read_bytes(),
                            filename="plan.yaml")
        indicator = session.scalar(select(StrategyIndicator)
                                   .where(StrategyIndicator.code == "IND-01"))
        assert indicator is not None
        session.add(StrategyIndicatorValue(
            indicator_id=indicator.id, period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 6, 30), value=3, evidence="Journal officiel n° 12",
            entered_by="tests"))


def _answer(answer: str, **fields: object) -> GciAnswerIn:
    return GciAnswerIn.model_validate({"answer": answer, **fields})


def _save(session_factory: sessionmaker[Session], code: str, data: GciAnswerIn,
          version: int | None) -> int:
    with session_factory.begin() as session:
        return gci.save_answer(session=session, actor=AGENCY, code=code, data=data,
                               version=version).version


def _ledger(session_factory: sessionmaker[Session]) -> list[AuditEntry]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("strategy.gci_answer.%")).order_by(AuditEntry.seq)))


def test_pillars_and_questions_load() -> None:
    # Given the shipped file / When it is read
    pillars = gci.pillars()
    # Then the five ITU pillars come in order, each with 3 to 5 questions in both languages
    assert tuple(p.code for p in pillars) == GCI_PILLARS
    assert pillars is gci.pillars()  # read once
    codes = [q.code for p in pillars for q in p.questions]
    assert len(codes) == len(set(codes)) and "LEG-1" in codes and "COO-4" in codes
    for pillar in pillars:
        assert 3 <= len(pillar.questions) <= 5
        assert pillar.title["fr"] and pillar.title["en"] and pillar.description["fr"]
        assert all(q.text["fr"] and q.text["en"] for q in pillar.questions)
    assert gci.question("TEC-1").pillar == "technical"
    with pytest.raises(NotFound):
        gci.question("LEG-99")


def test_score_counts_partial_answers_half() -> None:
    assert gci.score_of([GciAnswer.YES, GciAnswer.PARTIAL, GciAnswer.NO,
                         GciAnswer.UNKNOWN]) == 37.5
    assert gci.score_of([GciAnswer.YES] * 3) == 100.0
    assert gci.score_of([]) == 0.0


def test_assessment_maps_indicators_by_pillar_with_scores_and_evidence(
        session_factory: sessionmaker[Session], plan: None) -> None:
    # Given two legal answers (yes with a note, partial with a reference) and one no
    _save(session_factory, "LEG-1", _answer("yes", evidence_note="Loi n° 2019-056",
                                            indicator_codes=["IND-01", "IND-01", " "]), 0)
    _save(session_factory, "LEG-2", _answer("partial", evidence_url="Décret 2021-0012"), 0)
    _save(session_factory, "TEC-1", _answer("no"), 0)
    # When the assessment is read for 2026
    with session_factory() as session:
        found = gci.self_assessment(session=session, actor=actor_of(Role.FOCAL_POINT),
                                    year=2026, today=END_OF_2026)
    pillars = {p.code: p for p in found.pillars}
    # Then every pillar is there, scored on its answers (partial counts half)
    assert list(pillars) == list(GCI_PILLARS) and found.year == 2026
    legal = pillars["legal"]
    assert legal.score == 37.5 and legal.answered == 2
    assert pillars["technical"].score == 0 and pillars["technical"].answered == 1
    assert found.score == 7.5
    assert legal.questions[0].answer == "yes" and legal.questions[0].version == 1
    assert legal.questions[0].indicator_codes == ["IND-01"]
    assert legal.questions[2].answer == "unknown" and legal.questions[2].version == 0
    # And the plan's indicators come under their pillar, measured against the year's target
    assert [i.code for i in legal.indicators] == ["IND-01"]
    assert (legal.indicators[0].value, legal.indicators[0].target,
            legal.indicators[0].status) == (3, 3, "met")
    assert {"IND-06", "IND-07", "IND-09", "IND-10"} <= {
        i.code for i in pillars["technical"].indicators}
    missing = pillars["capacity"].indicators[0]
    assert missing.status == "none" and missing.value is None and missing.reason
    # And the evidence lists the answers' notes and links, and the indicators with a value
    assert [(e.kind, e.code) for e in legal.evidence] == [
        ("answer", "LEG-1"), ("answer", "LEG-2"), ("indicator", "IND-01")]
    assert legal.evidence[1].url == "Décret 2021-0012"
    assert legal.evidence[2].note == "Journal officiel n° 12"
    assert pillars["capacity"].evidence == []


def test_save_answer_rules_and_ledger(session_factory: sessionmaker[Session],
                                      plan: None) -> None:
    # Given the agency answering LEG-1
    yes = _answer("yes", evidence_note="Loi n° 2019-056", indicator_codes=["IND-01"])
    # When the answer is yes or partial without evidence: refused, with the field
    for answer in ("yes", "partial"):
        with pytest.raises(Invalid) as refused:
            _save(session_factory, "LEG-1", _answer(answer, evidence_note=""), 0)
        assert "needs evidence" in refused.value.message
        assert refused.value.errors[0]["field"] == "evidence_note"
    # When a linked indicator is not in the plan: refused, naming it
    with pytest.raises(Invalid) as unknown:
        _save(session_factory, "LEG-1", _answer("no", indicator_codes=["IND-01", "IND-99"]), 0)
    assert unknown.value.params == {"code": "IND-99"}
    # When the question does not exist: 404
    with pytest.raises(NotFound):
        _save(session_factory, "LEG-99", yes, 0)
    # When a focal point answers: forbidden
    with session_factory() as session, pytest.raises(Forbidden):
        gci.save_answer(session=session, actor=actor_of(Role.FOCAL_POINT, 1), code="LEG-1",
                        data=yes, version=0)
    # Then nothing was saved or ledgered
    assert _ledger(session_factory) == []
    # When it is saved, then changed with the version read: ledgered each time
    assert _save(session_factory, "LEG-1", yes, 0) == 1
    assert _save(session_factory, "LEG-1", _answer("no", evidence_note="Abrogée"), 1) == 2
    # And a stale or missing version is refused; saving the same answer changes nothing
    with pytest.raises(Conflict):
        _save(session_factory, "LEG-1", yes, 1)
    with pytest.raises(Conflict):
        _save(session_factory, "LEG-2", yes, 3)  # never answered: version 0
    with pytest.raises(Invalid):
        _save(session_factory, "LEG-1", yes, None)
    assert _save(session_factory, "LEG-1", _answer("no", evidence_note="Abrogée"), 2) == 2
    entries = _ledger(session_factory)
    assert [e.action for e in entries] == ["strategy.gci_answer.create",
                                           "strategy.gci_answer.update"]
    assert entries[0].object_type == "strategy_gci_answer"
    assert entries[0].object_repr == "LEG-1 yes"
    assert entries[1].actor == AGENCY.name


def test_api_reads_and_saves_answers(factory: Factory, plan: None,
                                     institutions: dict[str, int],
                                     api_as: Callable[..., TestClient]) -> None:
    # Given the agency, a focal point and an institution viewer
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=institutions["MEF"]))
    viewer = api_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=institutions["MEF"]))
    # When the agency answers yes without evidence: 422 with the (French) message
    refused = agency.put(f"{API}/LEG-1", json={"answer": "yes", "version": 0})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "doit être étayée" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "evidence_note"
    # When it names an indicator the plan lacks: 422 naming it; an unknown question: 404
    unknown = agency.put(f"{API}/LEG-1", json={"answer": "no", "version": 0,
                                              "indicator_codes": ["IND-99"]})
    assert unknown.status_code == 422 and "IND-99" in unknown.json()["detail"]
    assert agency.put(f"{API}/LEG-99", json={"answer": "no", "version": 0}).status_code == 404
    assert agency.put(f"{API}/LEG-1", json={"answer": "maybe", "version": 0}
                      ).status_code == 422
    # When it answers with evidence: saved, version 1 in the ETag
    saved = agency.put(f"{API}/LEG-1", json={
        "answer": "yes", "evidence_note": "Loi n° 2019-056",
        "evidence_url": "https://sgg-mali.ml/loi-2019-056", "indicator_codes": ["IND-01"],
        "version": 0})
    assert saved.status_code == 200, saved.text
    assert saved.headers["ETag"] == '"1"' and saved.json()["answer"] == "yes"
    # When it saves with a stale version (body or If-Match): 409
    stale = agency.put(f"{API}/LEG-1", json={"answer": "no"}, headers={"If-Match": '"0"'})
    assert stale.status_code == 409
    # And the focal point and the viewer may read but not answer
    assert focal.put(f"{API}/LEG-1", json={"answer": "no", "version": 1}).status_code == 403
    assert viewer.put(f"{API}/LEG-1", json={}).status_code == 403
    read = focal.get(API, params={"year": 2026})
    assert read.status_code == 200
    legal = read.json()["pillars"][0]
    assert legal["code"] == "legal" and legal["score"] == 25.0
    assert legal["questions"][0]["evidence_note"] == "Loi n° 2019-056"
    assert legal["indicators"][0]["code"] == "IND-01"
    assert focal.get(API, params={"year": 1999}).status_code == 422


def test_page_shows_pillars_and_saves_answers_in_french(
        factory: Factory, plan: None, institutions: dict[str, int],
        login_as: Callable[..., TestClient]) -> None:
    # Given the agency on the GCI page
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/strategy/gci?year=2026")
    assert page.status_code == 200
    assert "Mesures juridiques" in page.text and "Mesures de coopération" in page.text
    assert "IND-01" in page.text and "Répondre à cette question" in page.text
    assert _unlabelled(page.text) == []
    ids = re.findall(r' id="([^"]+)"', page.text)
    assert len(ids) == len(set(ids))
    csrf = csrf_from(page.text)
    form = {"csrf_token": csrf, "answer": "yes", "evidence_note": "", "evidence_url": "",
            "indicator_codes": "", "version": "0", "year": "2026"}
    # When it answers yes without evidence: the page again, with the problem
    refused = browser.post("/strategy/gci/LEG-1", data=form)
    assert refused.status_code == 422 and "doit être étayée" in refused.text
    unknown = browser.post("/strategy/gci/LEG-1", data={**form, "answer": "no",
                                                         "indicator_codes": "IND-01, IND-99"})
    assert unknown.status_code == 422 and "IND-99" in unknown.text
    assert browser.post("/strategy/gci/LEG-99", data=form).status_code == 404
    # When it answers with a note and a link: saved, back on the page
    saved = browser.post("/strategy/gci/LEG-1", data={
        **form, "evidence_note": "Loi n° 2019-056 sur la cybercriminalité",
        "evidence_url": "https://sgg-mali.ml/loi", "indicator_codes": "IND-01"},
        follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/strategy/gci?year=2026#q-LEG-1"
    shown = browser.get("/strategy/gci?year=2026").text
    assert "Loi n° 2019-056 sur la cybercriminalité" in shown
    assert 'href="https://sgg-mali.ml/loi"' in shown and "25 %" in shown
    # When it saves again with the version it first read: 409
    stale = browser.post("/strategy/gci/LEG-1", data={**form, "answer": "no"})
    assert stale.status_code == 409 and "modifié" in stale.text
    # And a focal point reads the page without the forms, and may not post
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=institutions["MEF"]))
    read = focal.get("/strategy/gci")
    assert read.status_code == 200 and "Répondre à cette question" not in read.text
    posted = focal.post("/strategy/gci/LEG-1",
                        data={**form, "csrf_token": csrf_from(read.text)})
    assert posted.status_code == 403


def test_page_and_api_in_english(factory: Factory, plan: None,
                                 login_as: Callable[..., TestClient]) -> None:
    # Given an English-speaking reader / Then pillars and questions are in English
    browser = login_as(factory.user(Role.AUDITOR, language="en"))
    page = browser.get("/strategy/gci")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "Legal measures" in page.text and "national incident response team" in page.text
