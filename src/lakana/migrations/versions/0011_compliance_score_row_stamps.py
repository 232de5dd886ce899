"""compliance: score stamps per institution (heatmap rows recomputed after a write)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of lakana.compliance.scoring.models' statements as of this revision (and of
# 0010's, to downgrade to).
WATCHED = ("compliance_answer", "compliance_assessment", "compliance_requirement",
           "compliance_domain", "registry_institution")
OPS = ("INSERT", "UPDATE", "DELETE")
EVERY_ROW = 0
SQLITE_NEW = "lower(hex(randomblob(16)))"
SQLITE_UPSERT = " ON CONFLICT ({key}) DO UPDATE SET stamp = excluded.stamp;"
SQLITE_INSTITUTIONS = {
    "compliance_answer": "SELECT institution_id AS i FROM compliance_assessment"
                         " WHERE id = {ref}.assessment_id",
    "compliance_assessment": "SELECT {ref}.institution_id AS i",
}
SQLITE_REFS = {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}
PG_NEW = "md5(txid_current()::text || clock_timestamp()::text || random()::text)"
PG_INSTITUTIONS = {
    "compliance_answer": "SELECT institution_id AS i FROM compliance_assessment"
                         " WHERE id IN (SELECT assessment_id FROM {ref})",
    "compliance_assessment": "SELECT institution_id AS i FROM {ref}",
}
PG_REFS = {"INSERT": ("new_rows",), "UPDATE": ("old_rows", "new_rows"),
           "DELETE": ("old_rows",)}
PG_REFERENCING = {"INSERT": "NEW TABLE AS new_rows",
                  "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                  "DELETE": "OLD TABLE AS old_rows"}
PG_FUNCTION_0010 = (
    "CREATE OR REPLACE FUNCTION compliance_score_stamp_bump() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN INSERT INTO compliance_score_stamp (id, stamp, xact) VALUES (1,"
    " md5(txid_current()::text || clock_timestamp()::text || random()::text), txid_current())"
    " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp, xact = excluded.xact"
    " WHERE compliance_score_stamp.xact IS DISTINCT FROM excluded.xact; RETURN NULL; END $$")


def _sqlite_trigger(table: str, op_name: str) -> str:
    statements = ["INSERT INTO compliance_score_stamp (id, stamp) VALUES (1, "
                  f"{SQLITE_NEW})" + SQLITE_UPSERT.format(key="id")]
    if table in SQLITE_INSTITUTIONS:
        institutions = " UNION ".join(SQLITE_INSTITUTIONS[table].format(ref=r)
                                      for r in SQLITE_REFS[op_name])
        statements.append("INSERT INTO compliance_score_row_stamp (institution_id, stamp)"
                          f" SELECT i, {SQLITE_NEW} FROM ({institutions}) WHERE true"
                          + SQLITE_UPSERT.format(key="institution_id"))
    else:
        statements.append("INSERT INTO compliance_score_row_stamp (institution_id, stamp)"
                          f" VALUES ({EVERY_ROW}, {SQLITE_NEW})"
                          + SQLITE_UPSERT.format(key="institution_id"))
    return (f"CREATE TRIGGER IF NOT EXISTS compliance_score_stamp_{table}_{op_name.lower()}"
            f" AFTER {op_name} ON {table} BEGIN {' '.join(statements)} END")


def _pg_upsert(table: str, key: str, source: str) -> str:
    return (f"INSERT INTO {table} ({key}, stamp, xact) {source}"
            f" ON CONFLICT ({key}) DO UPDATE SET stamp = excluded.stamp, xact = excluded.xact"
            f" WHERE {table}.xact IS DISTINCT FROM excluded.xact;")


PG_STAMP = _pg_upsert("compliance_score_stamp", "id", f"VALUES (1, {PG_NEW}, txid_current())")


def _pg_statements() -> list[str]:
    every_row = _pg_upsert("compliance_score_row_stamp", "institution_id",
                           f"VALUES ({EVERY_ROW}, {PG_NEW}, txid_current())")
    statements = ["CREATE OR REPLACE FUNCTION compliance_score_stamp_bump() RETURNS trigger"
                  f" LANGUAGE plpgsql AS $$ BEGIN {PG_STAMP} {every_row} RETURN NULL; END $$"]
    for table in WATCHED:
        if table not in PG_INSTITUTIONS:
            continue  # 0010's trigger calls compliance_score_stamp_bump(), replaced above
        branches = []
        for op_name, refs in PG_REFS.items():
            institutions = " UNION ".join(PG_INSTITUTIONS[table].format(ref=r) for r in refs)
            branches.append(f"IF TG_OP = '{op_name}' THEN " + _pg_upsert(
                "compliance_score_row_stamp", "institution_id",
                f"SELECT DISTINCT ON (i) i, {PG_NEW}, txid_current() FROM ({institutions})"
                " AS changed WHERE i IS NOT NULL") + " END IF;")
        statements.append(
            f"CREATE OR REPLACE FUNCTION compliance_score_stamp_bump_{table}() RETURNS trigger"
            f" LANGUAGE plpgsql AS $$ BEGIN {PG_STAMP} {' '.join(branches)}"
            " RETURN NULL; END $$")
        statements.append(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table} ON {table}")
        statements.extend(
            f"CREATE TRIGGER compliance_score_stamp_{table}_{op_name.lower()} AFTER {op_name}"
            f" ON {table} REFERENCING {PG_REFERENCING[op_name]} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION compliance_score_stamp_bump_{table}()" for op_name in OPS)
        statements.append(f"CREATE TRIGGER compliance_score_stamp_{table}_truncate AFTER"
                          f" TRUNCATE ON {table} FOR EACH STATEMENT"
                          " EXECUTE FUNCTION compliance_score_stamp_bump()")
    return statements


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('compliance_score_row_stamp',
    sa.Column('institution_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('stamp', sa.String(length=64), nullable=False),
    sa.Column('xact', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_compliance_score_row_stamp'))
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _pg_statements():
            op.execute(statement)
    else:
        for table in WATCHED:
            for kind in OPS:
                op.execute(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table}_"
                           f"{kind.lower()}")
                op.execute(_sqlite_trigger(table, kind))


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION_0010)
        for table in PG_INSTITUTIONS:
            for kind in (*OPS, "TRUNCATE"):
                op.execute(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table}_"
                           f"{kind.lower()} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS compliance_score_stamp_bump_{table}()")
            op.execute(f"CREATE TRIGGER compliance_score_stamp_{table} AFTER INSERT OR UPDATE"
                       f" OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT"
                       " EXECUTE FUNCTION compliance_score_stamp_bump()")
    else:
        for table in WATCHED:
            for kind in OPS:
                op.execute(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table}_"
                           f"{kind.lower()}")
                op.execute(f"CREATE TRIGGER IF NOT EXISTS compliance_score_stamp_{table}_"
                           f"{kind.lower()} AFTER {kind} ON {table} BEGIN INSERT INTO"
                           " compliance_score_stamp (id, stamp) VALUES (1,"
                           " lower(hex(randomblob(16)))) ON CONFLICT (id) DO UPDATE"
                           " SET stamp = excluded.stamp; END")
    op.drop_table('compliance_score_row_stamp')
