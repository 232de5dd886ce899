"""The job queue: task registry, enqueue, schedules, atomic claim with a lease, run and retry.

Jobs live in the application's database (``core_job``), so a job enqueued in the same
transaction as the change it follows commits or rolls back with it. A worker claims one job
in one atomic statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a single
``UPDATE ... RETURNING`` under SQLite's one-writer lock) and holds it under a lease that a
heartbeat extends; a job whose lease expired (its worker died) is claimed again. Delivery is
at least once, never twice at the same time: handlers should be idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import sqlite3
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit import record
from lakana.core.auth.rbac import Actor, CorePermission
from lakana.core.config import Settings
from lakana.core.db import transaction, utcnow
from lakana.core.errors import Conflict, NotFound
from lakana.core.i18n import Msg
from lakana.core.jobs.models import Job, JobStatus

log = logging.getLogger("lakana.jobs")

Payload = dict[str, Any]
Handler = Callable[["JobContext", Payload], None]

DEFAULT_LEASE = dt.timedelta(minutes=5)
CLAIMABLE = (JobStatus.QUEUED.value, JobStatus.FAILED.value)


class NoRetry(Exception):  # noqa: N818  (a signal, not an error condition)
    """Raised by a handler when retrying cannot help (bad payload, permanent refusal)."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its handler and how it is retried."""

    name: str
    handler: Handler
    max_attempts: int = 5
    backoff_base: float = 10.0
    backoff_max: float = 3600.0
    lease: dt.timedelta = DEFAULT_LEASE


@dataclass(frozen=True)
class JobContext:
    """What a handler receives besides its payload."""

    settings: Settings
    session_factory: sessionmaker[Session]
    job_id: int
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Schedule:
    """A periodic task: enqueued once per period of ``every`` by whichever worker comes first."""

    name: str
    every: dt.timedelta
    payload: Payload = field(default_factory=dict)


_tasks: dict[str, TaskSpec] = {}
_schedules: dict[str, Schedule] = {}


def task(name: str, *, max_attempts: int = 5, backoff_base: float = 10.0,
         backoff_max: float = 3600.0, lease: dt.timedelta = DEFAULT_LEASE
         ) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of task ``name``."""

    def decorator(handler: Handler) -> Handler:
        known = _tasks.get(name)
        if known is not None and known.handler is not handler:
            raise ValueError(f"task {name!r} is already registered")
        _tasks[name] = TaskSpec(name=name, handler=handler, max_attempts=max_attempts,
                                backoff_base=backoff_base, backoff_max=backoff_max, lease=lease)
        return handler

    return decorator


def get_task(name: str) -> TaskSpec | None:
    """The registered task called ``name``, if any."""
    return _tasks.get(name)


def registered_tasks() -> Mapping[str, TaskSpec]:
    """Every registered task, by name."""
    return dict(_tasks)


def schedule(name: str, *, every: dt.timedelta, payload: Payload | None = None) -> Schedule:
    """Declare that task ``name`` runs every ``every`` (the worker enqueues it)."""
    if every.total_seconds() < 1:
        raise ValueError("a schedule's period must be at least one second")
    entry = Schedule(name=name, every=every, payload=dict(payload or {}))
    _schedules[name] = entry
    return entry


def schedules() -> tuple[Schedule, ...]:
    """Every declared schedule."""
    return tuple(_schedules.values())


# --- enqueue ---------------------------------------------------------------------------

def enqueue(session: Session, name: str, payload: Payload | None = None, *,
            run_after: dt.datetime | None = None, unique_key: str | None = None,
            priority: int = 0, max_attempts: int | None = None) -> int:
    """Add a job in the caller's transaction (no commit); returns its id.

    With ``unique_key``, a second job with the same key is not added: the existing job's id
    is returned (keys are kept for good, so put a period or version in them).
    """
    spec = _tasks.get(name)
    if spec is None:
        raise ValueError(f"unknown task {name!r}")
    return _insert(session, _row(spec, payload, run_after, unique_key, priority,
                                 max_attempts))[0]


def _row(spec: TaskSpec, payload: Payload | None, run_after: dt.datetime | None,
         unique_key: str | None, priority: int, max_attempts: int | None) -> dict[str, Any]:
    body = dict(payload or {})
    json.dumps(body)  # fail now, in the caller's code, rather than in the worker
    return {
        "name": spec.name, "payload": body, "status": JobStatus.QUEUED.value, "priority": priority,
        "attempts": 0, "max_attempts": max_attempts or spec.max_attempts,
        "run_after": run_after or utcnow(), "unique_key": unique_key, "created_at": utcnow()}


def _insert(session: Session, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert a job row; with a ``unique_key`` already taken, return the existing row's id.

    ``ON CONFLICT DO NOTHING`` (both dialects) keeps the caller's transaction usable when
    two processes race on the same key. The boolean tells whether a row was added.
    """
    dialect = session.get_bind().dialect.name
    if values.get("unique_key") is None or dialect not in ("postgresql", "sqlite"):
        job = Job(**values)
        session.add(job)
        session.flush()
        return job.id, True
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Job).values(**values).on_conflict_do_nothing(index_elements=["unique_key"])
    new_id = session.execute(stmt.returning(Job.id)).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True
    existing = session.execute(select(Job.id).where(
        Job.unique_key == values["unique_key"])).scalar_one()
    return int(existing), False


