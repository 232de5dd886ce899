"""Caches keyed by the ledger's head: an entry is valid only while nothing has changed.

Every state change in every domain appends to the audit ledger in its own transaction
(DESIGN.md), so the head's sequence number is a global change counter. Reading it is
one indexed single-row query; when it has not moved since an entry was stored, the entry
is still exact. Any change anywhere invalidates everything: simple and always correct,
and cheap while reads dominate (the usual case for lists and token checks).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lakana.core.audit.models import LedgerHead

V = TypeVar("V")


def current_epoch(session: Session) -> int:
    """The ledger head's sequence number (0 before the first entry)."""
    # Through the connection, not the ORM session: this runs on every API call.
    seq = session.connection().execute(select(LedgerHead.seq).where(LedgerHead.id == 1)).scalar()
    return int(seq or 0)


class EpochReader:
    """Reads the ledger head on a connection of its own, cheap enough for the event loop.

    One indexed single-row read; on SQLite in WAL mode a read never waits for a writer,
    and the connection is never taken from the pool per call (a pool that is empty would
    block the event loop). Each read ends its transaction so the next one sees new commits.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()
        self._statement = select(LedgerHead.seq).where(LedgerHead.id == 1)

    def read(self) -> int:
        """The current epoch; raises ``DBAPIError`` (and reconnects next time) on failure."""
        with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection = self._engine.connect()
            try:
                seq = self._connection.execute(self._statement).scalar()
                self._connection.rollback()
            except DBAPIError:
                self._connection.invalidate()
                self._connection = None
                raise
            return int(seq or 0)

    def close(self) -> None:
        """Give the connection back."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class EpochCache(Generic[V]):
    """A bounded, thread-safe LRU whose entries expire when the ledger head moves."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, tuple[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, epoch: int) -> V | None:
        """The value stored under ``key`` at ``epoch``, or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] != epoch:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, epoch: int, value: V) -> None:
        """Store ``value`` as valid at ``epoch``."""
        with self._lock:
            self._entries[key] = (epoch, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
