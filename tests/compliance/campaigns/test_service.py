"""Service tests of campaigns: targets, answers, workflow, override, carry-over, score."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, OverrideIn
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.notifications.models import Notification
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.compliance.conftest import actor_of
from tests.conftest import Factory


def _fill(session: Session, actor: object, assessment_id: int,
          ratings: dict[str, tuple[AnswerStatus, int | None]]) -> None:
    for answer in answer_service.list_answers(session=session, actor=ADMIN,
                                              assessment_id=assessment_id):
        status, maturity = ratings.get(answer.control_id, (AnswerStatus.IMPLEMENTED, 3))
        answer_service.update_answer(
            session=session, actor=actor, answer_id=answer.id,  # type: ignore[arg-type]
            data=AnswerIn(status=status, maturity=maturity, version=answer.version,
                          justification="Sans objet ici." if maturity is None else ""))


def test_launch_targets_the_hierarchy(session_factory: sessionmaker[Session], world: World,
                                      db: Session) -> None:
    # Given a ministry with two bodies and a sub-body, and an explicit other institution
    # When a campaign is launched on the ministry's subtree plus the other one
    campaign_id = make_campaign(session_factory, world, institution_ids=[world.other],
                                subtree_ids=[world.ministry])
    # Then one assessment per institution exists, each with the profile's 4 requirements
    found = service.list_assessments(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert sorted(a.institution_id for a in found) == sorted(
        [world.other, world.ministry, world.body_a, world.body_b, world.sub_a])
    counts = service.progress(session=db, assessment_ids=[a.id for a in found])
    assert all(counts[a.id] == (0, 4) for a in found)
    campaign = service.get_campaign(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert campaign.status == "open"


def test_answers_conflict_on_stale_version(session_factory: sessionmaker[Session],
                                           world: World, db: Session) -> None:
    # Given an open assessment and its focal point
    make_campaign(session_factory, world)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    assessment = service.list_assessments(session=db, actor=focal)[0]
    answer = answer_service.list_answers(session=db, actor=focal,
                                         assessment_id=assessment.id)[0]
    read = answer.version
    # When two people save from the same version
    answer_service.update_answer(session=db, actor=focal, answer_id=answer.id, data=AnswerIn(
        status=AnswerStatus.PARTIAL, maturity=2, comment="Premier", version=read))
    # Then the second is refused with 409 and the first stays
    with pytest.raises(Conflict):
        answer_service.update_answer(session=db, actor=focal, answer_id=answer.id,
                                     data=AnswerIn(status=AnswerStatus.IMPLEMENTED,
                                                   maturity=5, version=read))
    assert answer.comment == "Premier" and answer.maturity == 2


def test_not_applicable_needs_a_justification(session_factory: sessionmaker[Session],
                                              world: World, db: Session) -> None:
    # Given an answer of an open assessment
    make_campaign(session_factory, world)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    answer = db.scalars(select(Answer)).first()
    assert answer is not None
    # When it is marked not applicable without a justification, then it is refused (422)
    with pytest.raises(Invalid) as caught:
        answer_service.update_answer(session=db, actor=focal, answer_id=answer.id, data=AnswerIn(
            status=AnswerStatus.NOT_APPLICABLE, version=answer.version))
    assert caught.value.status == 422
    # And with one, it is accepted and has no maturity
    answer_service.update_answer(session=db, actor=focal, answer_id=answer.id, data=AnswerIn(
        status=AnswerStatus.NOT_APPLICABLE, maturity=4, justification="Aucun réseau.",
        version=answer.version))
    assert answer.maturity is None


def test_workflow_and_who_may_move_it(session_factory: sessionmaker[Session], world: World,
                                      db: Session, factory: Factory) -> None:
    # Given an open assessment, its focal point, an auditor and an agency officer
    officer_user = factory.user(Role.AGENCY_OFFICER)
    make_campaign(session_factory, world)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    auditor, officer = actor_of(Role.AUDITOR), actor_of(Role.AGENCY_OFFICER)
    assessment = service.list_assessments(session=db, actor=focal)[0]
    # When the focal point submits before answering everything, then it is refused
    with pytest.raises(Invalid):
        answer_service.transition(session=db, actor=focal, assessment_id=assessment.id,
                                  action="submit", version=assessment.version)
    _fill(db, focal, assessment.id, {})
    # When an auditor tries to submit, then it is forbidden
    with pytest.raises(Forbidden):
        answer_service.transition(session=db, actor=auditor, assessment_id=assessment.id,
                                  action="submit", version=assessment.version)
    answer_service.transition(session=db, actor=focal, assessment_id=assessment.id,
                              action="submit", version=assessment.version)
    # Then the agency officers are notified, and the focal point can no longer edit
    notes = db.scalars(select(Notification).where(Notification.user_id == officer_user.id))
    assert len(list(notes)) == 1
    answer = answer_service.list_answers(session=db, actor=focal, assessment_id=assessment.id)[0]
    with pytest.raises(Conflict):
        answer_service.update_answer(session=db, actor=focal, answer_id=answer.id, data=AnswerIn(
            status=AnswerStatus.PARTIAL, maturity=1, version=answer.version))
    # The focal point may not review; the auditor may not approve
    with pytest.raises(Forbidden):
        answer_service.transition(session=db, actor=focal, assessment_id=assessment.id,
                                  action="review", version=assessment.version)
    answer_service.transition(session=db, actor=auditor, assessment_id=assessment.id,
                              action="review", version=assessment.version)
    with pytest.raises(Forbidden):
        answer_service.transition(session=db, actor=auditor, assessment_id=assessment.id,
                                  action="approve", version=assessment.version)
    # Reopening needs a reason; an unknown move is a conflict
    with pytest.raises(Invalid):
        answer_service.transition(session=db, actor=officer, assessment_id=assessment.id,
                                  action="reopen", version=assessment.version, reason=" ")
    with pytest.raises(Conflict):
        answer_service.transition(session=db, actor=officer, assessment_id=assessment.id,
                                  action="review", version=assessment.version)
    answer_service.transition(session=db, actor=officer, assessment_id=assessment.id,
                              action="approve", version=assessment.version)
    assert assessment.status == "approved" and assessment.approved_by
    answer_service.transition(session=db, actor=officer, assessment_id=assessment.id,
                              action="reopen", version=assessment.version, reason="Erreur")
    assert assessment.status == "draft" and assessment.reopen_reason == "Erreur"


def test_override_keeps_both_ratings(session_factory: sessionmaker[Session], world: World,
                                     db: Session) -> None:
    # Given a submitted assessment
    make_campaign(session_factory, world)
    focal, auditor = actor_of(Role.FOCAL_POINT, world.other), actor_of(Role.AUDITOR)
    assessment = service.list_assessments(session=db, actor=focal)[0]
    _fill(db, focal, assessment.id, {})
    answer_service.transition(session=db, actor=focal, assessment_id=assessment.id,
                              action="submit", version=assessment.version)
    answer = answer_service.list_answers(session=db, actor=auditor,
                                         assessment_id=assessment.id)[0]
    # When a focal point tries to override, then it is forbidden
    with pytest.raises(Forbidden):
        answer_service.override_answer(session=db, actor=focal, answer_id=answer.id,
                                       data=OverrideIn(status=AnswerStatus.PARTIAL, maturity=1,
                                                       reason="x", version=answer.version))
    # When the auditor overrides
    answer_service.override_answer(session=db, actor=auditor, answer_id=answer.id,
                                   data=OverrideIn(status=AnswerStatus.PARTIAL, maturity=1,
                                                   reason="Pas de preuve.",
                                                   version=answer.version))
    # Then both ratings are kept and the effective one is the auditor's
    assert (answer.status, answer.maturity) == ("implemented", 3)
    assert (answer.override_status, answer.override_maturity) == ("partial", 1)
    assert answer.effective_maturity == 1 and answer.overridden_by == auditor.name


def test_score_is_weighted_and_excludes_not_applicable(
        session_factory: sessionmaker[Session], world: World, db: Session) -> None:
    # Given answers gov-1 implemented 4 (weight 2), gov-2 not implemented 3 (weight 1),
    # gov-3 not applicable, net-1 partial 2 (weight 3)
    make_campaign(session_factory, world)
    focal = actor_of(Role.FOCAL_POINT, world.other)
    assessment = service.list_assessments(session=db, actor=focal)[0]
    _fill(db, focal, assessment.id, {
        "gov-1": (AnswerStatus.IMPLEMENTED, 4), "gov-2": (AnswerStatus.NOT_IMPLEMENTED, 3),
        "gov-3": (AnswerStatus.NOT_APPLICABLE, None), "net-1": (AnswerStatus.PARTIAL, 2)})
    rows = answer_service.list_answers(session=db, actor=focal, assessment_id=assessment.id)
    weights = {"gov-1": 2, "gov-2": 1, "gov-3": 5, "net-1": 3}
    for row in rows:
        row.requirement.weight = weights[row.control_id]
    # When the score is computed
    # Then it is (2*4 + 1*0 + 3*2) / ((2+1+3)*5) * 100 = 14/30*100 = 46.7
    assert answer_service.score(rows) == 46.7
    assert [a.control_id for a in answer_service.scored_answers(rows)] == [
        "gov-1", "gov-2", "net-1"]
    assert answer_service.score([]) is None


def test_progress_and_days_remaining(session_factory: sessionmaker[Session], world: World,
                                     db: Session) -> None:
    # Given a campaign due on 31 December 2026 and one answer given
    campaign_id = make_campaign(session_factory, world, deadline=dt.date(2026, 12, 31))
    focal = actor_of(Role.FOCAL_POINT, world.other)
    assessment = service.list_assessments(session=db, actor=focal)[0]
    answer = answer_service.list_answers(session=db, actor=focal,
                                         assessment_id=assessment.id)[0]
    answer_service.update_answer(session=db, actor=focal, answer_id=answer.id, data=AnswerIn(
        status=AnswerStatus.PARTIAL, maturity=2, version=answer.version))
    # Then progress is 1 of 4 and 30 days remain on 1 December
    assert service.progress(session=db, assessment_ids=[assessment.id]) == {
        assessment.id: (1, 4)}
    campaign = service.get_campaign(session=db, actor=ADMIN, campaign_id=campaign_id)
    assert service.days_remaining(campaign, dt.date(2026, 12, 1)) == 30
    assert service.days_remaining(campaign, dt.date(2027, 1, 2)) == -2


def test_carry_over_from_last_approved(session_factory: sessionmaker[Session], world: World,
                                       db: Session) -> None:
    # Given a 2025 campaign whose assessment was approved with an override on gov-1
    first = make_campaign(session_factory, world, year=2025)
    focal, officer = actor_of(Role.FOCAL_POINT, world.other), actor_of(Role.AGENCY_OFFICER)
    assessment = service.list_assessments(session=db, actor=focal, campaign_id=first)[0]
    _fill(db, focal, assessment.id, {"gov-2": (AnswerStatus.PARTIAL, 2)})
    for action in ("submit", "review"):
        answer_service.transition(session=db, actor=officer if action != "submit" else focal,
                                  assessment_id=assessment.id, action=action,
                                  version=assessment.version)
    gov1 = next(a for a in answer_service.list_answers(
        session=db, actor=officer, assessment_id=assessment.id) if a.control_id == "gov-1")
    answer_service.override_answer(session=db, actor=officer, answer_id=gov1.id, data=OverrideIn(
        status=AnswerStatus.PARTIAL, maturity=1, reason="Preuve partielle",
        version=gov1.version))
    answer_service.transition(session=db, actor=officer, assessment_id=assessment.id,
                              action="approve", version=assessment.version)
    db.commit()
    # When the 2026 campaign is launched
    second = make_campaign(session_factory, world, year=2026)
    # Then its answers start from the approved ones (effective ratings), marked carried over
    new = service.list_assessments(session=db, actor=focal, campaign_id=second)[0]
    carried = {a.control_id: a for a in answer_service.list_answers(
        session=db, actor=focal, assessment_id=new.id)}
    assert all(a.carried_over for a in carried.values())
    assert (carried["gov-1"].status, carried["gov-1"].maturity) == ("partial", 1)
    assert (carried["gov-2"].status, carried["gov-2"].maturity) == ("partial", 2)
    assert new.status == "draft"


def test_scope_hides_other_institutions(session_factory: sessionmaker[Session], world: World,
                                        db: Session) -> None:
    # Given a campaign on two institutions
    make_campaign(session_factory, world, institution_ids=[world.other, world.body_a])
    focal_b = actor_of(Role.FOCAL_POINT, world.body_a)
    foreign = next(a for a in service.list_assessments(session=db, actor=ADMIN)
                   if a.institution_id == world.other)
    answer = answer_service.list_answers(session=db, actor=ADMIN, assessment_id=foreign.id)[0]
    # Then a focal point of another institution sees only their own, and 404 for the other
    assert [a.institution_id for a in service.list_assessments(session=db, actor=focal_b)] == [
        world.body_a]
    with pytest.raises(NotFound):
        service.get_assessment(session=db, actor=focal_b, assessment_id=foreign.id)
    with pytest.raises(NotFound):
        answer_service.update_answer(session=db, actor=focal_b, answer_id=answer.id,
                                     data=AnswerIn(status=AnswerStatus.PARTIAL, maturity=1,
                                                   version=answer.version))
    # And a focal point of an institution not targeted does not see the campaign
    outsider = actor_of(Role.FOCAL_POINT, world.body_b)
    assert service.list_campaigns(session=db, actor=outsider) == []


def test_launch_notifies_focal_points(session_factory: sessionmaker[Session], world: World,
                                      db: Session, factory: Factory) -> None:
    # Given focal points of a target and of another institution
    target_user = factory.user(Role.FOCAL_POINT, institution_id=world.other)
    other_user = factory.user(Role.FOCAL_POINT, institution_id=world.body_b)
    # When a campaign on the target is launched
    make_campaign(session_factory, world)
    # Then only the target's focal point is notified
    users = list(db.scalars(select(Notification.user_id)))
    assert target_user.id in users and other_user.id not in users