def enqueue_due_schedules(session_factory: sessionmaker[Session], *,
                          now: dt.datetime | None = None,
                          done: dict[str, int] | None = None) -> int:
    """Enqueue each schedule's job for the current period unless some worker already did.

    ``done`` remembers, per worker, the periods already handled so the database is asked
    once per period. Returns how many jobs this call added.
    """
    now = now or utcnow()
    done = {} if done is None else done
    added = 0
    for entry in schedules():
        if entry.name not in _tasks:
            continue
        period = int(now.timestamp() // entry.every.total_seconds())
        if done.get(entry.name) == period:
            continue
        key = f"schedule:{entry.name}:{period}"
        spec = _tasks[entry.name]
        with transaction(session_factory) as session:
            _, created = _insert(session, _row(spec, entry.payload, now, key, 0, None))
        added += int(created)
        done[entry.name] = period
    return added


# --- claim and run ---------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds under a lease, detached from any session."""

    id: int
    name: str
    payload: Payload
    attempts: int
    max_attempts: int
    worker_id: str


def _due(now: dt.datetime) -> Any:
    return or_(
        Job.status.in_(CLAIMABLE) & (Job.run_after <= now),
        (Job.status == JobStatus.RUNNING.value) & (Job.locked_until < now),
    )


def claim(session_factory: sessionmaker[Session], *, worker_id: str,
          now: dt.datetime | None = None, lease: dt.timedelta | None = None
          ) -> ClaimedJob | None:
    """Take the next due job (or one whose lease expired) in one atomic statement."""
    now = now or utcnow()
    with transaction(session_factory) as session:
        pick: Select[int] = select(Job.id).where(_due(now)).order_by(
            Job.priority.desc(), Job.run_after, Job.id).limit(1)
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        elif dialect == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} lacks RETURNING: 3.35+ needed")
        # One statement: SQLite's writer lock (or the row lock) covers the pick and the mark.
        stmt = (update(Job).where(Job.id == pick.scalar_subquery(), _due(now))
                .values(status=JobStatus.RUNNING.value, locked_by=worker_id,
                        locked_until=now + (lease or DEFAULT_LEASE),
                        attempts=Job.attempts + 1, started_at=now)
                .returning(Job.id, Job.name, Job.payload, Job.attempts, Job.max_attempts)
                .execution_options(synchronize_session=False))
        row = session.execute(stmt).first()
    if row is None:
        return None
    claimed = ClaimedJob(id=row.id, name=row.name, payload=dict(row.payload or {}),
                         attempts=row.attempts, max_attempts=row.max_attempts,
                         worker_id=worker_id)
    spec = _tasks.get(claimed.name)
    if spec is not None and lease is None and spec.lease != DEFAULT_LEASE:
        extend_lease(session_factory, claimed, spec.lease)
    return claimed


def extend_lease(session_factory: sessionmaker[Session], job: ClaimedJob,
                 lease: dt.timedelta) -> bool:
    """Push the lease of a job this worker still holds; ``False`` if it lost the job."""
    with transaction(session_factory) as session:
        result = session.execute(
            update(Job).where(Job.id == job.id, Job.locked_by == job.worker_id,
                              Job.status == JobStatus.RUNNING.value)
            .values(locked_until=utcnow() + lease)
            .execution_options(synchronize_session=False))
        return bool(getattr(result, "rowcount", 0) == 1)


