"""Case services: reporting, severity, triage, lifecycle, assignment, concurrency, tasks,
notes, scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.i18n import use_language
from lakana.csirt import service, severity, tasks_service
from lakana.csirt.models import Case, CaseEvent
from lakana.csirt.schemas import (
    CaseAssign,
    CaseQuery,
    CaseTransition,
    CaseTriage,
    NoteCreate,
    NoteUpdate,
    TaskCreate,
    TaskUpdate,
)
from tests.csirt.conftest import ADMIN, Institutions, actor_of, case_report, load_case
from tests.registry.conftest import ledger_count

MakeCase = Callable[..., int]


# --- severity ---------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "level"), [
    ({}, "low"),
    ({"tier": 3}, "low"),
    ({"tier": 1}, "medium"),
    ({"service_impact": "degraded", "tier": 2}, "medium"),
    ({"people_affected": 49}, "low"),
    ({"people_affected": 50}, "medium"),
    ({"people_affected": 1000}, "high"),
    ({"people_affected": 100_000}, "critical"),
    ({"personal_data": True}, "high"),
    ({"service_impact": "unavailable", "tier": 2}, "high"),
    ({"service_impact": "unavailable", "tier": None}, "high"),
    ({"service_impact": "degraded", "tier": 1}, "high"),
    ({"service_impact": "unavailable", "tier": 1}, "critical"),
    ({"biometric_data": True, "tier": 3}, "critical"),
    ({"institutions_affected": 2}, "critical"),
    ({"floor": "high"}, "high"),
    ({"floor": "high", "biometric_data": True}, "critical"),
])
def test_severity_rule(facts: dict[str, Any], level: str) -> None:
    # Given the facts of an incident / When assessed / Then the level follows the table
    found = severity.assess(**facts)
    assert found.level.value == level
    # And the first reason is the one that set the level
    assert found.reasons[0].level.value == level


def test_severity_lists_every_reason_most_severe_first() -> None:
    found = severity.assess(biometric_data=True, personal_data=True, tier=1)
    assert [r.level.value for r in found.reasons] == ["critical", "high", "medium"]
    # And each reason reads in the current language
    with use_language("en"):
        assert found.reasons[0].text() == "Biometric data are involved."
    with use_language("fr"):
        assert found.reasons[0].text() == "Des données biométriques sont concernées."


# --- reporting --------------------------------------------------------------------------

def test_focal_point_reports_for_own_institution(db: Session, csirt_institutions: Institutions,
                                                 focal_a: User) -> None:
    # Given a focal point of institution a
    actor = actor_of(focal_a)
    before = ledger_count(db)
    # When they report without naming an institution, on a system of theirs
    case = service.report_case(session=db, actor=actor, data=case_report(
        None, system_id=csirt_institutions.a_system, template="ransomware"))
    db.commit()
    # Then the case is theirs, numbered, sourced "institution", reported by them
    assert case.institution_id == csirt_institutions.a
    assert case.reference and case.reference.startswith("INC-")
    assert case.source == "institution" and case.reporter_user_id == focal_a.id
    assert case.status == "new"
    # And the template's tasks, a timeline event and a ledger entry were written
    assert len(case.tasks) == 6
    kinds = db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert "created" in kinds
    assert ledger_count(db, "csirt.case.report") == 1 and ledger_count(db) > before


def test_focal_point_cannot_report_for_another_institution(
        db: Session, csirt_institutions: Institutions, focal_a: User) -> None:
    with pytest.raises(NotFound):
        service.report_case(session=db, actor=actor_of(focal_a),
                            data=case_report(csirt_institutions.b))


def test_other_institutions_system_is_refused(db: Session, csirt_institutions: Institutions,
                                              focal_a: User) -> None:
    with pytest.raises(Invalid) as caught:
        service.report_case(session=db, actor=actor_of(focal_a), data=case_report(
            csirt_institutions.a, system_id=csirt_institutions.b_system))
    assert caught.value.errors[0]["field"] == "system_id"


def test_analyst_reports_for_any_institution(db: Session, csirt_institutions: Institutions,
                                             analyst: User) -> None:
    case = service.report_case(session=db, actor=actor_of(analyst), data=case_report(
        csirt_institutions.b, service_impact="unavailable"))
    assert case.source == "analyst" and case.institution_id == csirt_institutions.b
    # Institution b is tier 1: an unavailable service is critical
    assert case.severity == "critical"


@pytest.mark.parametrize(("fields", "message"), [
    ({"taxonomy_class": "nope", "taxonomy_type": None}, "Unknown incident class"),
    ({"taxonomy_class": "fraud", "taxonomy_type": "spam"}, "Unknown incident type"),
    ({"tlp": "purple"}, "Unknown TLP label"),
    ({"template": "volcano"}, "Unknown case template"),
    ({"occurred_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=2)}, "in the future"),
    ({"occurred_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
      "detected_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, "detected before"),
])
def test_report_validation(db: Session, csirt_institutions: Institutions,
                           fields: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        service.report_case(session=db, actor=ADMIN,
                            data=case_report(csirt_institutions.a, **fields))
    assert message in str(caught.value)


def test_data_breach_template_sets_personal_data_and_dpa_notice(
        db: Session, csirt_institutions: Institutions) -> None:
    case = service.report_case(session=db, actor=ADMIN, data=case_report(
        csirt_institutions.a, template="data_breach", tlp=None, taxonomy_class=None,
        taxonomy_type=None))
    assert case.personal_data and case.dpa_notice_required
    assert (case.taxonomy_class, case.taxonomy_type) == ("information-content-security",
                                                         "data-leak")
    assert case.tlp == "amber+strict" and case.severity == "high"


# --- lifecycle --------------------------------------------------------------------------

def _move(db: Session, actor: Any, case_id: int, to: str, **extra: Any) -> Case:
    case = db.get(Case, case_id)
    assert case is not None
    return service.transition(session=db, actor=actor, case_id=case_id,
                              data=CaseTransition(version=case.version, to=to, **extra))


def test_lifecycle_forward_sets_timestamps(db: Session, csirt_institutions: Institutions,
                                           analyst: User, make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    actor = actor_of(analyst)
    case = _move(db, actor, case_id, "investigation")
    assert case.acknowledged_at is not None and case.contained_at is None
    case = _move(db, actor, case_id, "containment")
    assert case.contained_at is not None
    case = _move(db, actor, case_id, "closed", reason="resolved", comment="Restauré.")
    assert case.closed_at is not None and case.closure_reason == "resolved"
    db.commit()
    assert ledger_count(db, "csirt.case.close") == 1


@pytest.mark.parametrize(("start", "to"), [("investigation", "triage"),
                                           ("containment", "new"),
                                           ("closed", "recovery"),
                                           ("triage", "triage")])
def test_forbidden_moves(db: Session, csirt_institutions: Institutions, analyst: User,
                         make_case: MakeCase, start: str, to: str) -> None:
    case_id = make_case(csirt_institutions.a, status=start)
    with pytest.raises(Conflict):
        _move(db, actor_of(analyst), case_id, to, comment="x")


def test_closing_needs_reason_comment_and_duplicate_target(
        db: Session, csirt_institutions: Institutions, analyst: User,
        make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    other = make_case(csirt_institutions.a, title="Autre")
    actor = actor_of(analyst)
    with pytest.raises(Invalid, match="reason"):
        _move(db, actor, case_id, "closed", comment="x")
    with pytest.raises(Invalid, match="comment"):
        _move(db, actor, case_id, "closed", reason="resolved")
    with pytest.raises(Invalid, match="duplicate"):
        _move(db, actor, case_id, "closed", reason="duplicate", comment="x")
    with pytest.raises(Invalid, match="duplicate"):
        _move(db, actor, case_id, "closed", reason="duplicate", comment="x",
              duplicate_of=case_id)
    case = _move(db, actor, case_id, "closed", reason="duplicate", comment="Même incident.",
                 duplicate_of=other)
    assert case.duplicate_of_id == other


def test_reopen_needs_a_reason_and_clears_closure(db: Session,
                                                  csirt_institutions: Institutions,
                                                  analyst: User, make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    actor = actor_of(analyst)
    _move(db, actor, case_id, "closed", reason="false_positive", comment="Test interne.")
    with pytest.raises(Invalid, match="reason"):
        _move(db, actor, case_id, "investigation")
    case = _move(db, actor, case_id, "investigation", comment="Nouveaux éléments.")
    assert case.status == "investigation" and case.closed_at is None
    assert case.closure_reason is None


def test_focal_point_cannot_move_cases(db: Session, csirt_institutions: Institutions,
                                       focal_a: User, make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    with pytest.raises(Forbidden):
        _move(db, actor_of(focal_a), case_id, "investigation")


# --- triage, assignment, concurrency ----------------------------------------------------

def test_triage_moves_a_new_case_and_recomputes_severity(
        db: Session, csirt_institutions: Institutions, analyst: User,
        make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    case = db.get(Case, case_id)
    assert case is not None and case.severity == "low"
    case = service.triage_case(session=db, actor=actor_of(analyst), case_id=case_id,
                               data=CaseTriage(version=case.version, biometric_data=True,
                                               tlp="TLP:RED", taxonomy_class="fraud",
                                               taxonomy_type="phishing"))
    assert case.status == "triage" and case.acknowledged_at is not None
    assert case.severity == "critical" and case.tlp == "red"
    assert (case.taxonomy_class, case.taxonomy_type) == ("fraud", "phishing")


def test_triage_attributes_an_unattributed_case(db: Session,
                                                csirt_institutions: Institutions,
                                                analyst: User, make_case: MakeCase) -> None:
    case_id = make_case(None)
    case = db.get(Case, case_id)
    assert case is not None
    case = service.triage_case(session=db, actor=actor_of(analyst), case_id=case_id,
                               data=CaseTriage(version=case.version,
                                               institution_id=csirt_institutions.b,
                                               system_id=csirt_institutions.b_system))
    assert case.institution_id == csirt_institutions.b
    assert case.severity == "medium"  # tier 1


def test_two_triages_with_the_same_version_conflict(
        session_factory: sessionmaker[Session], csirt_institutions: Institutions,
        analyst: User, analyst2: User, make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    version = load_case(session_factory, case_id).version
    # Given two analysts who read the same version
    with session_factory.begin() as session:
        service.triage_case(session=session, actor=actor_of(analyst), case_id=case_id,
                            data=CaseTriage(version=version, personal_data=True))
    # When the second saves against that version / Then it is a conflict
    with session_factory.begin() as session, pytest.raises(Conflict):
        service.triage_case(session=session, actor=actor_of(analyst2), case_id=case_id,
                            data=CaseTriage(version=version, tlp="green"))
    assert load_case(session_factory, case_id).tlp == "amber"


def test_assignment_to_a_non_analyst_is_refused(db: Session,
                                                csirt_institutions: Institutions,
                                                analyst: User, focal_a: User,
                                                make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    case = db.get(Case, case_id)
    assert case is not None
    with pytest.raises(Invalid, match="analyst"):
        service.assign(session=db, actor=actor_of(analyst), case_id=case_id,
                       data=CaseAssign(version=case.version, assignee_id=focal_a.id))
    with pytest.raises(Invalid):
        service.assign(session=db, actor=actor_of(analyst), case_id=case_id,
                       data=CaseAssign(version=case.version, assignee_id=999999))
    case = service.assign(session=db, actor=actor_of(analyst), case_id=case_id,
                          data=CaseAssign(version=case.version, assignee_id=analyst.id))
    assert case.assignee_id == analyst.id


def test_assignment_notifies_the_assignee(db: Session, csirt_institutions: Institutions,
                                          analyst: User, analyst2: User,
                                          make_case: MakeCase) -> None:
    from lakana.core.notifications.models import Notification

    case_id = make_case(csirt_institutions.a)
    case = db.get(Case, case_id)
    assert case is not None
    service.assign(session=db, actor=actor_of(analyst), case_id=case_id,
                   data=CaseAssign(version=case.version, assignee_id=analyst2.id))
    sent = db.scalars(select(Notification).where(Notification.user_id == analyst2.id)).all()
    assert len(sent) == 1 and sent[0].link == f"/csirt/cases/{case_id}"


# --- scope, lists, queue ----------------------------------------------------------------

def test_scope_and_red_cases(db: Session, csirt_institutions: Institutions, focal_a: User,
                             focal_a2: User, make_case: MakeCase) -> None:
    a_case = make_case(csirt_institutions.a, title="Cas A")
    b_case = make_case(csirt_institutions.b, title="Cas B")
    red = make_case(csirt_institutions.a, title="Cas rouge", tlp="red",
                    reporter_user_id=focal_a.id)
    # A focal point of a sees a's cases only, and the RED one because they reported it
    rows, total = service.list_cases(session=db, actor=actor_of(focal_a))
    assert {c.id for c in rows} == {a_case, red} and total == 2
    with pytest.raises(NotFound):
        service.get_by_reference(session=db, actor=actor_of(focal_a),
                                 reference=db.get(Case, b_case).reference)  # type: ignore[union-attr]
    # Another focal point of a does not see the RED case
    rows, _ = service.list_cases(session=db, actor=actor_of(focal_a2))
    assert {c.id for c in rows} == {a_case}


def test_list_filters(db: Session, csirt_institutions: Institutions, analyst: User,
                      make_case: MakeCase) -> None:
    first = make_case(csirt_institutions.a, title="Défiguration du portail")
    second = make_case(csirt_institutions.b, title="Rançongiciel", status="closed",
                       assignee_id=analyst.id)
    actor = actor_of(analyst)

    def ids(**query: Any) -> set[int]:
        return {c.id for c in service.list_cases(session=db, actor=actor,
                                                 query=CaseQuery(**query))[0]}
    assert ids(q="portail") == {first}
    ref = db.get(Case, second).reference  # type: ignore[union-attr]
    assert ids(q=ref.lower()) == {second}  # type: ignore[union-attr]
    assert ids(status="closed") == {second}
    assert ids(open=True) == {first}
    assert ids(assignee="me") == {second}
    assert ids(assignee="none") == {first}
    assert ids(institution_id=csirt_institutions.b) == {second}
    assert ids(limit=1, offset=1) <= {first, second}


def test_queue_orders_by_severity_then_age(db: Session, csirt_institutions: Institutions,
                                           analyst: User, analyst2: User,
                                           make_case: MakeCase) -> None:
    old_low = make_case(csirt_institutions.a, title="Ancien faible")
    critical = make_case(csirt_institutions.a, title="Critique", biometric_data=True)
    new_low = make_case(csirt_institutions.a, title="Récent faible")
    mine = make_case(csirt_institutions.a, title="À moi", status="investigation",
                     assignee_id=analyst.id, personal_data=True)
    make_case(csirt_institutions.a, title="À un autre", assignee_id=analyst2.id)
    make_case(csirt_institutions.a, title="Clos", status="closed")
    queue = [c.id for c in service.queue(session=db, actor=actor_of(analyst))]
    assert queue == [critical, mine, old_low, new_low]


# --- tasks and notes --------------------------------------------------------------------

def test_tasks_owner_rules_and_status(db: Session, csirt_institutions: Institutions,
                                      analyst: User, focal_a: User, focal_b: User,
                                      make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    actor = actor_of(analyst)
    with pytest.raises(Invalid, match="owner"):
        tasks_service.create_task(session=db, actor=actor, case_id=case_id,
                                  data=TaskCreate(title="Isoler", owner_id=focal_b.id))
    task = tasks_service.create_task(session=db, actor=actor, case_id=case_id, data=TaskCreate(
        title="Isoler le serveur", owner_id=focal_a.id, due_date=dt.date(2026, 5, 1)))
    db.flush()
    # The owner (a focal point) may mark it done, nothing else
    with pytest.raises(Forbidden):
        tasks_service.update_task(session=db, actor=actor_of(focal_a), task_id=task.id,
                                  data=TaskUpdate(version=task.version, title="Autre"))
    done = tasks_service.update_task(session=db, actor=actor_of(focal_a), task_id=task.id,
                                     data=TaskUpdate(version=task.version, status="done"))
    assert done.status == "done" and done.done_at is not None
    with pytest.raises(Conflict):
        tasks_service.update_task(session=db, actor=actor, task_id=task.id,
                                  data=TaskUpdate(version=1, status="open"))


def test_red_note_is_seen_by_named_people_only(db: Session, csirt_institutions: Institutions,
                                               analyst: User, focal_a: User, focal_a2: User,
                                               make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a, reporter_user_id=focal_a.id)
    # Given a RED note by focal a2 and an AMBER note by the analyst
    red = tasks_service.add_note(session=db, actor=actor_of(focal_a2), case_id=case_id,
                                 data=NoteCreate(body="Source sensible", tlp="red"))
    tasks_service.add_note(session=db, actor=actor_of(analyst), case_id=case_id,
                           data=NoteCreate(body="Analyse en cours"))
    db.flush()

    def seen(user: User) -> list[str]:
        return [n.body for n in tasks_service.list_notes(session=db, actor=actor_of(user),
                                                         case_id=case_id)]
    # Then the author and the reporter see it; the unnamed analyst does not
    assert seen(focal_a2) == ["Source sensible", "Analyse en cours"]
    assert seen(focal_a) == ["Source sensible", "Analyse en cours"]
    assert seen(analyst) == ["Analyse en cours"]
    with pytest.raises(NotFound):
        tasks_service.get_note(session=db, actor=actor_of(analyst), note_id=red.id)
    # And its timeline event is hidden from the analyst too
    texts = [tasks_service.event_text(e) for e in tasks_service.timeline(
        session=db, actor=actor_of(analyst), case_id=case_id)]
    assert not any("RED" in t for t in texts)


def test_only_the_author_edits_a_note(db: Session, csirt_institutions: Institutions,
                                      analyst: User, focal_a: User,
                                      make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    note = tasks_service.add_note(session=db, actor=actor_of(focal_a), case_id=case_id,
                                  data=NoteCreate(body="Premier constat"))
    db.flush()
    with pytest.raises(Forbidden):
        tasks_service.update_note(session=db, actor=actor_of(analyst), note_id=note.id,
                                  data=NoteUpdate(version=note.version, body="Modifié"))
    edited = tasks_service.update_note(session=db, actor=actor_of(focal_a), note_id=note.id,
                                       data=NoteUpdate(version=note.version, body="Corrigé"))
    assert edited.body == "Corrigé" and edited.edited_at is not None
    with pytest.raises(Conflict):
        tasks_service.update_note(session=db, actor=actor_of(focal_a), note_id=note.id,
                                  data=NoteUpdate(version=1, body="Encore"))


def test_incident_events_keep_their_time_and_sort(db: Session,
                                                  csirt_institutions: Institutions,
                                                  analyst: User, make_case: MakeCase) -> None:
    from lakana.csirt.schemas import EventCreate

    case_id = make_case(csirt_institutions.a)
    early = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    service.add_incident_event(session=db, actor=actor_of(analyst), case_id=case_id,
                               data=EventCreate(at=early, message="Première intrusion"))
    db.flush()
    events = tasks_service.timeline(session=db, actor=actor_of(analyst), case_id=case_id)
    assert events[0].kind == "incident"
    assert tasks_service.event_text(events[0]) == "Première intrusion"
    with pytest.raises(Invalid):
        service.add_incident_event(session=db, actor=actor_of(analyst), case_id=case_id,
                                   data=EventCreate(at=dt.datetime.now(dt.UTC)
                                                    + dt.timedelta(days=1), message="Futur"))
