"""The stamps of what scores are computed from, kept by the database itself.

Scores are computed on read; the national heatmap (thousands of cells) is kept in a small
per-process cache checked against these stamps (see :mod:`lakana.compliance.scoring.cache`).
A stamp is a random value that **database triggers** replace on writes, so that every write
changes it whatever path it takes: services, ORM or Core statements, raw SQL, another
process, a migration. Random rather than a counter so that a rolled-back write leaves a stamp
no later write can produce again (a counter would come back to the value a reader may have
cached uncommitted data under).

* :class:`ScoreStamp` (one row) changes on every insert, update or delete of the tables the
  heatmap reads (answers, assessments, requirements, domains, institutions): while it is
  unchanged, a cached heatmap is served as it is.
* :class:`ScoreRowStamp` (one row per institution) tells *which* rows changed, so that a
  write recomputes the rows it touched rather than the whole matrix: a write to answers or
  assessments changes the stamp of each institution they belong to (before and after the
  write); a write to requirements, domains or institutions, which every row depends on
  (weights, titles, names, tiers, who sees what), and any ``TRUNCATE``, changes the stamp of
  :data:`EVERY_ROW`.

SQLite has only row triggers (small upserts per changed row, new stamps each time);
PostgreSQL runs statement triggers (``TRUNCATE`` included) that read the changed rows from
their transition tables, and changes each stamp once per transaction (see ``xact``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base

#: Tables the heatmap's figures are computed from; a write to any of them changes the stamp.
WATCHED_TABLES: tuple[str, ...] = ("compliance_answer", "compliance_assessment",
                                   "compliance_requirement", "compliance_domain",
                                   "registry_institution")
STAMP_TABLE = "compliance_score_stamp"
ROW_STAMP_TABLE = "compliance_score_row_stamp"
#: The row stamp key changed by writes that every heatmap row depends on (no institution
#: has id 0: ids start at 1).
EVERY_ROW = 0
_PG_FUNCTION = "compliance_score_stamp_bump"
_OPS = ("INSERT", "UPDATE", "DELETE")
#: The institutions of one changed row of a per-institution table (SQLite: ``{ref}`` is
#: OLD or NEW), as a query of one column ``i``.
_SQLITE_INSTITUTIONS = {
    "compliance_answer": "SELECT institution_id AS i FROM compliance_assessment"
                         " WHERE id = {ref}.assessment_id",
    "compliance_assessment": "SELECT {ref}.institution_id AS i",
}
#: The same for the rows of a statement (PostgreSQL: ``{ref}`` is a transition table).
_PG_INSTITUTIONS = {
    "compliance_answer": "SELECT institution_id AS i FROM compliance_assessment"
                         " WHERE id IN (SELECT assessment_id FROM {ref})",
    "compliance_assessment": "SELECT institution_id AS i FROM {ref}",
}
#: The transition tables each operation has (PostgreSQL).
_PG_REFS = {"INSERT": ("new_rows",), "UPDATE": ("old_rows", "new_rows"),
            "DELETE": ("old_rows",)}
_PG_REFERENCING = {"INSERT": "NEW TABLE AS new_rows",
                   "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "DELETE": "OLD TABLE AS old_rows"}


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


class ScoreRowStamp(Base):
    """A random value per institution, replaced by triggers on every write to its answers or
    assessments (:data:`EVERY_ROW`: on writes that every row depends on). An institution
    nothing was written for since the triggers exist has no row."""

    __tablename__ = ROW_STAMP_TABLE

    #: Not a foreign key: the stamp of a deleted institution must outlive it.
    institution_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[str] = mapped_column(String(64))
    #: PostgreSQL: the transaction that last set the stamp (set once per transaction, as
    #: :attr:`ScoreStamp.xact`).
    xact: Mapped[int | None] = mapped_column(BigInteger)


def _trigger(table: str) -> str:
    return f"{STAMP_TABLE}_{table}"


def _sqlite_upserts(table: str, op: str) -> str:
    """The statements a SQLite trigger on ``table`` after ``op`` runs: the stamp, then the
    row stamps of the changed row's institutions, or of every row."""
    new = "lower(hex(randomblob(16)))"
    upsert = " ON CONFLICT ({key}) DO UPDATE SET stamp = excluded.stamp;"
    statements = [f"INSERT INTO {STAMP_TABLE} (id, stamp) VALUES (1, {new})"
                  + upsert.format(key="id")]
    if table in _SQLITE_INSTITUTIONS:
        refs = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}[op]
        institutions = " UNION ".join(_SQLITE_INSTITUTIONS[table].format(ref=r) for r in refs)
        # WHERE true: SQLite's parser needs a WHERE before an upsert's ON CONFLICT.
        statements.append(f"INSERT INTO {ROW_STAMP_TABLE} (institution_id, stamp)"
                          f" SELECT i, {new} FROM ({institutions}) WHERE true"
                          + upsert.format(key="institution_id"))
    else:
        statements.append(f"INSERT INTO {ROW_STAMP_TABLE} (institution_id, stamp)"
                          f" VALUES ({EVERY_ROW}, {new})" + upsert.format(key="institution_id"))
    return " ".join(statements)


