"""Detection policies: retention per institution (the purge deletes exactly what is too old,
with its correlation hits), and escalation rules (an alert becomes a CSIRT case by itself,
once; a disabled rule does nothing; a failing escalation keeps the batch's events)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Forbidden, NotFound
from lakana.csirt.models import Case, CaseObservable, Observable
from lakana.monitoring.detection import flows, policies, tasks
from lakana.monitoring.detection.models import (
    CorrelationHit,
    DetectionAlert,
    DetectionEvent,
    EscalationRule,
)
from lakana.monitoring.detection.policies import EscalationRuleIn, RetentionIn
from lakana.monitoring.detection.schemas import Level
from tests.conftest import Factory, csrf_from
from tests.detection import service_fixtures
from tests.detection.service_fixtures import World

world = service_fixtures.world

INVALID_USER = "aa7eeeea-cfbd-54ef-bd13-57d70607ba4b"  # Lakana's "SSH invalid user" (medium)
ATTACKER = "203.0.113.9"


def _lines(n: int = 3, ip: str = ATTACKER, tag: str = "u") -> list[str]:
    return [f"Dec 10 06:55:0{i % 10} web01 sshd[1]: Invalid user {tag}{i} from {ip}"
            for i in range(n)]


def _age(session_factory: sessionmaker[Session], institution_id: int, days: int) -> None:
    """Make every event of an institution stored so far look ``days`` old."""
    with session_factory.begin() as session:
        session.execute(update(DetectionEvent).where(
            DetectionEvent.institution_id == institution_id,
            DetectionEvent.channel != "aged").values(
            received_at=utcnow() - dt.timedelta(days=days), channel="aged"))


def _rule(session_factory: sessionmaker[Session], world: World, **fields: object) -> int:
    data = {"rule_id": INVALID_USER, "min_level": "medium", "reason": "Brute force: CSIRT",
            **fields}
    with session_factory.begin() as session:
        return policies.create_escalation_rule(
            session=session, actor=world.analyst,
            data=EscalationRuleIn.model_validate(data)).id


# --- retention ----------------------------------------------------------------------------

def test_retention_deletes_exactly_the_old_events_of_each_institution(
        world: World, session_factory: sessionmaker[Session]) -> None:
    # Given A keeps 30 days and B the default (100 here); each has events 200, 60 and 0
    # days old, and a correlation hit on each of A's old events
    with session_factory.begin() as session:
        policies.set_retention(session=session, actor=world.analyst, institution_id=world.a,
                               data=RetentionIn(days=30), default_days=100)
    for institution, actor in ((world.a, world.focal_a), (world.b, world.focal_b)):
        for days, count in ((200, 5), (60, 4), (0, 3)):
            with session_factory.begin() as session:
                flows.ingest(session=session, actor=actor, lines=_lines(count, tag=f"d{days}"))
            if days:
                _age(session_factory, institution, days)
    with session_factory.begin() as session:
        for event in session.scalars(select(DetectionEvent).where(
                DetectionEvent.institution_id == world.a)):
            session.add(CorrelationHit(institution_id=world.a, correlation_id="c",
                                       group_hash="0" * 64, rule_ref="r", event_id=event.id))
    # When the purge runs, in batches of 2
    with session_factory() as session:
        deleted = policies.apply_retention(session=session, actor=world.analyst,
                                           default_days=100, batch_size=2)
    # Then A lost its 200- and 60-day-old events, B only its 200-day-old ones
    assert deleted == {world.a: 9, world.b: 5}
    with session_factory() as session:
        left = {(i, n) for i, n in session.execute(
            select(DetectionEvent.institution_id, func.count()).group_by(
                DetectionEvent.institution_id))}
        assert left == {(world.a, 3), (world.b, 7)}
        oldest_b = session.scalar(select(func.min(DetectionEvent.received_at)).where(
            DetectionEvent.institution_id == world.b))
        assert oldest_b is not None
        # The hits of deleted events went with them; those of kept events stay
        kept_ids = set(session.scalars(select(DetectionEvent.id)))
        hits = list(session.scalars(select(CorrelationHit.event_id)))
        assert len(hits) == 3 and set(hits) <= kept_ids
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("detection.retention.%")).order_by(AuditEntry.seq)))
        assert actions == ["detection.retention.set", "detection.retention.apply",
                           "detection.retention.apply"]
    # And a second run finds nothing more to delete
    with session_factory() as session:
        assert policies.apply_retention(session=session, actor=world.analyst,
                                        default_days=100) == {}


def test_retention_scope_and_permissions(world: World,
                                         session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        # A focal point reads its own institution's retention only, and cannot change it
        own = policies.get_retention(session=session, actor=world.focal_a,
                                     institution_id=world.a, default_days=180)
        assert (own.days, own.default) == (180, True)
        with pytest.raises(NotFound):
            policies.get_retention(session=session, actor=world.focal_a,
                                   institution_id=world.b, default_days=180)
        with pytest.raises(Forbidden):
            policies.set_retention(session=session, actor=world.focal_a,
                                   institution_id=world.a, data=RetentionIn(days=5))
        with pytest.raises(Forbidden):
            policies.apply_retention(session=session, actor=world.focal_a)
        rows = policies.list_retention(session=session, actor=world.focal_a, default_days=9)
        assert [r.institution_id for r in rows] == [world.a]
        with pytest.raises(NotFound):
            policies.set_retention(session=session, actor=world.analyst,
                                   institution_id=999999, data=RetentionIn(days=5))
    with pytest.raises(ValueError):
        RetentionIn(days=0)


def test_retention_job_is_scheduled_daily() -> None:
    from lakana.core.jobs.service import get_task, schedules

    assert get_task(tasks.RETENTION_TASK) is not None
    assert any(s.name == tasks.RETENTION_TASK and s.every == dt.timedelta(days=1)
               for s in schedules())


# --- escalation ---------------------------------------------------------------------------

def _cases(session_factory: sessionmaker[Session]) -> list[Case]:
    with session_factory() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def test_escalation_opens_one_case_with_observables(
        world: World, session_factory: sessionmaker[Session]) -> None:
    # Given a rule: "SSH invalid user" alerts of A, medium or worse, escalate
    _rule(session_factory, world, institution_id=world.a)
    # When A's brute force arrives in two batches, and B's too
    for _ in range(2):
        with session_factory.begin() as session:
            flows.ingest(session=session, actor=world.focal_a, lines=_lines(),
                         system_id=world.a_system)
    with session_factory.begin() as session:
        flows.ingest(session=session, actor=world.focal_b, lines=_lines())
    # Then A's alert is one CSIRT case, with the attacker's address as an observable
    (case,) = _cases(session_factory)
    with session_factory() as session:
        alerts = list(session.scalars(select(DetectionAlert).where(
            DetectionAlert.institution_id == world.a)))
        assert alerts and all(a.status == "escalated" and a.case_id == case.id
                              for a in alerts)
        assert case.institution_id == world.a and case.source == "detection"
        values = set(session.scalars(select(Observable.value).join(
            CaseObservable, CaseObservable.observable_id == Observable.id).where(
            CaseObservable.case_id == case.id)))
        assert values == {ATTACKER}
        # B's alert (no rule for B) stays open
        b_alert = session.scalars(select(DetectionAlert).where(
            DetectionAlert.institution_id == world.b)).one()
        assert b_alert.status == "open" and b_alert.case_id is None
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "detection.alert.escalate")) >= 1


def test_level_and_rule_must_match(world: World,
                                   session_factory: sessionmaker[Session]) -> None:
    # Given rules that do not cover a medium "invalid user" alert
    _rule(session_factory, world, min_level="high")
    _rule(session_factory, world, rule_id="another-rule", min_level="informational")
    _rule(session_factory, world, institution_id=world.b, min_level="low")
    with session_factory.begin() as session:
        flows.ingest(session=session, actor=world.focal_a, lines=_lines())
    # Then no case is opened
    assert _cases(session_factory) == []


def test_disabled_rule_does_not_escalate(world: World,
                                         session_factory: sessionmaker[Session]) -> None:
    rule_id = _rule(session_factory, world)
    with session_factory.begin() as session:
        with pytest.raises(Forbidden):
            policies.disable_escalation_rule(session=session, actor=world.focal_a,
                                             escalation_id=rule_id)
        policies.disable_escalation_rule(session=session, actor=world.analyst,
                                         escalation_id=rule_id)
    with session_factory.begin() as session:
        flows.ingest(session=session, actor=world.focal_a, lines=_lines())
    assert _cases(session_factory) == []
    with session_factory() as session:
        (alert,) = session.scalars(select(DetectionAlert))
        assert alert.status == "open"
        (rule,) = policies.list_escalation_rules(session=session, actor=world.focal_a)
        assert not rule.enabled


def test_escalation_rule_validation(world: World,
                                    session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError):
        EscalationRuleIn.model_validate({"min_level": "severe", "reason": "x"})
    with pytest.raises(ValueError):
        EscalationRuleIn.model_validate({"min_level": "high", "reason": ""})
    with session_factory.begin() as session:
        with pytest.raises(NotFound):
            policies.create_escalation_rule(session=session, actor=world.analyst,
                                            data=EscalationRuleIn(institution_id=999999,
                                                                  reason="x"))
        with pytest.raises(Forbidden):
            policies.create_escalation_rule(session=session, actor=world.focal_a,
                                            data=EscalationRuleIn(reason="x"))
        policies.create_escalation_rule(session=session, actor=world.analyst,
                                        data=EscalationRuleIn(min_level=Level.HIGH,
                                                              reason="x"))
        with pytest.raises(Conflict):
            policies.create_escalation_rule(session=session, actor=world.analyst,
                                            data=EscalationRuleIn(min_level=Level.HIGH,
                                                                  reason="again"))


@pytest.fixture
def failing_cases(engine: Engine) -> Iterator[None]:
    """The database refuses every new CSIRT case (as a failing CSIRT store would)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("CREATE OR REPLACE FUNCTION lakana_test_refuse() RETURNS trigger "
                              "AS $$ BEGIN RAISE EXCEPTION 'csirt store down'; END $$ "
                              "LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER lakana_test_refuse BEFORE INSERT ON csirt_case "
                              "FOR EACH ROW EXECUTE FUNCTION lakana_test_refuse()"))
        else:
            conn.execute(text("CREATE TRIGGER lakana_test_refuse BEFORE INSERT ON csirt_case "
                              "BEGIN SELECT RAISE(ABORT, 'csirt store down'); END"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS lakana_test_refuse" + (
                " ON csirt_case" if engine.dialect.name == "postgresql" else "")))
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION IF EXISTS lakana_test_refuse()"))


