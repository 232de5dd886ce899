"""The job queue's service: enqueue, claim, run, retry with backoff, leases, schedules."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import UserSession
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Conflict
from lakana.core.jobs import service
from lakana.core.jobs.models import Job, JobStatus
from lakana.core.jobs.service import JobContext, NoRetry, Payload, task
from lakana.core.jobs.worker import load_builtin_tasks
from tests.conftest import Factory

CALLS: list[tuple[int, int, dict[str, Any]]] = []


@task("tests.record_call")
def record_call(ctx: JobContext, payload: Payload) -> None:
    """Remember the call (job id, attempt, payload)."""
    CALLS.append((ctx.job_id, ctx.attempt, payload))


@task("tests.always_fails", max_attempts=3, backoff_base=10.0)
def always_fails(ctx: JobContext, payload: Payload) -> None:
    """Fail every time."""
    raise RuntimeError("boom")


@task("tests.refuses", max_attempts=5)
def refuses(ctx: JobContext, payload: Payload) -> None:
    """Fail in a way that retrying cannot fix."""
    raise NoRetry("bad payload")


def _job(session_factory: sessionmaker[Session], job_id: int) -> Job:
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_enqueue_is_part_of_the_callers_transaction(session_factory: sessionmaker[Session],
                                                    settings: Settings) -> None:
    # Given a job enqueued in a transaction that is then rolled back
    with session_factory() as session:
        service.enqueue(session, "tests.record_call", {"n": 1})
        session.rollback()
    # When a worker looks for work
    # Then there is none
    assert service.claim(session_factory, worker_id="w1") is None

    # Given a job enqueued and committed
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.record_call", {"n": 2})
    CALLS.clear()
    # When a worker claims and runs it
    outcome = service.run_next(settings, session_factory, worker_id="w1")
    # Then the handler got its payload once, and the job succeeded and was unlocked
    assert outcome is JobStatus.SUCCEEDED
    assert CALLS == [(job_id, 1, {"n": 2})]
    job = _job(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by, job.locked_until) == (
        "succeeded", 1, None, None)
    assert job.finished_at is not None
    assert service.run_next(settings, session_factory, worker_id="w1") is None


def test_unique_key_deduplicates_and_unknown_task_is_refused(
        session_factory: sessionmaker[Session]) -> None:
    # Given a job with a unique key
    with session_factory.begin() as session:
        first = service.enqueue(session, "tests.record_call", {}, unique_key="digest:2024-05")
    # When the same key is enqueued again, from another transaction
    with session_factory.begin() as session:
        second = service.enqueue(session, "tests.record_call", {}, unique_key="digest:2024-05")
        count = len(session.scalars(select(Job)).all())
    # Then the existing job is returned and no second row exists
    assert first == second and count == 1
    # And an unregistered task name, or a payload that is not JSON, is refused at once
    with session_factory() as session:
        with pytest.raises(ValueError, match="unknown task"):
            service.enqueue(session, "tests.nope", {})
        with pytest.raises(TypeError):
            service.enqueue(session, "tests.record_call", {"when": object()})


def test_priority_then_due_time_order(session_factory: sessionmaker[Session]) -> None:
    # Given a later job, an urgent job and a job not yet due
    now = utcnow()
    with session_factory.begin() as session:
        normal = service.enqueue(session, "tests.record_call", run_after=now)
        urgent = service.enqueue(session, "tests.record_call", priority=5,
                                 run_after=now - dt.timedelta(seconds=1))
        service.enqueue(session, "tests.record_call", run_after=now + dt.timedelta(hours=1))
    # When a worker claims three times
    claimed = [service.claim(session_factory, worker_id="w", now=now) for _ in range(3)]
    # Then it gets the urgent job, then the normal one, and nothing not yet due
    assert [c.id if c else None for c in claimed] == [urgent, normal, None]


def test_failures_retry_with_exponential_backoff_then_die(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a task that always fails, allowed 3 attempts with a 10 s base delay
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.always_fails", {})
    now = utcnow()
    delays = []
    # When the worker runs it, each time as soon as it is due again
    for expected in (JobStatus.FAILED, JobStatus.FAILED, JobStatus.DEAD):
        assert service.run_next(settings, session_factory, worker_id="w", now=now) is expected
        job = _job(session_factory, job_id)
        delays.append((as_utc(job.run_after) - now).total_seconds())
        now = as_utc(job.run_after) + dt.timedelta(seconds=1)
    # Then the delays double (10 s, 20 s, within the ±20 % jitter) and the job ends dead
    assert 8 <= delays[0] <= 12 and 16 <= delays[1] <= 24
    assert job.status == "dead" and job.attempts == 3
    assert "RuntimeError: boom" in (job.last_error or "")
    # And a dead job is not claimed again
    later = now + dt.timedelta(days=1)
    assert service.claim(session_factory, worker_id="w", now=later) is None


def test_no_retry_goes_straight_to_dead(session_factory: sessionmaker[Session],
                                        settings: Settings) -> None:
    # Given a task that raises NoRetry
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.refuses", {})
    # When it runs
    outcome = service.run_next(settings, session_factory, worker_id="w")
    # Then it is dead after one attempt out of five
    job = _job(session_factory, job_id)
    assert outcome is JobStatus.DEAD and job.attempts == 1
    assert "bad payload" in (job.last_error or "")


def test_backoff_is_capped_and_jittered() -> None:
    # Given a seeded random source
    rng = random.Random(7)
    # When delays are computed for growing attempt numbers
    delays = [service.backoff_delay(n, base=10, cap=300, rng=rng) for n in range(1, 12)]
    # Then they grow, never pass the cap plus jitter, and are not all round numbers
    assert delays[0] < delays[3] < delays[5]
    assert max(delays) <= 360 and min(delays) >= 8
    assert len({round(d, 3) for d in delays}) == len(delays)


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_record(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a job claimed by worker A, which then stops answering (crash)
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.record_call", {"n": 9})
    start = utcnow()
    lost = service.claim(session_factory, worker_id="A", now=start)
    assert lost is not None and lost.id == job_id
    # When worker B looks while A's lease runs, then after it expired
    assert service.claim(session_factory, worker_id="B", now=start) is None
    after = start + service.DEFAULT_LEASE + dt.timedelta(seconds=1)
    again = service.claim(session_factory, worker_id="B", now=after)
    # Then B gets the same job as a second attempt and completes it
    assert again is not None and again.id == job_id and again.attempts == 2
    CALLS.clear()
    assert service.execute(again, settings=settings, session_factory=session_factory) \
        is JobStatus.SUCCEEDED
    # And A, waking up late, cannot overwrite B's result
    service.execute(lost, settings=settings, session_factory=session_factory)
    job = _job(session_factory, job_id)
    assert job.status == "succeeded" and job.attempts == 2 and job.locked_by is None


def test_a_job_that_keeps_killing_its_worker_ends_dead(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a job whose worker died during each of its allowed attempts
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.record_call", {}, max_attempts=2)
    now = utcnow()
    for _ in range(2):
        assert service.claim(session_factory, worker_id="doomed", now=now) is not None
        now += service.DEFAULT_LEASE + dt.timedelta(seconds=1)
    # When another worker reclaims it once more
    CALLS.clear()
    claimed = service.claim(session_factory, worker_id="survivor", now=now)
    assert claimed is not None
    outcome = service.execute(claimed, settings=settings, session_factory=session_factory)
    # Then it is given up without running the handler again
    assert outcome is JobStatus.DEAD and CALLS == []
    assert "stopped during every attempt" in (_job(session_factory, job_id).last_error or "")


def test_schedules_are_enqueued_once_per_period_across_workers(
        session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a schedule every hour (and no other: domains declare their own), two workers
    monkeypatch.setattr(service, "_schedules", {})
    service.schedule("tests.record_call", every=dt.timedelta(hours=1), payload={"tick": 1})
    try:
        base = dt.datetime(2030, 1, 1, 10, 5, tzinfo=dt.UTC)
        worker_a: dict[str, int] = {}
        worker_b: dict[str, int] = {}
        # When both look at the schedules, repeatedly, within the same hour
        added = [service.enqueue_due_schedules(session_factory, now=base, done=worker_a),
                 service.enqueue_due_schedules(session_factory, now=base, done=worker_b),
                 service.enqueue_due_schedules(session_factory, now=base, done=worker_a)]
        # Then only one job is enqueued for that hour
        with session_factory() as session:
            jobs = session.scalars(select(Job).where(Job.name == "tests.record_call")).all()
        period = int(base.timestamp() // 3600)
        assert [j.unique_key for j in jobs] == [f"schedule:tests.record_call:{period}"]
        assert added[0] + added[1] + added[2] == 1 and jobs[0].payload == {"tick": 1}
        # And the next hour brings exactly one more
        later = base + dt.timedelta(hours=1)
        service.enqueue_due_schedules(session_factory, now=later, done=worker_b)
        service.enqueue_due_schedules(session_factory, now=later, done=worker_a)
        with session_factory() as session:
            assert len(session.scalars(select(Job)).all()) == 2
    finally:
        service._schedules.pop("tests.record_call", None)


def test_schedule_period_must_be_sensible() -> None:
    # Given / When a schedule shorter than a second / Then it is refused
    with pytest.raises(ValueError):
        service.schedule("tests.record_call", every=dt.timedelta(milliseconds=10))


def test_builtin_cleanup_purges_expired_sessions(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory) -> None:
    # Given one expired and one live browser session
    load_builtin_tasks()
    user = factory.user()
    now = utcnow()
    with session_factory.begin() as session:
        for name, expires in (("old", now - dt.timedelta(hours=1)),
                              ("live", now + dt.timedelta(hours=1))):
            session.add(UserSession(token_hash=name * 8, user_id=user.id, expires_at=expires))
        service.enqueue(session, "core.cleanup_sessions")
    # When the built-in cleanup job runs
    assert service.run_next(settings, session_factory, worker_id="w") is JobStatus.SUCCEEDED
    # Then only the live session is left
    with session_factory() as session:
        left = session.scalars(select(UserSession.token_hash)).all()
    assert left == ["live" * 8]


def test_builtin_purge_keeps_recent_and_dead_jobs(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given an old succeeded job, a recent one and an old dead one
    load_builtin_tasks()
    old = utcnow() - dt.timedelta(days=30)
    with session_factory.begin() as session:
        ids = [service.enqueue(session, "tests.record_call") for _ in range(3)]
        session.execute(update(Job).where(Job.id == ids[0]).values(
            status="succeeded", finished_at=old))
        session.execute(update(Job).where(Job.id == ids[1]).values(
            status="succeeded", finished_at=utcnow()))
        session.execute(update(Job).where(Job.id == ids[2]).values(
            status="dead", finished_at=old))
        purge = service.enqueue(session, "core.purge_jobs")
    # When the purge runs
    assert service.run_next(settings, session_factory, worker_id="w") is JobStatus.SUCCEEDED
    # Then only the old succeeded job is gone
    with session_factory() as session:
        left = set(session.scalars(select(Job.id)).all())
    assert left == {ids[1], ids[2], purge}


def test_list_and_retry_a_dead_job(session_factory: sessionmaker[Session],
                                   settings: Settings) -> None:
    # Given a dead job
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.refuses")
    service.run_next(settings, session_factory, worker_id="w")
    actor = system_actor("tests")
    # When it is listed and retried
    with session_factory.begin() as session:
        rows, total = service.list_jobs(session=session, actor=actor, status=JobStatus.DEAD)
        assert [r.id for r in rows] == [job_id] and total == 1
        service.retry_job(session=session, actor=actor, job_id=job_id)
    # Then it is queued again with fresh attempts, and retrying a live job is a conflict
    job = _job(session_factory, job_id)
    assert job.status == "queued" and job.attempts == 0
    with session_factory() as session, pytest.raises(Conflict):
        service.retry_job(session=session, actor=actor, job_id=job_id)


@task("tests.slow_short_lease", lease=dt.timedelta(seconds=1.5))
def slow_short_lease(ctx: JobContext, payload: Payload) -> None:
    """Run for longer than the lease (the heartbeat must keep it)."""
    import time

    time.sleep(3)


def test_heartbeat_keeps_a_long_job_from_being_taken_twice(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a job whose lease (1.5 s) is shorter than its run time (3 s)
    import threading
    import time

    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.slow_short_lease")
    claimed = service.claim(session_factory, worker_id="A")
    assert claimed is not None
    outcome: list[JobStatus] = []
    runner = threading.Thread(target=lambda: outcome.append(service.execute(
        claimed, settings=settings, session_factory=session_factory)))
    runner.start()
    # When another worker keeps trying to claim while it runs
    stolen = []
    while runner.is_alive():
        stolen.append(service.claim(session_factory, worker_id="B"))
        time.sleep(0.1)
    runner.join()
    # Then it never gets the job: the lease was extended while the job ran
    assert outcome == [JobStatus.SUCCEEDED]
    assert [s for s in stolen if s is not None] == []
    assert _job(session_factory, job_id).attempts == 1


def test_a_job_of_an_unknown_task_waits_for_a_worker_that_knows_it(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a job whose task this worker does not know (written by a newer version)
    with session_factory.begin() as session:
        session.add(Job(name="tests.from_the_future", payload={}, max_attempts=3))
    # When the worker takes it
    outcome = service.run_next(settings, session_factory, worker_id="w")
    # Then it is put back for a retry, with the reason
    with session_factory() as session:
        job = session.scalars(select(Job)).one()
    assert outcome is JobStatus.FAILED and "unknown task" in (job.last_error or "")


def test_builtin_purge_of_rate_counters_keeps_recent_windows(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a counter of a window three days old and one of the current minute
    from lakana.core import ratelimit

    load_builtin_tasks()
    old = utcnow() - dt.timedelta(days=3)
    ratelimit.hit(session_factory, "tests:old", limit=10, window=dt.timedelta(minutes=1),
                  now=old)
    ratelimit.hit(session_factory, "tests:new", limit=10, window=dt.timedelta(minutes=1))
    with session_factory.begin() as session:
        service.enqueue(session, "core.purge_rate_counters")
    # When the daily purge runs
    assert service.run_next(settings, session_factory, worker_id="w") is JobStatus.SUCCEEDED
    # Then only the current window's counter is left
    with session_factory() as session:
        assert session.scalars(select(ratelimit.RateCounter.key)).all() == ["tests:new"]
