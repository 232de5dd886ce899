"""The heatmap cache never serves stale figures: every write, by any path, changes its key.

Figures of the ``rated`` campaign (see test_service.py): MIN 50.0, BODA 44.0, OTHER 100.0
(gov-1 implemented 5, its only answer), national 65.7. Each read below runs in its own
session, as requests do; each write commits in another, as another process would.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, OverrideIn
from lakana.compliance.models import Requirement
from lakana.compliance.scoring import service
from lakana.compliance.scoring.cache import current_stamp
from lakana.compliance.scoring.models import drop_triggers_sql, install_triggers
from lakana.core.auth.rbac import Role
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionUpdate
from tests.compliance.campaigns.conftest import ADMIN
from tests.compliance.conftest import actor_of
from tests.compliance.scoring.conftest import Rated

Read = Callable[[], service.Heatmap]


@pytest.fixture
def read(rated: Rated, session_factory: sessionmaker[Session]) -> Read:
    """The national heatmap of the rated campaign, read in a fresh session."""
    def heatmap() -> service.Heatmap:
        with session_factory() as session:
            return service.heatmap(session=session, actor=ADMIN, campaign_id=rated.campaign_id)
    return heatmap


def _row(heat: service.Heatmap, acronym: str) -> tuple[float | None, int]:
    row = next(r for r in heat.rows if r.acronym == acronym)
    return row.total.score, row.total.answers


def _answer_id(session: Session, rated: Rated, institution_id: int, control_id: str) -> int:
    found = session.scalar(
        select(Answer.id).join(Assessment, Assessment.id == Answer.assessment_id)
        .join(Requirement, Requirement.id == Answer.requirement_id)
        .where(Assessment.campaign_id == rated.campaign_id,
               Assessment.institution_id == institution_id,
               Requirement.control_id == control_id))
    assert found is not None
    return found


def _submit(session_factory: sessionmaker[Session], rated: Rated, institution_id: int) -> int:
    with session_factory.begin() as session:
        assessment_id = session.scalar(select(Assessment.id).where(
            Assessment.campaign_id == rated.campaign_id,
            Assessment.institution_id == institution_id, Assessment.system_id.is_(None)))
        assert assessment_id is not None
        session.execute(update(Assessment).where(Assessment.id == assessment_id)
                        .values(status="submitted"))
    return assessment_id


def test_repeated_reads_are_served_from_the_cache(read: Read, rated: Rated,
                                                  session_factory: sessionmaker[Session]) -> None:
    # Given the heatmap read once
    first = read()
    # Then a second read without any write is the very same computed value (the cache is on,
    # so the tests below would see stale figures if it were keyed wrongly)
    assert read() is first and first.national.score == 65.7
    # And another scope gets its own entry, never the national one
    with session_factory() as session:
        focal = service.heatmap(session=session, actor=actor_of(Role.FOCAL_POINT, rated.other),
                                campaign_id=rated.campaign_id)
    assert [r.acronym for r in focal.rows] == ["OTHER"] and focal is not first


def test_answer_saved_through_the_service_shows_at_once(
        read: Read, rated: Rated, session_factory: sessionmaker[Session]) -> None:
    # Given the heatmap cached
    assert _row(read(), "OTHER") == (100.0, 1)
    # When OTHER's focal point answers gov-1 partial 2 through the service
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.other, "gov-1")
        version = session.get_one(Answer, answer_id).version
        answer_service.update_answer(
            session=session, actor=actor_of(Role.FOCAL_POINT, rated.other), answer_id=answer_id,
            data=AnswerIn(status=AnswerStatus.PARTIAL, maturity=2, version=version))
    # Then the next read shows it, and the national score with it: (3×50 + 44 + 2×40) / 6
    heat = read()
    assert _row(heat, "OTHER") == (40.0, 1) and heat.national.score == 45.7


def test_override_and_review_through_the_service_show_at_once(
        read: Read, rated: Rated, session_factory: sessionmaker[Session]) -> None:
    # Given OTHER's assessment submitted and the heatmap cached
    assessment_id = _submit(session_factory, rated, rated.other)
    assert _row(read(), "OTHER") == (100.0, 1)
    # When an auditor overrides gov-1 to not implemented through the service
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.other, "gov-1")
        version = session.get_one(Answer, answer_id).version
        answer_service.override_answer(
            session=session, actor=ADMIN, answer_id=answer_id,
            data=OverrideIn(status=AnswerStatus.NOT_IMPLEMENTED, maturity=0,
                            reason="Aucune preuve",
                            version=version))
    # Then the override wins at once: (3×50 + 44 + 2×0) / 6
    overridden = read()
    assert _row(overridden, "OTHER") == (0.0, 1) and overridden.national.score == 32.3
    # When the assessment is then reviewed through the service
    with session_factory.begin() as session:
        version = session.get_one(Assessment, assessment_id).version
        answer_service.transition(session=session, actor=ADMIN, assessment_id=assessment_id,
                                  action="review", version=version)
    # Then the heatmap is recomputed (the key changed) with the same figures
    reviewed = read()
    assert reviewed is not overridden and _row(reviewed, "OTHER") == (0.0, 1)


def test_institution_renamed_through_the_registry_service(
        read: Read, rated: Rated, session_factory: sessionmaker[Session]) -> None:
    assert _row(read(), "OTHER") == (100.0, 1)
    with session_factory.begin() as session:
        version = registry_service.get_institution(session=session, actor=ADMIN,
                                                   institution_id=rated.other).version
        registry_service.update_institution(session=session, actor=ADMIN,
                                            institution_id=rated.other,
                                            data=InstitutionUpdate(acronym="AUTRE",
                                                                   version=version))
    assert {r.acronym for r in read().rows} == {"MIN", "BODA", "AUTRE"}


def test_core_updates_and_deletes_show_at_once(read: Read, rated: Rated,
                                               session_factory: sessionmaker[Session]) -> None:
    # Given the heatmap cached
    assert _row(read(), "BODA") == (44.0, 3)
    # When BODA's gov-1 is changed by a Core update (no ORM, no version bump)
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.body_a, "gov-1")
        session.execute(update(Answer).where(Answer.id == answer_id).values(maturity=0))
    # Then: (0 + 0 + 3) / 25
    assert _row(read(), "BODA") == (12.0, 3)
    # When it is deleted by a Core delete
    with session_factory.begin() as session:
        session.execute(delete(Answer).where(Answer.id == answer_id))
    # Then it no longer counts: (0 + 3) / 15
    assert _row(read(), "BODA") == (20.0, 2)
    # When a requirement's weight is changed in plain SQL
    with session_factory.begin() as session:
        session.execute(text("UPDATE compliance_requirement SET weight = 3"
                             " WHERE control_id = 'net-1'"))
    # Then: (0 + 3×3) / (10 + 15)
    assert _row(read(), "BODA") == (36.0, 2)
    # When a whole assessment is deleted in plain SQL
    assessment_id = _submit(session_factory, rated, rated.other)
    with session_factory.begin() as session:
        session.execute(text("DELETE FROM compliance_answer WHERE assessment_id = :a"),
                        {"a": assessment_id})
        session.execute(text("DELETE FROM compliance_assessment WHERE id = :a"),
                        {"a": assessment_id})
    # Then its institution leaves the heatmap
    assert {r.acronym for r in read().rows} == {"MIN", "BODA"}


def test_rolled_back_write_is_never_served(read: Read, rated: Rated,
                                           session_factory: sessionmaker[Session]) -> None:
    # Given a transaction that changes an answer and reads the heatmap before rolling back
    assert _row(read(), "OTHER") == (100.0, 1)
    with session_factory() as session:
        answer_id = _answer_id(session, rated, rated.other, "gov-1")
        session.execute(update(Answer).where(Answer.id == answer_id).values(maturity=1))
        inside = service.heatmap(session=session, actor=ADMIN, campaign_id=rated.campaign_id)
        assert _row(inside, "OTHER") == (20.0, 1)
        # And a second write in the same transaction shows to it at once too
        session.execute(update(Answer).where(Answer.id == answer_id).values(maturity=2))
        again = service.heatmap(session=session, actor=ADMIN, campaign_id=rated.campaign_id)
        assert _row(again, "OTHER") == (40.0, 1)
        session.rollback()
    # Then other readers never see its figures
    assert _row(read(), "OTHER") == (100.0, 1)
    # And a later committed write is never mistaken for it
    with session_factory.begin() as session:
        session.execute(update(Answer).where(Answer.id == answer_id).values(maturity=3))
    assert _row(read(), "OTHER") == (60.0, 1)


def test_nothing_is_cached_without_the_triggers(read: Read,
                                                session_factory: sessionmaker[Session]) -> None:
    # Given one of the stamp's triggers gone (say, a table rebuilt without it)
    with session_factory.begin() as session:
        dialect = session.connection().dialect.name
        session.execute(text(drop_triggers_sql(dialect)[0]))
    try:
        # Then the stamp is not trusted and every read computes afresh
        with session_factory() as session:
            assert current_stamp(session) is None
        assert read() is not read()
    finally:
        with session_factory.begin() as session:
            install_triggers(session.connection())
