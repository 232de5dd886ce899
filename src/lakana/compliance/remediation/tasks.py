"""The daily remediation digest: each institution's focal points hear about its overdue
actions, once a day.

``compliance.remediation_digest`` (scheduled daily) enqueues one
``compliance.remediation_digest_institution`` job per institution with overdue actions,
keyed by institution and day, so running the digest again the same day notifies nobody twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lakana.compliance.remediation import service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.db import transaction
from lakana.core.jobs.service import JobContext, NoRetry, Payload, enqueue, schedule, task
from lakana.core.notifications.service import notify

DIGEST = "compliance.remediation_digest"
DIGEST_INSTITUTION = "compliance.remediation_digest_institution"


@task(DIGEST, max_attempts=3)
def remediation_digest(ctx: JobContext, payload: Payload) -> None:
    """Enqueue today's digest of every institution with overdue actions (once per day)."""
    day = str(payload.get("date") or service.today().isoformat())
    with transaction(ctx.session_factory) as session:
        counts = service.overdue_by_institution(session=session,
                                                on=dt.date.fromisoformat(day))
        for institution_id in sorted(counts):
            enqueue(session, DIGEST_INSTITUTION,
                    {"institution_id": institution_id, "date": day},
                    unique_key=f"remediation-digest:{institution_id}:{day}")


@task(DIGEST_INSTITUTION, max_attempts=5)
def remediation_digest_institution(ctx: JobContext, payload: Payload) -> None:
    """Notify the active focal points of one institution of its overdue actions."""
    try:
        institution_id = int(payload["institution_id"])
        day = dt.date.fromisoformat(str(payload["date"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise NoRetry(f"bad payload {payload!r}") from exc
    with transaction(ctx.session_factory) as session:
        count = service.overdue_by_institution(session=session, on=day).get(institution_id, 0)
        if not count:
            return
        user_ids = list(session.scalars(select(User.id).where(
            User.role == Role.FOCAL_POINT.value, User.is_active.is_(True),
            User.institution_id == institution_id)))
        if user_ids:
            notify(session=session, user_ids=user_ids,
                   title="%(count)s overdue remediation actions",
                   body="%(count)s remediation actions of your institution are past their "
                        "due date. Update them or set a new date.",
                   params={"count": count, "date": day.isoformat()},
                   link="/compliance/actions?overdue=true", level="warning", email=True)


schedule(DIGEST, every=dt.timedelta(days=1))
