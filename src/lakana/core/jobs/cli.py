"""``lakana worker`` (run background jobs) and ``lakana jobs`` (inspect and retry them)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from lakana.core.auth.rbac import system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, friendly_errors
from lakana.core.jobs import service
from lakana.core.jobs.models import JobStatus
from lakana.core.jobs.worker import run_worker

app = typer.Typer(help="Inspect and retry background jobs.", no_args_is_help=True)


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every due job, then exit.")] = False,
    poll_interval: Annotated[float, typer.Option(
        "--poll-interval", min=0.05, help="Seconds between looks at an empty queue.")] = 1.0,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", min=1, max=64, help="Jobs run at the same time.")] = 1,
) -> None:
    """Run background jobs (several workers may share the queue); stop with Ctrl-C or SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stats = run_worker(cli_settings(), once=once, concurrency=concurrency,
                       poll_interval=poll_interval)
    typer.echo(f"jobs run: {stats.total} (succeeded {stats.succeeded}, to retry "
               f"{stats.failed}, dead {stats.dead})")


@app.command("list")
@friendly_errors
def list_jobs(
    status: Annotated[JobStatus | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs, newest first."""
    with cli_transaction() as session:
        rows, total = service.list_jobs(session=session, actor=system_actor("lakana jobs", "cli"),
                                        status=status, limit=limit)
        data: list[dict[str, Any]] = [
            {"id": j.id, "name": j.name, "status": j.status, "attempts": j.attempts,
             "max_attempts": j.max_attempts, "run_after": j.run_after.isoformat(),
             "last_error": _last_line(j.last_error)} for j in rows]
    if as_json:
        echo_json({"total": total, "items": data})
        return
    for item in data:
        error = f"  {item['last_error']}" if item["last_error"] else ""
        typer.echo(f"{item['id']:>8}  {item['status']:<9} {item['attempts']}/"
                   f"{item['max_attempts']}  {item['name']}{error}")
    typer.echo(f"{len(data)} of {total} jobs")


def _last_line(error: str | None) -> str | None:
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else None


@app.command("retry")
@friendly_errors
def retry(job_id: Annotated[int, typer.Argument(help="The dead job's id.")]) -> None:
    """Queue a dead job again with a fresh set of attempts."""
    with cli_transaction() as session:
        job = service.retry_job(session=session, actor=system_actor("lakana jobs", "cli"),
                                job_id=job_id)
        typer.echo(f"job {job.id} ({job.name}) queued again")
