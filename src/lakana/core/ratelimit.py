"""Fixed-window rate limits kept in the database, so that every worker process shares them.

Used where a caller without an account can write (the public incident report form, log
intake): ``hit()`` counts one attempt for a key (for example ``"csirt-public:<address>"``)
in the current window and raises :class:`~lakana.core.errors.TooManyRequests` with the
seconds to wait once the limit is passed. The count is committed in its own short
transaction, so that requests refused later (bad input) still count against a flood.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from lakana.core.db import Base, utcnow
from lakana.core.errors import TooManyRequests


class RateCounter(Base):
    """Attempts of one key in one window."""

    __tablename__ = "core_rate_counter"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: Start of the window, in seconds since the epoch (UTC).
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Allowance:
    """What is left for a key in the current window."""

    count: int
    limit: int
    retry_after: int

    @property
    def exceeded(self) -> bool:
        """Whether this attempt was over the limit."""
        return self.count > self.limit


def _epoch(moment: dt.datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp())


def _window_start(now: dt.datetime, window: dt.timedelta) -> int:
    seconds = max(1, int(window.total_seconds()))
    epoch = _epoch(now)
    return epoch - epoch % seconds


def _increment(session: Session, key: str, start: int) -> int:
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(RateCounter).values(key=key, window_start=start, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateCounter.__table__.c.count + 1})
        return int(session.execute(stmt.returning(RateCounter.count)).scalar_one())
    row = session.get(RateCounter, (key, start), with_for_update=True)
    if row is None:
        row = RateCounter(key=key, window_start=start, count=0)
        session.add(row)
    row.count += 1
    session.flush()
    return row.count


def count(session_factory: sessionmaker[Session], key: str, *, limit: int,
          window: dt.timedelta, now: dt.datetime | None = None) -> Allowance:
    """Count one attempt of ``key`` in the current window and say whether it is allowed."""
    moment = now or utcnow()
    start = _window_start(moment, window)
    with session_factory() as session, session.begin():
        current = _increment(session, key[:200], start)
    elapsed = _epoch(moment) - start
    return Allowance(count=current, limit=limit,
                     retry_after=max(1, int(window.total_seconds() - elapsed)))


def hit(session_factory: sessionmaker[Session], key: str, *, limit: int,
        window: dt.timedelta, now: dt.datetime | None = None) -> Allowance:
    """Like :func:`count`, but raise :class:`TooManyRequests` (HTTP 429 with
    ``Retry-After``) when the attempt is over the limit."""
    allowance = count(session_factory, key, limit=limit, window=window, now=now)
    if allowance.exceeded:
        raise TooManyRequests("Too many attempts. Try again in %(seconds)s seconds.",
                              seconds=allowance.retry_after)
    return allowance


def purge(session: Session, *, older_than: dt.timedelta = dt.timedelta(days=1),
          now: dt.datetime | None = None) -> int:
    """Delete counters of windows that started before ``older_than`` ago; return how many."""
    cutoff = _epoch(now or utcnow()) - int(older_than.total_seconds())
    result = session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def current(session: Session, key: str, *, window: dt.timedelta,
            now: dt.datetime | None = None) -> int:
    """Attempts of ``key`` counted in the current window (0 when none)."""
    start = _window_start(now or utcnow(), window)
    found = session.execute(select(RateCounter.count).where(
        RateCounter.key == key[:200], RateCounter.window_start == start)).scalar_one_or_none()
    return int(found or 0)
