"""System-level assessments: a focal point or the agency adds, while a campaign is open, the
assessment of one information system of a target institution (service, API, pages, scoring)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Assessment
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus
from lakana.compliance.scoring import service as scoring
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.compliance.conftest import actor_of
from tests.conftest import Factory, csrf_from

API = "/api/v1/compliance"
Client = Callable[..., TestClient]


def make_system(session_factory: sessionmaker[Session], institution_id: int,
                name: str = "Messagerie") -> int:
    """An information system of ``institution_id``, committed; returns its id."""
    with session_factory.begin() as session:
        return registry_service.create_system(session=session, actor=ADMIN, data=SystemCreate(
            name=name, institution_id=institution_id, purpose="test", criticality="high",
            data_classification="internal", hosting="own_premises")).id


def _fill(session: Session, actor: Actor, assessment_id: int, status: AnswerStatus,
          maturity: int) -> None:
    for answer in answer_service.list_answers(session=session, actor=actor,
                                              assessment_id=assessment_id):
        answer_service.update_answer(session=session, actor=actor, answer_id=answer.id,
                                     data=AnswerIn(status=status, maturity=maturity,
                                                   version=answer.version))


def test_focal_point_adds_a_system_assessment(session_factory: sessionmaker[Session],
                                              world: World, db: Session) -> None:
    # Given an open campaign on an institution with an information system
    campaign_id = make_campaign(session_factory, world)
    system_id = make_system(session_factory, world.other)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    # When its focal point adds the system's assessment
    created = service.create_system_assessment(session=db, actor=focal, campaign_id=campaign_id,
                                               institution_id=world.other, system_id=system_id)
    db.flush()
    # Then it is a draft with the campaign's frozen requirements as unanswered answers
    assert (created.system_id, created.institution_id, created.status) == (
        system_id, world.other, "draft")
    answers = answer_service.list_answers(session=db, actor=focal, assessment_id=created.id)
    assert [a.control_id for a in answers] == ["gov-1", "gov-2", "gov-3", "net-1"]
    assert all(a.status is None and not a.carried_over for a in answers)
    # And the creation is in the ledger, and the focal point lists both assessments
    db.commit()
    entry = db.scalar(select(AuditEntry).where(
        AuditEntry.action == "compliance.assessment.create"))
    assert entry is not None and entry.object_id == str(created.id)
    assert entry.institution_id == world.other
    listed = service.list_assessments(session=db, actor=focal, campaign_id=campaign_id)
    assert sorted((a.system_id or 0) for a in listed) == [0, system_id]
    assert service.system_names(session=db, actor=focal, assessments=listed) == {
        system_id: "Messagerie"}


def test_refusals(session_factory: sessionmaker[Session], world: World, db: Session) -> None:
    # Given an open campaign on BODA only, systems of BODA, BODB and OTHER, and a draft one
    campaign_id = make_campaign(session_factory, world, institution_ids=[world.body_a])
    draft_id = make_campaign(session_factory, world, institution_ids=[world.body_a],
                             launch=False, year=2027)
    own = make_system(session_factory, world.body_a)
    untargeted = make_system(session_factory, world.body_b)
    foreign = make_system(session_factory, world.other)
    focal = actor_of(Role.FOCAL_POINT, world.body_a)

    def add(actor: Actor, system_id: int, institution_id: int = world.body_a,
            campaign: int = campaign_id) -> Assessment:
        return service.create_system_assessment(session=db, actor=actor, campaign_id=campaign,
                                                institution_id=institution_id,
                                                system_id=system_id)

    add(focal, own)
    # A second assessment of the same system is refused with 409 and a clear message
    with pytest.raises(Conflict) as duplicate:
        add(ADMIN, own)
    assert "already has an assessment" in duplicate.value.message
    # Another institution's system is not found for a focal point (scope) ...
    with pytest.raises(NotFound):
        add(focal, foreign)
    with pytest.raises(NotFound):
        add(focal, foreign, institution_id=world.other)
    # ... and refused with 422 for the agency when it does not belong to the institution
    with pytest.raises(Invalid) as mismatch:
        add(ADMIN, foreign)
    assert "does not belong" in mismatch.value.message
    # An institution the campaign does not target is refused
    with pytest.raises(Invalid) as untargeted_error:
        add(ADMIN, untargeted, institution_id=world.body_b)
    assert "not assessed in this campaign" in untargeted_error.value.message
    # A campaign that is not open is refused
    with pytest.raises(Conflict):
        add(ADMIN, own, campaign=draft_id)
    # A viewer or an auditor may not add one
    with pytest.raises(Forbidden):
        add(actor_of(Role.INSTITUTION_VIEWER, world.body_a), own)
    with pytest.raises(Forbidden):
        add(actor_of(Role.AUDITOR), own)


def test_carry_over_follows_the_same_system(session_factory: sessionmaker[Session],
                                            world: World, db: Session) -> None:
    # Given a 2025 campaign where a system was assessed and submitted, the institution not
    first = make_campaign(session_factory, world, year=2025)
    system_id = make_system(session_factory, world.other)
    other_system = make_system(session_factory, world.other, name="Paie")
    focal = actor_of(Role.FOCAL_POINT, world.other)
    with session_factory.begin() as session:
        old = service.create_system_assessment(session=session, actor=focal,
                                               campaign_id=first, institution_id=world.other,
                                               system_id=system_id)
        _fill(session, focal, old.id, AnswerStatus.PARTIAL, 2)
        answer_service.transition(session=session, actor=focal, assessment_id=old.id,
                                  action="submit", version=old.version)
    # When the 2026 campaign opens and the same system (and another one) is added
    second = make_campaign(session_factory, world, year=2026)
    again = service.create_system_assessment(session=db, actor=focal, campaign_id=second,
                                             institution_id=world.other, system_id=system_id)
    fresh = service.create_system_assessment(session=db, actor=focal, campaign_id=second,
                                             institution_id=world.other,
                                             system_id=other_system)
    db.flush()
    # Then the system's answers are carried over, and neither the other system's nor the
    # institution's own assessment inherit them
    carried = answer_service.list_answers(session=db, actor=focal, assessment_id=again.id)
    assert all(a.carried_over and a.status == "partial" and a.maturity == 2 for a in carried)
    assert not any(a.carried_over for a in answer_service.list_answers(
        session=db, actor=focal, assessment_id=fresh.id))
    institution = next(a for a in service.list_assessments(session=db, actor=focal,
                                                           campaign_id=second)
                       if a.system_id is None)
    assert not any(a.carried_over for a in answer_service.list_answers(
        session=db, actor=focal, assessment_id=institution.id))


def test_api_creates_and_shows_system_assessments(session_factory: sessionmaker[Session],
                                                  world: World, factory: Factory,
                                                  api_as: Client) -> None:
    # Given an open campaign, a system of the target institution and one of another
    campaign_id = make_campaign(session_factory, world, institution_ids=[world.body_a])
    system_id = make_system(session_factory, world.body_a)
    foreign = make_system(session_factory, world.other)
    officer = api_as(factory.user(Role.AGENCY_OFFICER))
    # When the agency adds the system's assessment
    created = officer.post(f"{API}/campaigns/{campaign_id}/assessments",
                           json={"institution_id": world.body_a, "system_id": system_id})
    # Then 201 with the system's id and name and its progress
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["system_id"], body["system_name"]) == (system_id, "Messagerie")
    assert body["progress"]["total"] == 4
    # And a second one is refused with 409 and a French problem
    again = officer.post(f"{API}/campaigns/{campaign_id}/assessments",
                         json={"institution_id": world.body_a, "system_id": system_id})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "déjà une évaluation" in again.json()["detail"]
    # And a system of another institution is refused with 422
    wrong = officer.post(f"{API}/campaigns/{campaign_id}/assessments",
                         json={"institution_id": world.body_a, "system_id": foreign})
    assert wrong.status_code == 422 and "n'appartient pas" in wrong.json()["detail"]
    # And a focal point of another institution does not learn the campaign exists
    outsider = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    hidden = outsider.post(f"{API}/campaigns/{campaign_id}/assessments",
                           json={"institution_id": world.other, "system_id": foreign})
    assert hidden.status_code == 404
    # And the list shows the system's name
    listed = officer.get(f"{API}/assessments", params={"campaign_id": campaign_id}).json()
    assert sorted((a["system_name"] or "") for a in listed) == ["", "Messagerie"]


def test_focal_point_uses_the_form(session_factory: sessionmaker[Session], world: World,
                                   factory: Factory, login_as: Client) -> None:
    # Given an open campaign and a focal point whose institution has two systems
    campaign_id = make_campaign(session_factory, world)
    first = make_system(session_factory, world.other)
    make_system(session_factory, world.other, name="Paie")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    mine = browser.get("/compliance/my-assessments")
    assert "Évaluer un système d'information" in mine.text
    assert f'<option value="{first}">OTHER — Messagerie</option>' in mine.text
    target = f"/compliance/campaigns/{campaign_id}/assessments"
    assert f'action="{target}"' in mine.text
    # When they assess the first system through the form
    created = browser.post(target, data={
        "csrf_token": csrf_from(mine.text), "system_id": str(first)}, follow_redirects=False)
    # Then its assessment page opens, naming the system
    assert created.status_code == 303, created.text[:500]
    page = browser.get(created.headers["location"])
    assert page.status_code == 200 and "Messagerie" in page.text
    assert "Système d'information" in page.text
    # And the lists name it while the form offers only the other system
    mine = browser.get("/compliance/my-assessments")
    assert "Système d'information : Messagerie" in mine.text
    assert f'<option value="{first}">' not in mine.text and "OTHER — Paie" in mine.text
    # When the same system is posted again, the campaign page explains the refusal
    again = browser.post(target, data={
        "csrf_token": csrf_from(mine.text), "system_id": str(first)})
    assert again.status_code == 409 and "déjà une évaluation" in again.text


def test_agency_uses_the_campaign_page_and_a_viewer_cannot(
        session_factory: sessionmaker[Session], world: World, factory: Factory,
        login_as: Client) -> None:
    # Given an open campaign on BODA and OTHER, with one system each
    campaign_id = make_campaign(session_factory, world,
                                institution_ids=[world.body_a, world.other])
    system_id = make_system(session_factory, world.body_a)
    make_system(session_factory, world.other, name="Paie")
    officer = login_as(factory.user(Role.AGENCY_OFFICER))
    detail = officer.get(f"/compliance/campaigns/{campaign_id}")
    assert "BODA — Messagerie" in detail.text and "OTHER — Paie" in detail.text
    # When the officer assesses BODA's system from the campaign page
    created = officer.post(f"/compliance/campaigns/{campaign_id}/assessments", data={
        "csrf_token": csrf_from(detail.text), "system_id": str(system_id)},
        follow_redirects=True)
    # Then the progress table names the system
    assert created.status_code == 200
    detail = officer.get(f"/compliance/campaigns/{campaign_id}")
    assert "Système d'information : Messagerie" in detail.text
    assert "BODA — Messagerie" not in detail.text
    # And a viewer of OTHER sees no form and is refused the route
    viewer = login_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=world.other))
    page = viewer.get(f"/compliance/campaigns/{campaign_id}")
    assert page.status_code == 200 and "system_id" not in page.text
    refused = viewer.post(f"/compliance/campaigns/{campaign_id}/assessments", data={
        "csrf_token": csrf_from(page.text), "system_id": str(system_id)})
    assert refused.status_code == 403


def _institution_and_system(session_factory: sessionmaker[Session], world: World
                            ) -> tuple[int, int, int]:
    """A campaign where the institution answers 4/5 everywhere and its system 0."""
    campaign_id = make_campaign(session_factory, world)
    system_id = make_system(session_factory, world.other)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    with session_factory.begin() as session:
        own = service.list_assessments(session=session, actor=focal, campaign_id=campaign_id)[0]
        _fill(session, focal, own.id, AnswerStatus.IMPLEMENTED, 4)
        system = service.create_system_assessment(session=session, actor=focal,
                                                  campaign_id=campaign_id,
                                                  institution_id=world.other,
                                                  system_id=system_id)
        _fill(session, focal, system.id, AnswerStatus.NOT_IMPLEMENTED, 0)
        return campaign_id, own.id, system.id


def test_heatmap_cell_links_the_institution_assessment(session_factory: sessionmaker[Session],
                                                       world: World, db: Session) -> None:
    # Given an institution assessment and a later system assessment in the same campaign
    campaign_id, own_id, _system_id = _institution_and_system(session_factory, world)
    # When the heatmap is computed, then the institution's cells drill down to its own
    heat = scoring.heatmap(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert [c.assessment_id for c in heat.rows[0].cells if c] == [own_id, own_id]


def test_system_assessments_do_not_move_the_institution_score(
        session_factory: sessionmaker[Session], world: World, db: Session) -> None:
    # Given an institution at 80/100 whose system answered "not implemented" everywhere
    campaign_id, _own, _system = _institution_and_system(session_factory, world)
    # Then the institution's (and national) score is still its own self-assessment's
    heat = scoring.heatmap(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert heat.rows[0].total.score == 80.0
