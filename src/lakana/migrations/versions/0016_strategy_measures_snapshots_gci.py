"""Strategy: manual indicator values, snapshots, the GCI self-assessment, indicator pillars
and edit versions of axes, objectives and indicators.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('strategy_gci_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_code', sa.String(length=20), nullable=False),
    sa.Column('answer', sa.String(length=10), nullable=False),
    sa.Column('evidence_note', sa.Text(), nullable=False),
    sa.Column('evidence_url', sa.String(length=500), nullable=False),
    sa.Column('indicator_codes', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=254), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_gci_answer')),
    sa.UniqueConstraint('question_code', name=op.f('uq_strategy_gci_answer_question_code'))
    )
    op.create_table('strategy_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_by', sa.String(length=254), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_snapshot')),
    sa.UniqueConstraint('label', name=op.f('uq_strategy_snapshot_label'))
    )
    op.create_table('strategy_indicator_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('entered_by', sa.String(length=254), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['core_file.id'], name=op.f('fk_strategy_indicator_value_file_id_core_file'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['indicator_id'], ['strategy_indicator.id'], name=op.f('fk_strategy_indicator_value_indicator_id_strategy_indicator'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_indicator_value'))
    )
    with op.batch_alter_table('strategy_indicator_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_indicator_value_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strategy_indicator_value_indicator_id'), ['indicator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strategy_indicator_value_period_end'), ['period_end'], unique=False)

    with op.batch_alter_table('strategy_axis', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))

    with op.batch_alter_table('strategy_indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gci_pillar', sa.String(length=20), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))

    with op.batch_alter_table('strategy_objective', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('strategy_objective', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('strategy_indicator', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('gci_pillar')

    with op.batch_alter_table('strategy_axis', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('strategy_indicator_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_indicator_value_period_end'))
        batch_op.drop_index(batch_op.f('ix_strategy_indicator_value_indicator_id'))
        batch_op.drop_index(batch_op.f('ix_strategy_indicator_value_file_id'))

    op.drop_table('strategy_indicator_value')
    op.drop_table('strategy_snapshot')
    op.drop_table('strategy_gci_answer')
