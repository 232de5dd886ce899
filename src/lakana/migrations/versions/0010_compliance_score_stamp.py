"""compliance: score stamp kept by triggers (heatmap cache key)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of lakana.compliance.scoring.models' statements as of this revision.
WATCHED = ("compliance_answer", "compliance_assessment", "compliance_requirement",
           "compliance_domain", "registry_institution")
OPS = ("INSERT", "UPDATE", "DELETE")
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION compliance_score_stamp_bump() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN INSERT INTO compliance_score_stamp (id, stamp, xact) VALUES (1,"
    " md5(txid_current()::text || clock_timestamp()::text || random()::text), txid_current())"
    " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp, xact = excluded.xact"
    " WHERE compliance_score_stamp.xact IS DISTINCT FROM excluded.xact; RETURN NULL; END $$")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('compliance_score_stamp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stamp', sa.String(length=64), nullable=False),
    sa.Column('xact', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_score_stamp'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in WATCHED:
            op.execute(f"CREATE TRIGGER compliance_score_stamp_{table} AFTER INSERT OR UPDATE"
                       f" OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT"
                       " EXECUTE FUNCTION compliance_score_stamp_bump()")
    else:
        for table in WATCHED:
            for kind in OPS:
                op.execute(f"CREATE TRIGGER IF NOT EXISTS compliance_score_stamp_{table}_"
                           f"{kind.lower()} AFTER {kind} ON {table} BEGIN INSERT INTO"
                           " compliance_score_stamp (id, stamp) VALUES (1,"
                           " lower(hex(randomblob(16)))) ON CONFLICT (id) DO UPDATE"
                           " SET stamp = excluded.stamp; END")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS compliance_score_stamp_bump()")
    else:
        for table in WATCHED:
            for kind in OPS:
                op.execute(f"DROP TRIGGER IF EXISTS compliance_score_stamp_{table}_{kind.lower()}")
    op.drop_table('compliance_score_stamp')
