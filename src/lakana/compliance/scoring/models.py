"""The stamp of what scores are computed from, kept by the database itself.

Scores are computed on read; the national heatmap (thousands of cells) is kept in a small
per-process cache keyed by this stamp (see :mod:`lakana.compliance.scoring.cache`). The
stamp is one row holding a random value that **database triggers** replace on every insert,
update or delete of the tables the heatmap reads (answers, assessments, requirements,
domains, institutions), so that every write changes it whatever path it takes: services,
ORM or Core statements, raw SQL, another process, a migration. Random rather than a counter
so that a rolled-back write leaves a stamp no later write can produce again (a counter would
come back to the value a reader may have cached uncommitted data under).

SQLite has only row triggers (one small upsert per changed row, a new stamp each time);
PostgreSQL runs one statement trigger per statement, ``TRUNCATE`` included, and changes the
stamp once per transaction (see ``xact``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base

#: Tables the heatmap's figures are computed from; a write to any of them changes the stamp.
WATCHED_TABLES: tuple[str, ...] = ("compliance_answer", "compliance_assessment",
                                   "compliance_requirement", "compliance_domain",
                                   "registry_institution")
STAMP_TABLE = "compliance_score_stamp"
_PG_FUNCTION = "compliance_score_stamp_bump"


class ScoreStamp(Base):
    """One row (id 1): a random value replaced by triggers on every write to the watched
    tables."""

    __tablename__ = STAMP_TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(64))
    #: PostgreSQL: the transaction that last set the stamp. A transaction sets it once (the
    #: same row rewritten per statement would pile up versions: a bulk load of 180,000
    #: answers inserted row by row went from 7 s to 280 s), so a reader whose own
    #: transaction wrote it neither reads nor fills the cache.
    xact: Mapped[int | None] = mapped_column(BigInteger)


def _trigger(table: str) -> str:
    return f"{STAMP_TABLE}_{table}"


def create_triggers_sql(dialect: str) -> list[str]:
    """The statements creating the stamp's triggers on ``dialect`` (sqlite, postgresql)."""
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN INSERT INTO {STAMP_TABLE} (id, stamp, xact) VALUES (1, md5(txid_current()"
            "::text || clock_timestamp()::text || random()::text), txid_current())"
            " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp, xact = excluded.xact"
            f" WHERE {STAMP_TABLE}.xact IS DISTINCT FROM excluded.xact; RETURN NULL; END $$",
            *[f"CREATE TRIGGER {_trigger(t)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
              f" ON {t} FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
              for t in WATCHED_TABLES]]
    return [f"CREATE TRIGGER IF NOT EXISTS {_trigger(t)}_{op.lower()} AFTER {op} ON {t}"
            f" BEGIN INSERT INTO {STAMP_TABLE} (id, stamp) VALUES (1, lower(hex(randomblob(16))))"
            " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp; END"
            for t in WATCHED_TABLES for op in ("INSERT", "UPDATE", "DELETE")]


def drop_triggers_sql(dialect: str) -> list[str]:
    """The statements dropping the stamp's triggers on ``dialect``."""
    if dialect == "postgresql":
        return [*[f"DROP TRIGGER IF EXISTS {_trigger(t)} ON {t}" for t in WATCHED_TABLES],
                f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()"]
    return [f"DROP TRIGGER IF EXISTS {_trigger(t)}_{op.lower()}"
            for t in WATCHED_TABLES for op in ("INSERT", "UPDATE", "DELETE")]


def install_triggers(connection: Connection) -> None:
    """(Re)create the stamp's triggers on ``connection``'s database."""
    if connection.dialect.name == "postgresql":
        for statement in drop_triggers_sql("postgresql")[:-1]:
            connection.exec_driver_sql(statement)  # CREATE TRIGGER has no IF NOT EXISTS there
    for statement in create_triggers_sql(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Base.metadata, "after_create")
def _create_triggers(target: Any, connection: Connection, **_kw: Any) -> None:
    """``create_all`` (tests, the bench, a fresh laptop database) creates the triggers as the
    migration does, once every watched table exists."""
    present = set(connection.dialect.get_table_names(connection))
    if STAMP_TABLE in present and set(WATCHED_TABLES) <= present:
        install_triggers(connection)
