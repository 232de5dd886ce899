"""After a write, the cached heatmap recomputes only the rows of the institutions written, and
what it serves is always the heatmap computed afresh.

The ``rated`` campaign (see test_service.py): MIN (tier 1) ⊃ BODA (tier 3), BODB (tier 2,
unanswered); OTHER (tier 2). Each read runs in its own session, as requests do; each write
commits in another, as another process would (one test writes from another process).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, OverrideIn
from lakana.compliance.models import Requirement
from lakana.compliance.scoring import pages, service
from lakana.compliance.scoring.cache import row_stamps
from lakana.compliance.scoring.models import EVERY_ROW
from lakana.core.auth.rbac import Actor, Role
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionUpdate
from tests.compliance.campaigns.conftest import ADMIN
from tests.compliance.conftest import actor_of
from tests.compliance.scoring.conftest import Rated, rate
from tests.conftest import Factory

Sessions = sessionmaker[Session]
Write = Callable[[Sessions, Rated, Factory], None]


def _read(session_factory: Sessions, rated: Rated, actor: Actor = ADMIN) -> service.Heatmap:
    """The heatmap as a request gets it (cached), in a fresh session."""
    with session_factory() as session:
        return service.heatmap(session=session, actor=actor, campaign_id=rated.campaign_id)


def _afresh(session_factory: Sessions, rated: Rated, actor: Actor = ADMIN) -> service.Heatmap:
    with session_factory() as session:
        return service.compute_heatmap(session=session, actor=actor,
                                       campaign_id=rated.campaign_id)


def _figures(heat: service.Heatmap) -> Any:
    """Everything a heatmap shows, comparable."""
    return (heat.national, heat.domains,
            [(r.institution_id, r.acronym, r.name, r.total, r.cells) for r in heat.rows])


def _stamps(session_factory: Sessions) -> dict[int, str]:
    with session_factory() as session:
        return row_stamps(session)


def _execute(session_factory: Sessions, sql: str, **params: Any) -> None:
    with session_factory.begin() as session:
        session.execute(text(sql), params)


def _written(session_factory: Sessions, sql: str, **params: Any) -> set[int]:
    """The row stamps one committed statement changed."""
    before = _stamps(session_factory)
    _execute(session_factory, sql, **params)
    after = _stamps(session_factory)
    return {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}


def _answer_id(session: Session, rated: Rated, institution_id: int, control_id: str) -> int:
    found = session.scalar(
        select(Answer.id).join(Assessment, Assessment.id == Answer.assessment_id)
        .join(Requirement, Requirement.id == Answer.requirement_id)
        .where(Assessment.campaign_id == rated.campaign_id,
               Assessment.institution_id == institution_id,
               Requirement.control_id == control_id))
    assert found is not None
    return found


def _assessment_id(session_factory: Sessions, rated: Rated, institution_id: int) -> int:
    with session_factory() as session:
        found = session.scalar(select(Assessment.id).where(
            Assessment.campaign_id == rated.campaign_id,
            Assessment.institution_id == institution_id, Assessment.system_id.is_(None)))
    assert found is not None
    return found


def test_row_stamps_name_the_institutions_written(rated: Rated, factory: Factory,
                                                  session_factory: Sessions) -> None:
    with session_factory() as session:
        boda_gov1 = _answer_id(session, rated, rated.body_a, "gov-1")
        other_gov1 = _answer_id(session, rated, rated.other, "gov-1")
    # An answer: its institution's stamp only
    assert _written(session_factory, "UPDATE compliance_answer SET maturity = 1 WHERE id = :a",
                    a=boda_gov1) == {rated.body_a}
    # One statement over the whole campaign: every institution with an assessment in it
    assert _written(session_factory, "UPDATE compliance_answer SET comment = 'x'"
                    " WHERE assessment_id IN (SELECT id FROM compliance_assessment"
                    " WHERE campaign_id = :c)", c=rated.campaign_id) == {
        rated.ministry, rated.body_a, rated.body_b, rated.other}
    # An answer deleted, then inserted again
    with session_factory() as session:
        row = session.execute(select(Answer.assessment_id, Answer.requirement_id,
                                     Answer.position).where(Answer.id == other_gov1)).one()
    assert _written(session_factory, "DELETE FROM compliance_answer WHERE id = :a",
                    a=other_gov1) == {rated.other}
    assert _written(session_factory, "INSERT INTO compliance_answer (assessment_id,"
                    " requirement_id, position, status, maturity, comment, justification,"
                    " carried_over, version) VALUES (:s, :r, :p, 'implemented', 3, '', '',"
                    " false, 1)",
                    s=row[0], r=row[1], p=row[2]) == {rated.other}
    # An assessment: its institution's; moved to another institution: both
    ministry_assessment = _assessment_id(session_factory, rated, rated.ministry)
    assert _written(session_factory, "UPDATE compliance_assessment SET status = 'submitted'"
                    " WHERE id = :s", s=ministry_assessment) == {rated.ministry}
    before = _stamps(session_factory)
    newcomer = factory.institution("NEW")
    assert {i for i, s in _stamps(session_factory).items() if before.get(i) != s} == {
        EVERY_ROW}
    assert _written(session_factory, "UPDATE compliance_assessment SET institution_id = :n"
                    " WHERE id = :s", n=newcomer,
                    s=_assessment_id(session_factory, rated, rated.body_b)) == {
        rated.body_b, newcomer}
    # What every row depends on: requirements, domains, institutions
    assert _written(session_factory, "UPDATE compliance_requirement SET weight = 3"
                    " WHERE control_id = 'net-1'") == {EVERY_ROW}
    assert _written(session_factory, "UPDATE compliance_domain SET title_fr = 'Gouvernance'"
                    " WHERE code = 'gov'") == {EVERY_ROW}
    assert _written(session_factory, "UPDATE registry_institution SET criticality_tier = 1"
                    " WHERE id = :i", i=rated.other) == {EVERY_ROW}


def test_postgresql_sets_each_stamp_once_per_transaction(rated: Rated,
                                                         session_factory: Sessions) -> None:
    with session_factory() as session:
        if session.connection().dialect.name != "postgresql":
            pytest.skip("SQLite's row triggers set a new stamp on every row")
        answer_id = _answer_id(session, rated, rated.body_a, "gov-1")
        # Given a transaction writing the same institution twice
        session.execute(text("UPDATE compliance_answer SET maturity = 1 WHERE id = :a"),
                        {"a": answer_id})
        first = row_stamps(session)
        session.execute(text("UPDATE compliance_answer SET maturity = 2 WHERE id = :a"),
                        {"a": answer_id})
        # Then its stamp was set once (a bulk load does not rewrite the row per statement)
        assert row_stamps(session)[rated.body_a] == first[rated.body_a]
        session.commit()
    # And a TRUNCATE, which names no rows, changes every row's stamp
    assert EVERY_ROW in _written(session_factory, "TRUNCATE compliance_answer CASCADE")


def test_a_write_recomputes_only_its_institutions_row(rated: Rated,
                                                      session_factory: Sessions) -> None:
    # Given the heatmap cached
    before = _read(session_factory, rated)
    # When one of BODA's answers changes
    rate(session_factory, rated.campaign_id, rated.body_a, "gov-1", "implemented", 0)
    after = _read(session_factory, rated)
    # Then BODA's row is new, (0 + 0 + 3) / 25, and the others are the very same objects
    rows = {r.acronym: r for r in after.rows}
    assert (rows["BODA"].total.score, rows["BODA"].total.answers) == (12.0, 3)
    kept = {r.acronym for r in before.rows if any(r is s for s in after.rows)}
    assert kept == {"MIN", "OTHER"}
    # And the national and domain figures follow: (3×50 + 12 + 2×100) / 6
    assert after.national.score == 60.3
    assert _figures(after) == _figures(_afresh(session_factory, rated))
    # When a requirement's weight changes, every row depends on it: all recomputed
    _execute(session_factory, "UPDATE compliance_requirement SET weight = 3"
             " WHERE control_id = 'net-1'")
    again = _read(session_factory, rated)
    assert not any(r is s for r in again.rows for s in after.rows)
    assert _figures(again) == _figures(_afresh(session_factory, rated))


def _answer_through_the_service(session_factory: Sessions, rated: Rated,
                                _factory: Factory) -> None:
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.other, "gov-1")
        version = session.get_one(Answer, answer_id).version
        answer_service.update_answer(
            session=session, actor=actor_of(Role.FOCAL_POINT, rated.other), answer_id=answer_id,
            data=AnswerIn(status=AnswerStatus.PARTIAL, maturity=2, version=version))


def _override_through_the_service(session_factory: Sessions, rated: Rated,
                                  _factory: Factory) -> None:
    assessment_id = _assessment_id(session_factory, rated, rated.body_a)
    _execute(session_factory, "UPDATE compliance_assessment SET status = 'submitted'"
             " WHERE id = :s", s=assessment_id)
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.body_a, "gov-1")
        version = session.get_one(Answer, answer_id).version
        answer_service.override_answer(
            session=session, actor=ADMIN, answer_id=answer_id,
            data=OverrideIn(status=AnswerStatus.NOT_IMPLEMENTED, maturity=0,
                            reason="Aucune preuve", version=version))


def _answer_deleted(session_factory: Sessions, rated: Rated, _factory: Factory) -> None:
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.ministry, "gov-1")
        session.execute(text("DELETE FROM compliance_answer WHERE id = :a"), {"a": answer_id})


def _domain_loses_its_last_cell(session_factory: Sessions, rated: Rated,
                                _factory: Factory) -> None:
    # net-1 of BODA is the only answer of the net domain
    with session_factory.begin() as session:
        answer_id = _answer_id(session, rated, rated.body_a, "net-1")
        session.execute(text("UPDATE compliance_answer SET status = NULL, maturity = NULL"
                             " WHERE id = :a"), {"a": answer_id})


def _domain_gets_its_first_cell(session_factory: Sessions, rated: Rated,
                                factory: Factory) -> None:
    rate(session_factory, rated.campaign_id, rated.ministry, "net-1", "partial", 4)


def _institution_gets_its_first_answer(session_factory: Sessions, rated: Rated,
                                       _factory: Factory) -> None:
    rate(session_factory, rated.campaign_id, rated.body_b, "gov-2", "implemented", 3)


def _assessment_moved(session_factory: Sessions, rated: Rated,
                                  factory: Factory) -> None:
    newcomer = factory.institution("NEW", criticality_tier=1)
    _execute(session_factory, "UPDATE compliance_assessment SET institution_id = :n"
             " WHERE id = :s", n=newcomer, s=_assessment_id(session_factory, rated, rated.body_a))


def _assessment_deleted(session_factory: Sessions, rated: Rated, _factory: Factory) -> None:
    assessment_id = _assessment_id(session_factory, rated, rated.other)
    with session_factory.begin() as session:
        session.execute(text("DELETE FROM compliance_answer WHERE assessment_id = :s"),
                        {"s": assessment_id})
        session.execute(text("DELETE FROM compliance_assessment WHERE id = :s"),
                        {"s": assessment_id})


def _requirement_weight(session_factory: Sessions, _rated: Rated, _factory: Factory) -> None:
    _execute(session_factory, "UPDATE compliance_requirement SET weight = 5"
             " WHERE control_id = 'gov-1'")


def _hierarchy_and_tier(session_factory: Sessions, rated: Rated, _factory: Factory) -> None:
    with session_factory.begin() as session:
        version = registry_service.get_institution(session=session, actor=ADMIN,
                                                   institution_id=rated.body_a).version
        registry_service.update_institution(
            session=session, actor=ADMIN, institution_id=rated.body_a,
            data=InstitutionUpdate(parent_id=rated.other, criticality_tier=1, acronym="AAA",
                                   version=version))


def _domain_renamed(session_factory: Sessions, _rated: Rated, _factory: Factory) -> None:
    _execute(session_factory, "UPDATE compliance_domain SET title_fr = 'Réseau'"
             " WHERE code = 'net'")


@pytest.mark.parametrize("writes", [
    [_answer_through_the_service, _override_through_the_service],
    [_answer_deleted, _institution_gets_its_first_answer],
    [_domain_loses_its_last_cell, _domain_gets_its_first_cell],
    [_assessment_moved, _assessment_deleted],
    [_answer_deleted, _requirement_weight, _domain_loses_its_last_cell],
    [_hierarchy_and_tier, _answer_through_the_service, _domain_renamed],
], ids=lambda writes: "+".join(w.__name__.strip("_") for w in writes))
def test_the_heatmap_after_writes_is_the_heatmap_computed_afresh(
        writes: list[Write], rated: Rated, factory: Factory,
        session_factory: Sessions) -> None:
    focal = actor_of(Role.FOCAL_POINT, rated.body_a)
    for actor in (ADMIN, focal):  # Given the heatmaps cached
        _read(session_factory, rated, actor)
    for write in writes:
        # When written, then each read gives what a computation afresh gives
        previous = _read(session_factory, rated)
        write(session_factory, rated, factory)
        for actor in (ADMIN, focal):
            assert (_figures(_read(session_factory, rated, actor))
                    == _figures(_afresh(session_factory, rated, actor))), write.__name__
        assert _read(session_factory, rated) is not previous


def test_focal_point_heatmap_follows_its_institution(rated: Rated,
                                                     session_factory: Sessions) -> None:
    focal = actor_of(Role.FOCAL_POINT, rated.body_a)
    # Given BODA's focal point's heatmap cached
    first = _read(session_factory, rated, focal)
    assert [r.acronym for r in first.rows] == ["BODA"]
    # When another institution's answer changes, then theirs is the same heatmap
    rate(session_factory, rated.campaign_id, rated.other, "gov-1", "partial", 1)
    assert _read(session_factory, rated, focal) is first
    # When BODA's changes, then it shows: (8 + 0 + 0) / 25
    rate(session_factory, rated.campaign_id, rated.body_a, "net-1", "not_implemented", 3)
    assert _read(session_factory, rated, focal).rows[0].total.score == 32.0


def test_a_write_by_another_process_shows(rated: Rated, session_factory: Sessions) -> None:
    # Given the heatmap cached
    assert next(r for r in _read(session_factory, rated).rows
                if r.acronym == "OTHER").total.score == 100.0
    with session_factory() as session:
        answer_id = _answer_id(session, rated, rated.other, "gov-1")
        url = session.get_bind().url.render_as_string(hide_password=False)
    # When another process changes OTHER's answer in plain SQL
    subprocess.run([sys.executable, "-c", (
        "import sys; from sqlalchemy import create_engine, text\n"
        "with create_engine(sys.argv[1]).begin() as conn:\n"
        "    conn.execute(text('UPDATE compliance_answer SET maturity = 2 WHERE id = :a'),"
        " {'a': int(sys.argv[2])})"), url, str(answer_id)], check=True, timeout=120)
    # Then the next read shows it
    heat = _read(session_factory, rated)
    assert next(r for r in heat.rows if r.acronym == "OTHER").total.score == 40.0
    assert _figures(heat) == _figures(_afresh(session_factory, rated))


def _table(page: str) -> str:
    """The figures of the heatmap page (the rest varies per request: nonces, tokens)."""
    return page[page.index('<dl class="facts">'):page.index("</table>")]


def test_page_after_a_write_is_the_page_rendered_afresh(
        rated: Rated, factory: Factory, session_factory: Sessions,
        login_as: Callable[..., TestClient]) -> None:
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    url = f"/compliance/campaigns/{rated.campaign_id}/heatmap"
    # Given the page rendered once
    assert browser.get(url).status_code == 200
    # When an answer changes and the page is rendered again (one row's markup redone)
    rate(session_factory, rated.campaign_id, rated.body_a, "gov-1", "partial", 1)
    after = _table(browser.get(url).text)
    assert 'class="badge bad">20.0' in after
    # Then it is the page rendered with nothing kept
    service._HEATMAPS.clear()
    with pages._ROWS_LOCK:
        pages._ROWS.clear()
    assert _table(browser.get(url).text) == after
