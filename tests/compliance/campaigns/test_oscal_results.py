"""OSCAL assessment results of campaigns: schema-valid, faithful to overrides and evidence,
deterministic, scoped, over the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import oscal_results
from lakana.compliance.campaigns.models import Assessment
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, OverrideIn
from lakana.compliance.cli import app as cli_app
from lakana.compliance.oscal import NS
from lakana.compliance.oscal_schema import schema_problems
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.errors import Conflict, NotFound
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.compliance.conftest import actor_of
from tests.conftest import Factory

API = "/api/v1/compliance"
Client = Callable[..., TestClient]


def _assessment_of(session: Session, campaign_id: int, institution_id: int) -> int:
    found = session.scalar(select(Assessment.id).where(
        Assessment.campaign_id == campaign_id, Assessment.institution_id == institution_id))
    assert found is not None
    return found


def _answer_all(session_factory: sessionmaker[Session], settings: Settings,
                assessment_id: int, institution_id: int) -> None:
    """Answer gov-1 implemented (with evidence), gov-2 partial, gov-3 not applicable,
    net-1 not implemented; submit; an auditor overrides gov-1 to partial."""
    focal = actor_of(Role.FOCAL_POINT, institution_id)
    ratings = {"gov-1": AnswerIn(status=AnswerStatus.IMPLEMENTED, maturity=4,
                                 comment="Politique signée."),
               "gov-2": AnswerIn(status=AnswerStatus.PARTIAL, maturity=2),
               "gov-3": AnswerIn(status=AnswerStatus.NOT_APPLICABLE,
                                 justification="Pas de données personnelles."),
               "net-1": AnswerIn(status=AnswerStatus.NOT_IMPLEMENTED, maturity=0)}
    with session_factory.begin() as session:
        for answer in answer_service.list_answers(session=session, actor=focal,
                                                  assessment_id=assessment_id):
            data = ratings[answer.control_id]
            data.version = answer.version
            answer_service.update_answer(session=session, actor=focal, answer_id=answer.id,
                                         data=data)
            if answer.control_id == "gov-1":
                answer_service.add_evidence(session=session, actor=focal, settings=settings,
                                            answer_id=answer.id, data=b"%PDF-1.4 politique",
                                            name="politique.pdf")
    with session_factory.begin() as session:
        assessment = session.get(Assessment, assessment_id)
        assert assessment is not None
        answer_service.transition(session=session, actor=focal, assessment_id=assessment_id,
                                  action="submit", version=assessment.version)
        gov1 = next(a for a in answer_service.list_answers(
            session=session, actor=ADMIN, assessment_id=assessment_id) if a.control_id == "gov-1")
        answer_service.override_answer(
            session=session, actor=actor_of(Role.AUDITOR), answer_id=gov1.id,
            data=OverrideIn(status=AnswerStatus.PARTIAL, maturity=2,
                            reason="Politique non diffusée\naux agents.", version=gov1.version))


@pytest.fixture
def answered(world: World, session_factory: sessionmaker[Session], settings: Settings
             ) -> tuple[int, int, int]:
    """A campaign on body A and body B; A's assessment answered, submitted and overridden.
    Returns (campaign id, A's assessment id, B's assessment id)."""
    campaign_id = make_campaign(session_factory, world,
                                institution_ids=[world.body_a, world.body_b])
    with session_factory() as session:
        mine = _assessment_of(session, campaign_id, world.body_a)
        theirs = _assessment_of(session, campaign_id, world.body_b)
    _answer_all(session_factory, settings, mine, world.body_a)
    return campaign_id, mine, theirs


def _findings(doc: dict[str, Any], index: int = 0) -> dict[str, dict[str, Any]]:
    result = doc["assessment-results"]["results"][index]
    return {f["target"]["target-id"]: f for f in result.get("findings", [])}


def _props(item: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in item.get("props", []) if p.get("ns") == NS}


def test_assessment_results_are_schema_valid_and_faithful(
        world: World, answered: tuple[int, int, int], db: Session) -> None:
    # Given an answered, submitted assessment with an auditor's override
    _campaign_id, mine, _theirs = answered
    # When exported as OSCAL assessment results
    doc = oscal_results.assessment_results(session=db, actor=ADMIN, assessment_id=mine)
    # Then the document fits NIST's official schema (OSCAL 1.2.3)
    assert schema_problems(doc, "assessment-results") == []
    body = doc["assessment-results"]
    assert body["metadata"]["oscal-version"] == "1.2.3"
    assert body["import-ap"]["href"].startswith("urn:lakana:campaign:")
    assert [p["short-name"] for p in body["metadata"]["parties"]] == ["BODA"]
    result = body["results"][0]
    selected = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in selected] == ["gov-1", "gov-2", "gov-3", "net-1"]
    assert "end" not in result  # not approved
    # And findings carry the effective rating: the auditor's override wins
    findings = _findings(doc)
    gov1 = findings["gov-1"]
    assert gov1["target"]["status"]["state"] == "not-satisfied"
    assert _props(gov1) == {"status": "partial", "maturity": "2", "overridden": "true",
                            "self-status": "implemented", "self-maturity": "4",
                            "override-reason": "Politique non diffusée aux agents."}
    assert gov1["remarks"] == "Politique non diffusée\naux agents."
    assert findings["gov-2"]["target"]["status"] == {"state": "not-satisfied", "reason": "fail"}
    assert findings["net-1"]["target"]["status"]["state"] == "not-satisfied"
    na = findings["gov-3"]["target"]
    assert na["status"]["reason"] == "other" and na["status"]["remarks"].startswith("Pas de")
    assert na["implementation-status"] == {"state": "not-applicable"}
    assert _props(findings["gov-3"])["status"] == "not_applicable"
    # And the evidence and comment are an observation linked to the finding
    (observation,) = result["observations"]
    assert gov1["related-observations"] == [{"observation-uuid": observation["uuid"]}]
    assert observation["description"] == "Politique signée."
    (evidence,) = observation["relevant-evidence"]
    assert evidence["href"].startswith("/api/v1/compliance/evidence/")
    assert len(_props(evidence)["sha256"]) == 64


def test_exports_are_deterministic(answered: tuple[int, int, int],
                                   session_factory: sessionmaker[Session]) -> None:
    # Given the same data exported twice, in two sessions
    campaign_id, mine, _ = answered
    docs = []
    for _ in range(2):
        with session_factory() as session:
            docs.append((
                oscal_results.assessment_results(session=session, actor=ADMIN,
                                                 assessment_id=mine),
                oscal_results.campaign_results(session=session, actor=ADMIN,
                                               campaign_id=campaign_id)))
    # Then the documents are identical, UUIDs and dates included
    assert docs[0] == docs[1]
    # And the assessment's result is the same in both documents
    single, whole = docs[0]
    assert single["assessment-results"]["results"][0] in whole["assessment-results"]["results"]


def test_campaign_results_hold_one_result_per_visible_assessment(
        world: World, answered: tuple[int, int, int], db: Session) -> None:
    # Given a campaign on two institutions, one not answered yet
    campaign_id, mine, theirs = answered
    # When the agency exports it / Then it is valid with one result per assessment
    doc = oscal_results.campaign_results(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert schema_problems(doc, "assessment-results") == []
    results = doc["assessment-results"]["results"]
    assert [_props(r)["assessment-id"] for r in results] == [str(mine), str(theirs)]
    assert "findings" not in results[1]  # nothing answered: no finding
    assert len(doc["assessment-results"]["metadata"]["parties"]) == 2
    # And a focal point of A sees only A's result
    focal = actor_of(Role.FOCAL_POINT, world.body_a)
    own = oscal_results.campaign_results(session=db, actor=focal, campaign_id=campaign_id)
    assert [_props(r)["assessment-id"] for r in own["assessment-results"]["results"]] == [
        str(mine)]
    # And B's assessment is not found for them
    with pytest.raises(NotFound):
        oscal_results.assessment_results(session=db, actor=focal, assessment_id=theirs)


def test_approved_assessment_has_an_end(world: World, answered: tuple[int, int, int],
                                        session_factory: sessionmaker[Session]) -> None:
    # Given A's assessment reviewed and approved
    _, mine, _ = answered
    with session_factory.begin() as session:
        for action in ("review", "approve"):
            assessment = session.get(Assessment, mine)
            assert assessment is not None
            answer_service.transition(session=session, actor=ADMIN, assessment_id=mine,
                                      action=action, version=assessment.version)
    # Then its result ends when it was approved
    with session_factory() as session:
        doc = oscal_results.assessment_results(session=session, actor=ADMIN,
                                               assessment_id=mine)
    result = doc["assessment-results"]["results"][0]
    assert result["end"] >= result["start"]
    assert schema_problems(doc, "assessment-results") == []


def test_a_draft_campaign_has_nothing_to_export(world: World,
                                                session_factory: sessionmaker[Session],
                                                db: Session) -> None:
    # Given a campaign not launched / Then its export is refused (no assessment yet)
    campaign_id = make_campaign(session_factory, world, launch=False)
    with pytest.raises(Conflict):
        oscal_results.campaign_results(session=db, actor=ADMIN, campaign_id=campaign_id)


def test_api_downloads_and_scope(world: World, answered: tuple[int, int, int],
                                 factory: Factory, api_as: Client) -> None:
    # Given focal points of A and B
    campaign_id, mine, theirs = answered
    focal_a = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.body_a))
    # When A downloads its assessment's results
    got = focal_a.get(f"{API}/assessments/{mine}/assessment-results")
    # Then it is a JSON attachment valid against the schema
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["content-disposition"] == (
        f'attachment; filename="assessment-results-assessment-{mine}.json"')
    assert schema_problems(got.json(), "assessment-results") == []
    # And B's assessment is not found for A; the campaign export holds only A's result
    assert focal_a.get(f"{API}/assessments/{theirs}/assessment-results").status_code == 404
    whole = focal_a.get(f"{API}/campaigns/{campaign_id}/assessment-results")
    assert whole.status_code == 200
    assert len(whole.json()["assessment-results"]["results"]) == 1
    # And a focal point of an institution the campaign does not target gets 404
    outsider = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    assert outsider.get(f"{API}/campaigns/{campaign_id}/assessment-results"
                        ).status_code == 404


def test_cli_writes_a_valid_file(world: World, answered: tuple[int, int, int],
                                 settings: Settings, engine: Engine, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the CLI pointed at the test database
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    campaign_id, mine, theirs = answered
    runner = CliRunner()
    # When a campaign and one of its assessments are exported
    whole, one = tmp_path / "campaign.json", tmp_path / "one.json"
    done = runner.invoke(cli_app, ["export-results", "--campaign", str(campaign_id),
                                   "-o", str(whole)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli_app, ["export-results", "--campaign", str(campaign_id),
                                   "--assessment", str(mine), "-o", str(one)])
    assert done.exit_code == 0, done.output
    # Then both files are valid assessment results
    for path, count in ((whole, 2), (one, 1)):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert schema_problems(doc, "assessment-results") == []
        assert len(doc["assessment-results"]["results"]) == count
    # And an assessment of another campaign is refused
    wrong = runner.invoke(cli_app, ["export-results", "--campaign", str(campaign_id + 1),
                                    "--assessment", str(theirs)])
    assert wrong.exit_code != 0
