"""The core's own periodic tasks: purge expired sessions and old finished jobs."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete

from lakana.core.auth.models import UserSession
from lakana.core.db import transaction, utcnow
from lakana.core.jobs.models import Job, JobStatus
from lakana.core.jobs.service import JobContext, Payload, schedule, task

log = logging.getLogger("lakana.jobs")

#: Finished jobs are kept this long for inspection, then purged.
JOB_RETENTION = dt.timedelta(days=14)


@task("core.cleanup_sessions", max_attempts=3)
def cleanup_sessions(ctx: JobContext, payload: Payload) -> None:
    """Delete browser sessions past their absolute expiry."""
    with transaction(ctx.session_factory) as session:
        result = session.execute(delete(UserSession).where(UserSession.expires_at < utcnow())
                                 .execution_options(synchronize_session=False))
    log.info("purged %s expired sessions", getattr(result, "rowcount", "?"))


@task("core.purge_jobs", max_attempts=3)
def purge_jobs(ctx: JobContext, payload: Payload) -> None:
    """Delete succeeded jobs older than the retention (dead jobs stay for people to look at)."""
    days = int(payload.get("days", JOB_RETENTION.days))
    with transaction(ctx.session_factory) as session:
        session.execute(delete(Job).where(
            Job.status == JobStatus.SUCCEEDED.value,
            Job.finished_at < utcnow() - dt.timedelta(days=days),
        ).execution_options(synchronize_session=False))


schedule("core.cleanup_sessions", every=dt.timedelta(hours=1))
schedule("core.purge_jobs", every=dt.timedelta(days=1))
