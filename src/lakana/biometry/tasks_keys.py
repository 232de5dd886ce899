"""Background jobs of the registry."""

from __future__ import annotations

from lakana.biometry import keys, runtime
from lakana.biometry.protection import rotation
from lakana.core.auth.rbac import system_actor
from lakana.core.jobs.service import JobContext, Payload, task


@task(keys.REWRAP_TASK, max_attempts=10)
def rewrap(ctx: JobContext, payload: Payload) -> None:
    """Run the rotation in progress to the end (a retry resumes at its checkpoint)."""
    rotation.run_rotation(session_factory=ctx.session_factory,
                          actor=system_actor("key rotation", "job"),
                          store=runtime.keystore(ctx.settings))
