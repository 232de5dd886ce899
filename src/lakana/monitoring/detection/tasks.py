"""Background jobs of detection.

* ``detection.retention`` runs daily and deletes every institution's events older than its
  retention (:func:`policies.apply_retention`, in short batches). Running it twice does no
  harm: the second run finds nothing older left.
"""

from __future__ import annotations

import datetime as dt
import logging

from lakana.core.auth.rbac import system_actor
from lakana.core.jobs.service import JobContext, Payload, schedule, task

log = logging.getLogger("lakana.detection")

RETENTION_TASK = "detection.retention"
EVERY = dt.timedelta(days=1)


@task(RETENTION_TASK, max_attempts=3, lease=dt.timedelta(minutes=30))
def retention(ctx: JobContext, payload: Payload) -> None:
    """Apply every institution's retention now."""
    from lakana.monitoring.detection.policies import apply_retention

    with ctx.session_factory() as session:
        try:
            deleted = apply_retention(session=session, actor=system_actor("detection retention"),
                                      default_days=ctx.settings.detection_retention_days)
        except BaseException:
            session.rollback()
            raise
    log.info("detection retention: %s events deleted in %s institutions",
             sum(deleted.values()), len(deleted))


schedule(RETENTION_TASK, every=EVERY)
