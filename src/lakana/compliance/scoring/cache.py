"""A small per-process cache of computed heatmaps, keyed by the database's score stamp.

The stamp (:mod:`lakana.compliance.scoring.models`) is replaced by triggers on every write
to what the heatmap reads, so a key built from it is valid across processes: a web worker
reads the stamp (one indexed row) on each request and recomputes as soon as any process,
by any path, changed an answer, an override, an assessment, a requirement, a domain or an
institution. When the triggers are missing or disabled (a table rebuilt by a migration
without them, ``ALTER TABLE … DISABLE TRIGGER``) the stamp is not trusted and nothing is
cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from lakana.compliance.scoring.models import STAMP_TABLE, WATCHED_TABLES

V = TypeVar("V")

_SQLITE = text(
    f"SELECT (SELECT stamp FROM {STAMP_TABLE} WHERE id = 1), 0,"
    " (SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    f" AND name LIKE '{STAMP_TABLE}%')")
_POSTGRESQL = text(
    f"SELECT (SELECT stamp FROM {STAMP_TABLE} WHERE id = 1),"
    f" (SELECT xact = txid_current_if_assigned() FROM {STAMP_TABLE} WHERE id = 1),"
    " (SELECT count(*) FROM pg_trigger WHERE tgenabled <> 'D' AND tgrelid IN ("
    + ", ".join(f"to_regclass('{t}')" for t in WATCHED_TABLES)
    + f") AND tgname LIKE '{STAMP_TABLE}%')")
#: Triggers each dialect needs for the stamp to be trusted.
_EXPECTED = {"sqlite": 3 * len(WATCHED_TABLES), "postgresql": len(WATCHED_TABLES)}


def current_stamp(session: Session) -> str | None:
    """The score stamp seen by ``session``'s transaction, or None when it cannot be trusted
    (no write yet, triggers missing or disabled, the transaction's own uncommitted writes on
    PostgreSQL, another database)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in _EXPECTED:
        return None
    stamp, own, triggers = connection.execute(
        _SQLITE if dialect == "sqlite" else _POSTGRESQL).one()
    # On PostgreSQL a transaction sets the stamp once: after its own writes it must compute.
    trusted = stamp is not None and not own and triggers == _EXPECTED[dialect]
    return str(stamp) if trusted else None


class StampedCache(Generic[V]):
    """A thread-safe LRU of a few values; keys must include the stamp they were read at."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value`` under ``key``, forgetting the least recently used beyond the size."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()
