"""Background jobs of the registry's lifecycle.

* ``biometry.retention`` runs daily and deletes the data of every deceased or rejected person
  whose lawful retention has ended (:func:`lakana.biometry.lifecycle.run_retention`).
  Running it twice does no harm: the second run finds nothing due.
"""

from __future__ import annotations

import datetime as dt
import logging

from lakana.core.auth.rbac import system_actor
from lakana.core.jobs.service import JobContext, Payload, schedule, task

log = logging.getLogger("lakana.biometry")

RETENTION_TASK = "biometry.retention"
EVERY = dt.timedelta(days=1)


@task(RETENTION_TASK, max_attempts=3, lease=dt.timedelta(minutes=30))
def retention(ctx: JobContext, payload: Payload) -> None:
    """Delete what is due now."""
    from lakana.biometry.lifecycle import run_retention

    with ctx.session_factory.begin() as session:
        deleted = run_retention(session=session, actor=system_actor("biometry retention"))
    log.info("biometry retention: %s persons' data deleted", deleted)


schedule(RETENTION_TASK, every=EVERY)
