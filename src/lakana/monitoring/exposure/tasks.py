"""Background jobs of exposure monitoring.

* ``exposure.scan`` (payload ``{"scan_id": int}``) runs a requested scan to its end. The
  runner keeps a scan that already finished as it is, so a job delivered twice does no harm;
  a scan whose worker died while running is taken up again from the start.
* ``exposure.scheduled`` runs daily and requests a national scan (trigger ``schedule``) when
  the registry has endpoints; nothing is queued otherwise.
"""

from __future__ import annotations

import datetime as dt
import logging

from lakana.core.auth.rbac import system_actor
from lakana.core.db import transaction
from lakana.core.errors import Invalid
from lakana.core.jobs.service import JobContext, NoRetry, Payload, schedule, task

log = logging.getLogger("lakana.exposure")

SCAN_TASK = "exposure.scan"
SCHEDULED_TASK = "exposure.scheduled"
EVERY = dt.timedelta(days=1)


@task(SCAN_TASK, max_attempts=3, lease=dt.timedelta(minutes=15))
def scan(ctx: JobContext, payload: Payload) -> None:
    """Run the scan named in the payload."""
    from lakana.monitoring.exposure.runner import run_scan

    scan_id = payload.get("scan_id")
    if not isinstance(scan_id, int):
        raise NoRetry(f"bad payload: {payload!r}"[:200])
    run_scan(settings=ctx.settings, session_factory=ctx.session_factory, scan_id=scan_id)


@task(SCHEDULED_TASK, max_attempts=2)
def scheduled(ctx: JobContext, payload: Payload) -> None:
    """Request the daily national scan (when there is anything to scan)."""
    from lakana.monitoring.exposure.schemas import ScanRequest
    from lakana.monitoring.exposure.service import request_scan

    with transaction(ctx.session_factory) as session:
        try:
            found = request_scan(session=session, actor=system_actor("exposure schedule"),
                                 data=ScanRequest(), trigger="schedule")
        except Invalid:
            log.info("scheduled exposure scan: no registered endpoint")
            return
        log.info("scheduled exposure scan #%s queued (%s targets)", found.id,
                 found.targets_total)


schedule(SCHEDULED_TASK, every=EVERY)