def test_escalation_failure_keeps_the_events(world: World,
                                             session_factory: sessionmaker[Session],
                                             failing_cases: None) -> None:
    # Given a rule that escalates, and a CSIRT store that refuses cases
    _rule(session_factory, world)
    # When a batch raises an alert
    with session_factory.begin() as session:
        result = flows.ingest(session=session, actor=world.focal_a, lines=_lines(4))
    # Then the batch's events and alert are committed, the alert stays open without case
    assert result.stored == 4
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DetectionEvent)) == 4
        (alert,) = session.scalars(select(DetectionAlert))
        assert (alert.status, alert.case_id, alert.event_count) == ("open", None, 4)
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        # And the failure is ledgered, with no trace of the case that was rolled back
        actions = set(session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("detection.%"))))
        assert "detection.alert.escalation_failed" in actions
        assert "detection.ingest" in actions
        assert not actions & {"detection.alert.case", "detection.alert.escalate"}
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("csirt.%"))) == 0


# --- API, page, CLI -----------------------------------------------------------------------

def test_api_policies(world: World, factory: Factory,
                      api_as: Callable[..., TestClient]) -> None:
    analyst = api_as(factory.user(Role.CSIRT_ANALYST))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.a))
    response = analyst.put(f"/api/v1/detection/retention/{world.a}", json={"days": 45})
    assert response.status_code == 200, response.text
    assert (response.json()["days"], response.json()["default"]) == (45, False)
    assert focal.get(f"/api/v1/detection/retention/{world.a}").json()["days"] == 45
    assert focal.get(f"/api/v1/detection/retention/{world.b}").status_code == 404
    assert focal.put(f"/api/v1/detection/retention/{world.a}",
                     json={"days": 5}).status_code == 403
    refused = analyst.put(f"/api/v1/detection/retention/{world.a}", json={"days": 0},
                          headers={"Accept-Language": "fr"})
    assert refused.status_code == 422
    listed = analyst.get("/api/v1/detection/retention").json()
    assert {r["institution_id"] for r in listed} >= {world.a, world.b}
    created = analyst.post("/api/v1/detection/escalation-rules", json={
        "rule_id": INVALID_USER, "min_level": "medium", "institution_id": world.a,
        "reason": "Force brute"})
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    assert analyst.post("/api/v1/detection/escalation-rules", json={
        "min_level": "severe", "reason": "x"}).status_code == 422
    assert [r["id"] for r in focal.get("/api/v1/detection/escalation-rules").json()] == [
        rule_id]
    assert focal.post(f"/api/v1/detection/escalation-rules/{rule_id}/disable").status_code \
        == 403
    disabled = analyst.post(f"/api/v1/detection/escalation-rules/{rule_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False


def test_policies_page(world: World, factory: Factory,
                       login_as: Callable[..., TestClient],
                       session_factory: sessionmaker[Session]) -> None:
    analyst = login_as(factory.user(Role.CSIRT_ANALYST))
    page = analyst.get("/detection/policies")
    assert page.status_code == 200 and "Politiques de détection" in page.text
    csrf = csrf_from(page.text)
    saved = analyst.post("/detection/policies/retention", data={
        "csrf_token": csrf, "institution_id": str(world.b), "days": "90"},
        follow_redirects=False)
    assert saved.status_code == 303
    refused = analyst.post("/detection/policies/retention", data={
        "csrf_token": csrf, "institution_id": str(world.b), "days": "0"})
    assert refused.status_code == 422 and 'value="0"' in refused.text
    added = analyst.post("/detection/policies/escalation", data={
        "csrf_token": csrf, "rule_id": "", "min_level": "high", "institution_id": "",
        "reason": "Tout ce qui est grave"}, follow_redirects=False)
    assert added.status_code == 303
    with session_factory() as session:
        (rule,) = session.scalars(select(EscalationRule))
        assert (rule.min_level, rule.institution_id, rule.enabled) == ("high", None, True)
    shown = analyst.get("/detection/policies?done=escalation").text
    assert "Tout ce qui est grave" in shown and ">90<" in shown
    off = analyst.post(f"/detection/policies/escalation/{rule.id}/disable",
                       data={"csrf_token": csrf}, follow_redirects=False)
    assert off.status_code == 303
    # A focal point sees its own institution, without forms
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=world.a))
    mine = focal.get("/detection/policies").text
    assert "/detection/policies/retention" not in mine and "DGI" in mine and "ANSI" not in mine


