"""The core's own periodic tasks: purge expired sessions, old finished jobs and the rate
limit counters of windows long over."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete

from lakana.core import ratelimit
from lakana.core.auth.models import UserSession
from lakana.core.db import transaction, utcnow
from lakana.core.jobs.models import Job, JobStatus
from lakana.core.jobs.service import JobContext, Payload, schedule, task

log = logging.getLogger("lakana.jobs")

#: Finished jobs are kept this long for inspection, then purged.
JOB_RETENTION = dt.timedelta(days=14)
#: Rate-limit counters are kept this long after their window started.
RATE_COUNTER_RETENTION = dt.timedelta(days=2)


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


@task("core.purge_rate_counters", max_attempts=3)
def purge_rate_counters(ctx: JobContext, payload: Payload) -> None:
    """Delete rate-limit counters of windows that started over two days ago (every window
    in use is a day or shorter; one-use token ids live minutes)."""
    with transaction(ctx.session_factory) as session:
        purged = ratelimit.purge(session, older_than=RATE_COUNTER_RETENTION)
    log.info("purged %s rate-limit counters", purged)


schedule("core.cleanup_sessions", every=dt.timedelta(hours=1))
schedule("core.purge_rate_counters", every=dt.timedelta(days=1))
schedule("core.purge_jobs", every=dt.timedelta(days=1))
