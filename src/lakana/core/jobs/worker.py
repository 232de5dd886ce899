"""The worker loop behind ``lakana worker``: schedules, claims, a thread pool, graceful stop.

Several workers (processes or machines) share one queue: claims are atomic, so adding
workers adds throughput. ``SIGTERM``/``SIGINT`` stop claiming and let running jobs finish.
With ``Settings.jobs_inline`` the web process runs the same loop in a background thread
(:func:`start_background_worker`), so a laptop needs no second process.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory
from lakana.core.jobs.models import JobStatus
from lakana.core.jobs.service import claim, enqueue_due_schedules, execute

log = logging.getLogger("lakana.jobs")


def load_builtin_tasks() -> None:
    """Register the core's tasks (domains register theirs when their plugin is imported)."""
    from lakana.core.jobs import tasks  # noqa: F401
    from lakana.core.notifications import mail  # noqa: F401


def new_worker_id() -> str:
    """A name unique to this worker: host, process and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats:
    """What a worker did before it stopped."""

    succeeded: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        """Jobs run, whatever their outcome."""
        return self.succeeded + self.failed + self.dead

    def add(self, status: JobStatus) -> None:
        """Count one outcome."""
        if status is JobStatus.SUCCEEDED:
            self.succeeded += 1
        elif status is JobStatus.FAILED:
            self.failed += 1
        else:
            self.dead += 1


class _SignalStop:
    """Sets ``stop`` on SIGTERM/SIGINT while active (main thread only), then restores."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing running jobs, then stopping", signum)
        self.stop.set()

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def run_worker(settings: Settings, *, once: bool = False, concurrency: int = 1,
               poll_interval: float = 1.0, stop_event: threading.Event | None = None,
               worker_id: str | None = None,
               session_factory: sessionmaker[Session] | None = None) -> WorkerStats:
    """Run jobs until stopped (or, with ``once``, until no job is due); returns the counts."""
    load_builtin_tasks()
    stop = stop_event or threading.Event()
    worker_id = worker_id or new_worker_id()
    engine = None
    if session_factory is None:
        engine = make_engine(settings, pool_size=concurrency + 2)
        session_factory = make_session_factory(engine)
    stats = WorkerStats()
    log.info("worker %s started (concurrency %s)", worker_id, concurrency)
    try:
        with _SignalStop(stop), ThreadPoolExecutor(
                max_workers=concurrency, thread_name_prefix="lakana-job") as pool:
            _loop(settings, session_factory, pool, stats, once=once, concurrency=concurrency,
                  poll_interval=poll_interval, stop=stop, worker_id=worker_id)
    finally:
        if engine is not None:
            engine.dispose()
    log.info("worker %s stopped: %s", worker_id, stats)
    return stats


def _loop(settings: Settings, session_factory: sessionmaker[Session], pool: ThreadPoolExecutor,
          stats: WorkerStats, *, once: bool, concurrency: int, poll_interval: float,
          stop: threading.Event, worker_id: str) -> None:
    running: set[Future[JobStatus]] = set()
    periods: dict[str, int] = {}
    while not stop.is_set():
        try:
            enqueue_due_schedules(session_factory, done=periods)
            claimed = False
            while len(running) < concurrency and not stop.is_set():
                job = claim(session_factory, worker_id=worker_id)
                if job is None:
                    break
                claimed = True
                running.add(pool.submit(execute, job, settings=settings,
                                        session_factory=session_factory))
        except Exception:
            if once:
                raise
            log.exception("worker %s: the queue is unreachable; retrying", worker_id)
            stop.wait(poll_interval)
            continue
        if once and not claimed and not running:
            return
        if running:
            done, _ = wait(running, timeout=None if once else poll_interval,
                           return_when=FIRST_COMPLETED)
            running -= done
            _collect(done, stats)
        elif not claimed:
            stop.wait(poll_interval)
    done, _ = wait(running)
    _collect(done, stats)


def _collect(done: set[Future[JobStatus]], stats: WorkerStats) -> None:
    for future in done:
        try:
            stats.add(future.result())
        except Exception:  # execute() records handler errors; this is the queue failing
            log.exception("a job could not be recorded; its lease will expire")


class BackgroundWorker:
    """A worker running in a thread of this process (``jobs_inline``)."""

    def __init__(self, settings: Settings, *, concurrency: int = 1,
                 poll_interval: float = 1.0) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=run_worker, name="lakana-worker", daemon=True, args=(settings,),
            kwargs={"concurrency": concurrency, "poll_interval": poll_interval,
                    "stop_event": self.stop_event})

    def start(self) -> BackgroundWorker:
        """Start the thread."""
        self.thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop and wait for its running jobs."""
        self.stop_event.set()
        self.thread.join(timeout)


def start_background_worker(settings: Settings) -> BackgroundWorker:
    """Run jobs inside this process until :meth:`BackgroundWorker.stop` is called."""
    return BackgroundWorker(settings).start()
