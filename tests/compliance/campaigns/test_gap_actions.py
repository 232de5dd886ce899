"""The assessment page turns a gap (partial or not implemented answer) into a remediation
action, then links to it; only people who may write actions see the button."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus
from lakana.compliance.remediation import service as remediation_service
from lakana.core.auth.rbac import Role
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.compliance.conftest import actor_of
from tests.conftest import Factory, csrf_from

Client = Callable[..., TestClient]


def _rated(session_factory: sessionmaker[Session], world: World
           ) -> tuple[int, list[Answer]]:
    """OTHER's assessment with its first answer partial, second implemented, third not
    implemented (the fourth unanswered)."""
    make_campaign(session_factory, world)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    ratings = [(AnswerStatus.PARTIAL, 2), (AnswerStatus.IMPLEMENTED, 5),
               (AnswerStatus.NOT_IMPLEMENTED, 0)]
    with session_factory.begin() as session:
        assessment = service.list_assessments(session=session, actor=focal)[0]
        answers = answer_service.list_answers(session=session, actor=focal,
                                              assessment_id=assessment.id)
        for answer, (status, maturity) in zip(answers, ratings, strict=False):
            answer_service.update_answer(session=session, actor=focal, answer_id=answer.id,
                                         data=AnswerIn(status=status, maturity=maturity,
                                                       version=answer.version))
        return assessment.id, answers


def _buttons(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'action="/compliance/answers/(\d+)/action"', html)]


def test_focal_point_creates_an_action_from_a_gap(session_factory: sessionmaker[Session],
                                                  world: World, factory: Factory,
                                                  login_as: Client, db: Session) -> None:
    # Given a focal point on an assessment with two gaps and one implemented requirement
    assessment_id, answers = _rated(session_factory, world)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    page = browser.get(f"/compliance/assessments/{assessment_id}")
    # Then only the gaps offer to create an action
    assert _buttons(page.text) == [answers[0].id, answers[2].id]
    assert "Créer une action de remédiation" in page.text
    # When they create one from the partial answer
    created = browser.post(f"/compliance/answers/{answers[0].id}/action",
                           data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    # Then the action's form opens, the action carries the requirement, the institution
    # and a priority from the requirement's weight and the institution's tier
    assert created.status_code == 303, created.text[:500]
    found = re.fullmatch(r"/compliance/actions/(\d+)/edit\?notice=created",
                         created.headers["location"])
    assert found is not None
    action = remediation_service.get_action(session=db, actor=ADMIN,
                                            action_id=int(found.group(1)))
    assert (action.answer_id, action.institution_id) == (answers[0].id, world.other)
    assert action.title.startswith(answers[0].control_id)
    assert action.priority == answer_service.gap_priority(
        weight=answers[0].requirement.weight, tier=2)
    assert browser.get(created.headers["location"]).status_code == 200
    # And the assessment page now links to the action instead of the button
    page = browser.get(f"/compliance/assessments/{assessment_id}")
    assert _buttons(page.text) == [answers[2].id]
    assert f'href="/compliance/actions/{action.id}/edit"' in page.text
    assert "Action de remédiation : " in page.text
    # And a second action for the same gap is refused with the reason
    again = browser.post(f"/compliance/answers/{answers[0].id}/action",
                         data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 409 and 'role="alert"' in again.text
    # And an implemented requirement is not a gap
    not_gap = browser.post(f"/compliance/answers/{answers[1].id}/action",
                           data={"csrf_token": csrf_from(page.text)})
    assert not_gap.status_code == 422


def test_viewer_sees_no_button_and_is_refused(session_factory: sessionmaker[Session],
                                              world: World, factory: Factory,
                                              login_as: Client) -> None:
    # Given a read-only viewer of the institution on the assessment page
    assessment_id, answers = _rated(session_factory, world)
    viewer = login_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=world.other))
    page = viewer.get(f"/compliance/assessments/{assessment_id}")
    # Then no button is shown, and posting anyway is forbidden
    assert page.status_code == 200 and _buttons(page.text) == []
    refused = viewer.post(f"/compliance/answers/{answers[0].id}/action",
                          data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 403
    # And a focal point of another institution does not learn the answer exists
    outsider = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.body_a))
    hidden = outsider.post(f"/compliance/answers/{answers[0].id}/action",
                           data={"csrf_token": csrf_from(outsider.get("/account").text)})
    assert hidden.status_code == 404


def test_agency_sees_the_button_and_the_htmx_fragment_keeps_the_link(
        session_factory: sessionmaker[Session], world: World, factory: Factory,
        login_as: Client, db: Session) -> None:
    # Given an action opened (through the API's service) for the first gap
    assessment_id, answers = _rated(session_factory, world)
    with session_factory.begin() as session:
        action = remediation_service.create_from_gap(session=session, actor=ADMIN,
                                                     answer_id=answers[0].id)
    # When an agency officer opens the page, then the other gap has a button
    officer = login_as(factory.user(Role.AGENCY_OFFICER))
    page = officer.get(f"/compliance/assessments/{assessment_id}")
    assert _buttons(page.text) == [answers[2].id]
    # And the focal point's htmx save of the first answer still shows the action's link
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    own_page = focal.get(f"/compliance/assessments/{assessment_id}")
    fresh = db.get(Answer, answers[0].id)
    assert fresh is not None
    saved = focal.post(f"/compliance/answers/{fresh.id}", headers={"HX-Request": "true"},
                       data={"csrf_token": csrf_from(own_page.text),
                             "version": str(fresh.version),
                             "status": "not_implemented", "maturity": "0"})
    assert saved.status_code == 200, saved.text[:500]
    assert f'href="/compliance/actions/{action.id}/edit"' in saved.text


@pytest.mark.parametrize(("weight", "tier", "expected"), [
    (3, 1, "critical"), (3, 2, "high"), (2, 1, "high"), (2, 2, "medium"), (1, 3, "low"),
    (1, 2, "medium")])
def test_gap_priority(weight: int, tier: int, expected: str) -> None:
    # The requirement's weight and the institution's criticality set the priority
    assert answer_service.gap_priority(weight=weight, tier=tier) == expected