def test_cli_policies(world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                      session_factory: sessionmaker[Session]) -> None:
    from lakana.monitoring.detection.cli import app

    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    runner = CliRunner()
    result = runner.invoke(app, ["policy", "retention", "set", "dgi", "15"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["policy", "retention", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert '"days": 15' in result.output
    with session_factory.begin() as session:
        flows.ingest(session=session, actor=world.focal_a, lines=_lines(2))
    _age(session_factory, world.a, 20)
    result = runner.invoke(app, ["policy", "retention", "apply", "--json"])
    assert result.exit_code == 0, result.output
    assert '"total": 2' in result.output
    result = runner.invoke(app, ["policy", "escalation", "add", "--rule",
                                 INVALID_USER, "--min-level", "medium", "--institution",
                                 "DGI", "--reason", "Force brute", "--json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["policy", "escalation", "add", "--min-level",
                                 "severe", "--reason", "x"])
    assert result.exit_code == 2
    with session_factory() as session:
        (rule,) = session.scalars(select(EscalationRule))
    result = runner.invoke(app, ["policy", "escalation", "list"])
    assert result.exit_code == 0 and INVALID_USER[:8] in result.output
    result = runner.invoke(app, ["policy", "escalation", "disable", str(rule.id)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["policy", "escalation", "disable", "999999"])
    assert result.exit_code == 2


def test_demo_escalates_the_cleared_audit_log(session_factory: sessionmaker[Session]) -> None:
    from lakana.core.auth.rbac import system_actor
    from lakana.monitoring.detection import demo, rules
    from lakana.registry import demo as registry_demo

    rules.clear_cache()
    rules.configure(None)
    actor = system_actor("lakana demo", "cli")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
    with session_factory.begin() as session:
        demo.load_demo(session=session, actor=actor)
    with session_factory() as session:
        assert len(list(session.scalars(select(EscalationRule)))) == len(demo.ESCALATIONS)
        cleared = session.scalars(select(DetectionAlert).where(
            DetectionAlert.rule_id == demo.AUDIT_LOG_CLEARED)).one()
        assert cleared.status == "escalated" and cleared.case_reference
        case = session.get(Case, cleared.case_id)
        assert case is not None and case.source == "detection"
