"""Overdue statutory deadlines: a periodic job warns the people concerned, once per clock.

``csirt.clock_overdue`` runs every 15 minutes. It writes down the automatic clocks met
meanwhile, then, for each clock past due and still unmet whose warning has not gone out, it
*claims* the clock with one conditional ``UPDATE ... WHERE overdue_notified_at IS NULL``:
only the run whose update touched the row notifies, so two workers (or a run repeated after
a crash) never warn twice. Recipients follow the clock's ``notify`` list: the case's
assignee, the active CSIRT analysts, the active focal points of the case's institution.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.db import as_utc, transaction, utcnow
from lakana.core.i18n import N_
from lakana.core.jobs.service import JobContext, Payload, schedule, task
from lakana.core.notifications.service import notify
from lakana.csirt import clocks, timeline
from lakana.csirt.models import Case, CaseClock

OVERDUE = "csirt.clock_overdue"
EVERY = dt.timedelta(minutes=15)
_ACTOR = system_actor("csirt.clocks", source="system")
OVERDUE_EVENT = N_("Statutory deadline overdue: %(clock)s (%(count)s people warned).")


def _recipients(session: Session, case: Case, notify_list: tuple[str, ...]) -> set[int]:
    users: set[int] = set()
    if "assignee" in notify_list and case.assignee_id is not None:
        users.add(case.assignee_id)
    roles = []
    if "analysts" in notify_list:
        roles.append(User.role == Role.CSIRT_ANALYST.value)
    if "institution" in notify_list and case.institution_id is not None:
        roles.append((User.role == Role.FOCAL_POINT.value)
                     & (User.institution_id == case.institution_id))
    for condition in roles:
        users.update(session.scalars(select(User.id).where(condition,
                                                           User.is_active.is_(True))))
    return users


def _claim(session: Session, clock_id: int, moment: dt.datetime) -> bool:
    """Take the right to warn about a clock; ``False`` when another run already did."""
    result = session.execute(
        update(CaseClock).where(CaseClock.id == clock_id, CaseClock.met_at.is_(None),
                                CaseClock.overdue_notified_at.is_(None))
        .values(overdue_notified_at=moment).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


def _warn(session: Session, case: Case, clock: CaseClock, rule: clocks.ClockRule) -> int:
    """Notify the recipients of one overdue clock, each in their own language."""
    by_language: dict[str, list[int]] = defaultdict(list)
    recipients = _recipients(session, case, rule.notify)
    for user in session.scalars(select(User).where(User.id.in_(recipients))):
        by_language[i18n.normalize_language(user.language)].append(user.id)
    for language, user_ids in sorted(by_language.items()):
        notify(session=session, user_ids=user_ids,
               title="Statutory deadline overdue on case %(reference)s",
               body="%(clock)s was due on %(due)s (UTC).",
               params={"reference": case.reference or f"#{case.id}",
                       "clock": rule.title(language),
                       "due": as_utc(clock.due_at).strftime("%Y-%m-%d %H:%M")},
               link=f"/csirt/cases/{case.id}", level="danger", email=True)
    timeline.add_event(session, case, kind="clock", actor=_ACTOR,
                       message=OVERDUE_EVENT, params={"clock": rule.title_fr,
                                                  "clock_en": rule.title_en,
                                                  "count": len(recipients)})
    record(session=session, actor=_ACTOR, action="csirt.clock.overdue_notified",
           object_type="csirt.clock", object_id=clock.id,
           object_repr=f"{case.reference} {clock.regulation}/{clock.clock}",
           institution_id=case.institution_id,
           details={"case_id": case.id, "recipients": len(recipients)})
    return len(recipients)


def warn_overdue(session: Session, *, now: dt.datetime | None = None) -> int:
    """Warn about every overdue clock not warned yet; returns how many clocks were warned.

    Runs in the caller's transaction; safe to run concurrently (see the module's notes).
    """
    moment = as_utc(now or utcnow())
    candidates = session.execute(
        select(CaseClock.id, CaseClock.case_id).where(
            CaseClock.met_at.is_(None), CaseClock.overdue_notified_at.is_(None),
            CaseClock.due_at < moment).order_by(CaseClock.due_at, CaseClock.id)).all()
    warned = 0
    synced: set[int] = set()
    for clock_id, case_id in candidates:
        case = session.get(Case, case_id)
        if case is None:
            continue
        if case_id not in synced:
            clocks.sync_automatic(session, case, actor=_ACTOR)
            synced.add(case_id)
        clock = session.get(CaseClock, clock_id)
        found = clocks.rule_for(clock) if clock is not None else None
        if clock is None or clock.met_at is not None or found is None:
            continue
        if not _claim(session, clock_id, moment):
            continue
        session.refresh(clock)
        _warn(session, case, clock, found[1])
        warned += 1
    return warned


@task(OVERDUE, max_attempts=3)
def clock_overdue(ctx: JobContext, payload: Payload) -> None:
    """Warn about overdue statutory deadlines (each clock once)."""
    with transaction(ctx.session_factory) as session:
        warn_overdue(session)


schedule(OVERDUE, every=EVERY)
