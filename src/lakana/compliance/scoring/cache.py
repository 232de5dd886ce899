"""A small per-process cache of computed heatmaps, checked against the database's stamps.

The stamps (:mod:`lakana.compliance.scoring.models`) are replaced by triggers on writes to
what the heatmap reads, so a value checked against them is valid across processes: a web
worker reads the stamp (one indexed row) on each request and, as soon as any process, by any
path, changed an answer, an override, an assessment, a requirement, a domain or an
institution, reads the row stamps to find what to recompute. When the triggers are missing,
disabled or of an earlier version (a table rebuilt by a migration without them, ``ALTER
TABLE … DISABLE TRIGGER``) the stamps are not trusted and nothing is cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from lakana.compliance.scoring.models import (
    EVERY_ROW,
    ROW_STAMP_TABLE,
    STAMP_TABLE,
    WATCHED_TABLES,
    expected_triggers,
)

V = TypeVar("V")

_SQLITE = text(
    f"SELECT (SELECT stamp FROM {STAMP_TABLE} WHERE id = 1), 0,"
    " (SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    f" AND name LIKE '{STAMP_TABLE}%' AND sql LIKE '%{ROW_STAMP_TABLE}%')")
_POSTGRESQL = text(
    f"SELECT (SELECT stamp FROM {STAMP_TABLE} WHERE id = 1),"
    f" (SELECT xact = txid_current_if_assigned() FROM {STAMP_TABLE} WHERE id = 1),"
    " (SELECT count(*) FROM pg_trigger WHERE tgenabled <> 'D' AND tgrelid IN ("
    + ", ".join(f"to_regclass('{t}')" for t in WATCHED_TABLES)
    + f") AND tgname LIKE '{STAMP_TABLE}%')")
#: Triggers each dialect needs for the stamp to be trusted.
_EXPECTED = {dialect: expected_triggers(dialect) for dialect in ("sqlite", "postgresql")}
_ROW_STAMPS = text(f"SELECT institution_id, stamp FROM {ROW_STAMP_TABLE}")
_SCOPED_ROW_STAMPS = text(f"SELECT institution_id, stamp FROM {ROW_STAMP_TABLE}"
                          " WHERE institution_id IN :ids").bindparams(
                              bindparam("ids", expanding=True))


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


def row_stamps(session: Session,
               institution_ids: Sequence[int] | None = None) -> dict[int, str]:
    """The row stamps seen by ``session``'s transaction by institution, :data:`EVERY_ROW`
    included: all of them, or only those of ``institution_ids``. Only meaningful once
    :func:`current_stamp` trusted the triggers."""
    connection = session.connection()
    rows = (connection.execute(_ROW_STAMPS) if institution_ids is None else
            connection.execute(_SCOPED_ROW_STAMPS, {"ids": [EVERY_ROW, *institution_ids]}))
    return dict(rows.all())


class StampedCache(Generic[V]):
    """A thread-safe LRU of a few values; each value must carry the stamps it was computed
    at, to be checked against the database's before use."""

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
