"""The durable job that runs a queued ABIS request (Insert, Identify, Delete).

Delivery is at least once: :func:`lakana.biometry.abis.service.process` does nothing for
a request already done, so a job re-run after its worker died never answers twice.
"""

from __future__ import annotations

import datetime as dt

from lakana.biometry import runtime
from lakana.biometry.abis import service
from lakana.core.auth.rbac import system_actor
from lakana.core.jobs.service import JobContext, NoRetry, Payload, task

MAX_ATTEMPTS = 5


@task(service.PROCESS_TASK, max_attempts=MAX_ATTEMPTS, backoff_base=5.0,
      lease=dt.timedelta(minutes=5))
def process(ctx: JobContext, payload: Payload) -> None:
    """Run one ABIS request to its response."""
    request_pk = payload.get("request")
    if not isinstance(request_pk, int):
        raise NoRetry("an ABIS job needs the request's row id")
    service.process(session_factory=ctx.session_factory, settings=ctx.settings,
                    actor=system_actor("ABIS", "job"), store=runtime.keystore(ctx.settings),
                    engine=runtime.engine(ctx.settings), request_pk=request_pk,
                    last_attempt=ctx.attempt >= MAX_ATTEMPTS)