def _pg_upsert(table: str, key: str, source: str) -> str:
    """An upsert of new stamps for ``source`` (``VALUES`` or ``SELECT``) that leaves a row the
    current transaction already set."""
    return (f"INSERT INTO {table} ({key}, stamp, xact) {source}"
            f" ON CONFLICT ({key}) DO UPDATE SET stamp = excluded.stamp, xact = excluded.xact"
            f" WHERE {table}.xact IS DISTINCT FROM excluded.xact;")


_PG_NEW = "md5(txid_current()::text || clock_timestamp()::text || random()::text)"
_PG_STAMP = _pg_upsert(STAMP_TABLE, "id", f"VALUES (1, {_PG_NEW}, txid_current())")


def _pg_row_function(table: str) -> str:
    """The function of the statement triggers of a per-institution table: the stamp, then
    the stamps of the institutions of the statement's rows (from its transition tables)."""
    branches = []
    for op, refs in _PG_REFS.items():
        institutions = " UNION ".join(_PG_INSTITUTIONS[table].format(ref=r) for r in refs)
        # DISTINCT ON: an upsert may not touch the same row twice.
        branches.append(f"IF TG_OP = '{op}' THEN " + _pg_upsert(
            ROW_STAMP_TABLE, "institution_id",
            f"SELECT DISTINCT ON (i) i, {_PG_NEW}, txid_current() FROM ({institutions})"
            " AS changed WHERE i IS NOT NULL") + " END IF;")
    return (f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}_{table}() RETURNS trigger"
            f" LANGUAGE plpgsql AS $$ BEGIN {_PG_STAMP} {' '.join(branches)}"
            " RETURN NULL; END $$")


def create_triggers_sql(dialect: str) -> list[str]:
    """The statements creating the stamps' triggers on ``dialect`` (sqlite, postgresql)."""
    if dialect == "postgresql":
        every_row = _pg_upsert(ROW_STAMP_TABLE, "institution_id",
                               f"VALUES ({EVERY_ROW}, {_PG_NEW}, txid_current())")
        statements = [f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger"
                      f" LANGUAGE plpgsql AS $$ BEGIN {_PG_STAMP} {every_row}"
                      " RETURN NULL; END $$"]
        for t in WATCHED_TABLES:
            if t not in _PG_INSTITUTIONS:
                statements.append(
                    f"CREATE TRIGGER {_trigger(t)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
                    f" ON {t} FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()")
                continue
            statements.append(_pg_row_function(t))
            statements.extend(
                f"CREATE TRIGGER {_trigger(t)}_{op.lower()} AFTER {op} ON {t} REFERENCING"
                f" {_PG_REFERENCING[op]} FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}_{t}()"
                for op in _OPS)
            # A truncated table has no transition table: every row is recomputed.
            statements.append(f"CREATE TRIGGER {_trigger(t)}_truncate AFTER TRUNCATE ON {t}"
                              f" FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()")
        return statements
    return [f"CREATE TRIGGER IF NOT EXISTS {_trigger(t)}_{op.lower()} AFTER {op} ON {t}"
            f" BEGIN {_sqlite_upserts(t, op)} END"
            for t in WATCHED_TABLES for op in _OPS]


def pg_trigger_names() -> list[tuple[str, str]]:
    """(trigger, table) of every PostgreSQL trigger of the stamps."""
    return [(f"{_trigger(t)}_{op.lower()}" if t in _PG_INSTITUTIONS else _trigger(t), t)
            for t in WATCHED_TABLES
            for op in ((*_OPS, "TRUNCATE") if t in _PG_INSTITUTIONS else ("",))]


def drop_triggers_sql(dialect: str) -> list[str]:
    """The statements dropping the stamps' triggers on ``dialect`` (triggers first)."""
    if dialect == "postgresql":
        return [*[f"DROP TRIGGER IF EXISTS {name} ON {t}" for name, t in pg_trigger_names()],
                *[f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}_{t}()" for t in _PG_INSTITUTIONS],
                f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()"]
    return [f"DROP TRIGGER IF EXISTS {_trigger(t)}_{op.lower()}"
            for t in WATCHED_TABLES for op in _OPS]


def expected_triggers(dialect: str) -> int:
    """How many stamp triggers ``dialect`` has when they are all in place."""
    return len(pg_trigger_names()) if dialect == "postgresql" else len(WATCHED_TABLES) * len(_OPS)


def install_triggers(connection: Connection) -> None:
    """(Re)create the stamps' triggers on ``connection``'s database, replacing any left by an
    earlier version of them."""
    if connection.dialect.name == "postgresql":
        # CREATE TRIGGER has no IF NOT EXISTS there; earlier versions had other names.
        found = connection.execute(text(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
            f" WHERE tgname LIKE '{STAMP_TABLE}%' AND NOT tgisinternal")).all()
        for name, table in found:
            connection.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}" ON {table}')
    else:
        for statement in drop_triggers_sql(connection.dialect.name):
            connection.exec_driver_sql(statement)
    for statement in create_triggers_sql(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Base.metadata, "after_create")
def _create_triggers(target: Any, connection: Connection, **_kw: Any) -> None:
    """``create_all`` (tests, the bench, a fresh laptop database) creates the triggers as the
    migration does, once every watched table exists."""
    present = set(connection.dialect.get_table_names(connection))
    if {STAMP_TABLE, ROW_STAMP_TABLE} <= present and set(WATCHED_TABLES) <= present:
        install_triggers(connection)
