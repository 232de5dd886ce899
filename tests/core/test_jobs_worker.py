"""The worker process: several workers share the queue, restarts, signals, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.jobs import cli as jobs_cli
from lakana.core.jobs import service
from lakana.core.jobs.models import Job
from lakana.core.jobs.service import JobContext, Payload, task
from lakana.core.jobs.worker import BackgroundWorker, run_worker


@task("tests.log_execution")
def log_execution(ctx: JobContext, payload: Payload) -> None:
    """Append "<job id> <worker id>" to the file named in the payload (one write: atomic)."""
    time.sleep(float(payload.get("sleep", 0)))
    line = f"{ctx.job_id} {ctx.worker_id}\n".encode()
    fd = os.open(payload["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@task("tests.fail_once", max_attempts=3, backoff_base=3600.0)
def fail_once(ctx: JobContext, payload: Payload) -> None:
    """Fail on the first attempt only."""
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")


def _status_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Jobs of the tests' own tasks by status (the built-in schedules run alongside)."""
    with session_factory() as session:
        rows = session.execute(select(Job.status, func.count()).where(
            Job.name.startswith("tests.")).group_by(Job.status)).all()
    return {status: count for status, count in rows}


def test_two_workers_drain_200_jobs_each_exactly_once(
        session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path) -> None:
    # Given 200 jobs that log each execution to a file
    log = tmp_path / "executions.log"
    with session_factory.begin() as session:
        ids = {service.enqueue(session, "tests.log_execution",
                               {"path": str(log), "sleep": 0.002}) for _ in range(200)}
    # When two workers, each running two jobs at a time, share the queue until it is empty
    stop = threading.Event()
    workers = [threading.Thread(target=run_worker, args=(settings,), kwargs={
        "concurrency": 2, "poll_interval": 0.05, "stop_event": stop, "worker_id": name})
        for name in ("worker-a", "worker-b")]
    for thread in workers:
        thread.start()
    deadline = time.monotonic() + 120
    while _status_counts(session_factory).get("succeeded", 0) < 200:
        assert time.monotonic() < deadline, _status_counts(session_factory)
        time.sleep(0.1)
    stop.set()
    for thread in workers:
        thread.join(30)
        assert not thread.is_alive()
    # Then every job ran exactly once, both workers took part, and all succeeded
    lines = [line.split() for line in log.read_text().splitlines()]
    runs = Counter(int(job_id) for job_id, _ in lines)
    assert set(runs) == ids and set(runs.values()) == {1}
    assert {worker for _, worker in lines} == {"worker-a", "worker-b"}
    assert _status_counts(session_factory) == {"succeeded": 200}


def test_a_job_survives_a_worker_crash(session_factory: sessionmaker[Session],
                                       settings: Settings, tmp_path: Path) -> None:
    # Given a job claimed by a worker that then died (its lease has run out)
    log = tmp_path / "executions.log"
    with session_factory.begin() as session:
        job_id = service.enqueue(session, "tests.log_execution", {"path": str(log)})
    assert service.claim(session_factory, worker_id="crashed") is not None
    with session_factory.begin() as session:
        session.execute(update(Job).values(locked_until=utcnow()))
    # When a new worker starts and drains the queue
    stats = run_worker(settings, once=True, worker_id="restarted")
    # Then the job ran once, by the new worker, on its second attempt
    assert stats.succeeded >= 1
    assert log.read_text() == f"{job_id} restarted\n"
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "succeeded" and job.attempts == 2


def test_once_leaves_retries_for_later(session_factory: sessionmaker[Session],
                                       settings: Settings) -> None:
    # Given a job that fails on its first attempt (next try in about an hour)
    with session_factory.begin() as session:
        service.enqueue(session, "tests.fail_once")
    # When a worker drains the queue once
    stats = run_worker(settings, once=True, concurrency=3)
    # Then it ran one attempt and exited instead of waiting for the retry
    assert (stats.failed, stats.dead) == (1, 0)
    assert _status_counts(session_factory) == {"failed": 1}


def test_sigterm_stops_the_worker_gracefully(session_factory: sessionmaker[Session],
                                             settings: Settings, tmp_path: Path) -> None:
    # Given a worker running in the main thread, busy with a job when SIGTERM arrives
    log = tmp_path / "executions.log"
    with session_factory.begin() as session:
        service.enqueue(session, "tests.log_execution", {"path": str(log), "sleep": 0.5})
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    # When the signal is delivered
    started = time.monotonic()
    stats = run_worker(settings, poll_interval=0.05)
    # Then the running job finished, the worker returned, and the old handler is back
    assert stats.succeeded >= 1 and log.exists()
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGTERM) is before


def test_background_worker_runs_jobs_inside_the_process(
        session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path) -> None:
    # Given a worker thread inside this process (jobs_inline)
    log = tmp_path / "executions.log"
    worker = BackgroundWorker(settings, poll_interval=0.05).start()
    try:
        # When a job is enqueued and committed
        with session_factory.begin() as session:
            service.enqueue(session, "tests.log_execution", {"path": str(log)})
        deadline = time.monotonic() + 30
        while _status_counts(session_factory) != {"succeeded": 1}:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
    # Then it ran, and the thread stopped when asked
    assert log.exists() and not worker.thread.is_alive()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI's settings at the test home and database."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_worker_command_once_drains_the_queue(
        session_factory: sessionmaker[Session], tmp_path: Path, cli_env: None) -> None:
    # Given three queued jobs and the worker command as the lead wires it
    log = tmp_path / "executions.log"
    with session_factory.begin() as session:
        for _ in range(3):
            service.enqueue(session, "tests.log_execution", {"path": str(log)})
    root = typer.Typer()
    root.command("worker")(jobs_cli.worker)
    root.add_typer(jobs_cli.app, name="jobs")
    # When `lakana worker --once` runs
    result = CliRunner().invoke(root, ["worker", "--once", "--poll-interval", "0.1"])
    # Then it ran the three jobs and exited
    assert result.exit_code == 0, result.output
    found = re.search(r"jobs run: (\d+) \(succeeded (\d+), to retry 0, dead 0\)",
                      result.output)
    assert found and found.group(1) == found.group(2)  # ours plus the built-in schedules
    assert len(log.read_text().splitlines()) == 3
    # And `lakana jobs list` shows them
    listed = CliRunner().invoke(root, ["jobs", "list", "--status", "succeeded", "--json"])
    assert listed.exit_code == 0, listed.output
    names = [item["name"] for item in json.loads(listed.output)["items"]]
    assert names.count("tests.log_execution") == 3
    text = CliRunner().invoke(root, ["jobs", "list"])
    assert text.exit_code == 0 and "succeeded" in text.output
    # And retrying a job that is not dead fails with a one-line reason
    retried = CliRunner().invoke(root, ["jobs", "retry", "1"])
    assert retried.exit_code != 0