def backoff_delay(attempt: int, *, base: float = 10.0, cap: float = 3600.0,
                  rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempt``: doubling from ``base``, capped, ±20 % jitter."""
    raw: float = min(cap, base * float(2 ** max(attempt - 1, 0)))
    jitter: float = (rng or random).uniform(0.8, 1.2)
    return raw * jitter


def _finish(session_factory: sessionmaker[Session], job: ClaimedJob,
            values: dict[str, Any]) -> bool:
    with transaction(session_factory) as session:
        result = session.execute(
            update(Job).where(Job.id == job.id, Job.locked_by == job.worker_id,
                              Job.status == JobStatus.RUNNING.value)
            .values(locked_by=None, locked_until=None, **values)
            .execution_options(synchronize_session=False))
        kept = bool(getattr(result, "rowcount", 0) == 1)
    if not kept:
        log.warning("job %s: lease lost before it finished; result not recorded", job.id)
    return kept


class _Heartbeat(threading.Thread):
    """Keeps extending a running job's lease so that no other worker reclaims it."""

    def __init__(self, session_factory: sessionmaker[Session], job: ClaimedJob,
                 lease: dt.timedelta) -> None:
        super().__init__(name=f"lakana-heartbeat-{job.id}", daemon=True)
        self.session_factory, self.job, self.lease = session_factory, job, lease
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease.total_seconds() / 3):
            try:
                extend_lease(self.session_factory, self.job, self.lease)
            except Exception:  # a missed beat is retried; the lease has slack
                log.exception("job %s: could not extend the lease", self.job.id)


def execute(job: ClaimedJob, *, settings: Settings, session_factory: sessionmaker[Session],
            now: dt.datetime | None = None) -> JobStatus:
    """Run a claimed job's handler and record the outcome (success, retry later, or dead)."""
    spec = _tasks.get(job.name)
    if job.attempts > job.max_attempts:
        _finish(session_factory, job, {"status": JobStatus.DEAD.value, "finished_at": utcnow(),
                "last_error": "gave up: the job's worker stopped during every attempt"})
        return JobStatus.DEAD
    if spec is None:
        return _failed(session_factory, job, f"unknown task {job.name!r}", None, now)
    heartbeat = _Heartbeat(session_factory, job, spec.lease)
    heartbeat.start()
    try:
        spec.handler(JobContext(settings=settings, session_factory=session_factory,
                                job_id=job.id, attempt=job.attempts, worker_id=job.worker_id),
                     job.payload)
    except NoRetry as exc:
        log.warning("job %s (%s) failed for good: %s", job.id, job.name, exc)
        _finish(session_factory, job, {"status": JobStatus.DEAD.value, "finished_at": utcnow(),
                "last_error": _describe(exc)})
        return JobStatus.DEAD
    except Exception as exc:
        log.warning("job %s (%s) attempt %s failed: %s", job.id, job.name, job.attempts, exc)
        return _failed(session_factory, job, _describe(exc), spec, now)
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
    _finish(session_factory, job, {"status": JobStatus.SUCCEEDED.value, "last_error": None,
                                   "finished_at": utcnow()})
    return JobStatus.SUCCEEDED


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))[-4000:]


def _failed(session_factory: sessionmaker[Session], job: ClaimedJob, error: str,
            spec: TaskSpec | None, now: dt.datetime | None) -> JobStatus:
    if job.attempts >= job.max_attempts:
        _finish(session_factory, job, {"status": JobStatus.DEAD.value, "finished_at": utcnow(),
                                       "last_error": error})
        return JobStatus.DEAD
    delay = backoff_delay(job.attempts, base=spec.backoff_base if spec else 60.0,
                          cap=spec.backoff_max if spec else 3600.0)
    _finish(session_factory, job, {"status": JobStatus.FAILED.value, "last_error": error,
            "run_after": (now or utcnow()) + dt.timedelta(seconds=delay)})
    return JobStatus.FAILED


def run_next(settings: Settings, session_factory: sessionmaker[Session], *, worker_id: str,
             now: dt.datetime | None = None) -> JobStatus | None:
    """Claim and run one due job; ``None`` when nothing is due."""
    job = claim(session_factory, worker_id=worker_id, now=now)
    if job is None:
        return None
    return execute(job, settings=settings, session_factory=session_factory, now=now)


# --- inspection ------------------------------------------------------------------------

def list_jobs(*, session: Session, actor: Actor, status: JobStatus | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    """Jobs, newest first, for people holding ``core:job:read``."""
    actor.require(CorePermission.JOB_READ)
    stmt = select(Job)
    if status is not None:
        stmt = stmt.where(Job.status == status.value)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.scalars(stmt.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def retry_job(*, session: Session, actor: Actor, job_id: int) -> Job:
    """Put a dead job back in the queue with a fresh set of attempts."""
    actor.require(CorePermission.JOB_READ)
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("job"))
    if job.status != JobStatus.DEAD.value:
        raise Conflict("Only a dead job can be retried.")
    job.status, job.attempts, job.run_after = JobStatus.QUEUED.value, 0, utcnow()
    job.finished_at = None
    session.flush()
    record(session=session, actor=actor, action="core.job.retry", object_type="core.job",
           object_id=job.id, object_repr=f"{job.name} #{job.id}")
    return job
