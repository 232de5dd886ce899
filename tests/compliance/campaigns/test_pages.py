"""Page tests of campaigns: list, new, progress table, assessment page and htmx answers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.core.auth.rbac import Role
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.conftest import Factory, csrf_from

Client = Callable[..., TestClient]


def test_officer_creates_and_launches_a_campaign(world: World, factory: Factory,
                                                 login_as: Client) -> None:
    # Given an agency officer on the new campaign form
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    form = browser.get("/compliance/campaigns/new")
    assert form.status_code == 200 and "subtree_ids" in form.text
    # When they create a campaign on the ministry and its bodies
    created = browser.post("/compliance/campaigns/new", data={
        "csrf_token": csrf_from(form.text), "name": "Campagne pages", "year": "2026",
        "profile_id": str(world.profile_id), "deadline": "2026-12-31",
        "subtree_ids": [str(world.ministry)]}, follow_redirects=False)
    assert created.status_code == 303, created.text[:500]
    detail = browser.get(created.headers["location"])
    assert "Campagne pages" in detail.text and "BODA" in detail.text
    # And launch it
    launched = browser.post(created.headers["location"] + "/launch", data={
        "csrf_token": csrf_from(detail.text), "version": "1"}, follow_redirects=True)
    # Then the page lists each institution with a progress bar and the days remaining
    assert launched.status_code == 200
    assert launched.text.count("<progress") == 4 and "0/4" in launched.text
    assert 'style="' not in launched.text


def test_missing_fields_show_the_form_again(world: World, factory: Factory,
                                            login_as: Client) -> None:
    # Given an agency officer
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    form = browser.get("/compliance/campaigns/new")
    # When no institution is chosen, then the form comes back with the reason
    response = browser.post("/compliance/campaigns/new", data={
        "csrf_token": csrf_from(form.text), "name": "Vide", "year": "2026",
        "profile_id": str(world.profile_id), "deadline": "2026-12-31"})
    assert response.status_code == 422 and "institution" in response.text


def test_focal_point_answers_inline(world: World, factory: Factory, login_as: Client,
                                    session_factory: sessionmaker[Session], db: Session) -> None:
    # Given an open assessment and its focal point on the assessment page
    make_campaign(session_factory, world)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    mine = browser.get("/compliance/my-assessments")
    assert mine.status_code == 200 and "Campagne 2026" in mine.text
    assessment = service.list_assessments(session=db, actor=ADMIN)[0]
    answer = answer_service.list_answers(session=db, actor=ADMIN,
                                         assessment_id=assessment.id)[0]
    page = browser.get(f"/compliance/assessments/{assessment.id}")
    assert page.status_code == 200 and f'id="answer-{answer.id}"' in page.text
    assert "Domaine gov" in page.text and 'name="version"' in page.text
    csrf = csrf_from(page.text)
    # When they save an answer with htmx
    saved = browser.post(f"/compliance/answers/{answer.id}", headers={"HX-Request": "true"},
                         data={"csrf_token": csrf, "version": str(answer.version),
                               "status": "implemented", "maturity": "4", "comment": "Fait"})
    # Then only the answer's fragment comes back, updated
    assert saved.status_code == 200 and "<html" not in saved.text and "Fait" in saved.text
    # When they save again from the old version, then the fragment explains the conflict
    stale = browser.post(f"/compliance/answers/{answer.id}", headers={"HX-Request": "true"},
                         data={"csrf_token": csrf, "version": str(answer.version),
                               "status": "partial", "maturity": "1"})
    assert stale.status_code == 409 and 'role="alert"' in stale.text
    # And N/A without a justification is explained too
    na = browser.post(f"/compliance/answers/{answer.id}", headers={"HX-Request": "true"},
                      data={"csrf_token": csrf, "version": str(answer.version + 1),
                            "status": "not_applicable"})
    assert na.status_code == 422 and "justification" in na.text


def test_other_institution_gets_404_on_pages(world: World, factory: Factory,
                                             login_as: Client,
                                             session_factory: sessionmaker[Session],
                                             db: Session) -> None:
    # Given an assessment of "other" and a focal point of another institution
    campaign_id = make_campaign(session_factory, world)
    assessment = service.list_assessments(session=db, actor=ADMIN)[0]
    answer = answer_service.list_answers(session=db, actor=ADMIN,
                                         assessment_id=assessment.id)[0]
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.body_a))
    csrf = csrf_from(browser.get("/account").text)
    # Then the campaign, the assessment and the answer form are all "not found"
    assert browser.get(f"/compliance/campaigns/{campaign_id}").status_code == 404
    assert browser.get(f"/compliance/assessments/{assessment.id}").status_code == 404
    assert browser.post(f"/compliance/answers/{answer.id}", data={
        "csrf_token": csrf, "version": "1", "status": "implemented",
        "maturity": "3"}).status_code == 404
