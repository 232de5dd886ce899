"""strategy action plan

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 23:18:25.892559
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('strategy_axis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_axis')),
    sa.UniqueConstraint('code', name=op.f('uq_strategy_axis_code'))
    )
    op.create_table('strategy_objective',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('axis_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['axis_id'], ['strategy_axis.id'], name=op.f('fk_strategy_objective_axis_id_strategy_axis'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_objective')),
    sa.UniqueConstraint('code', name=op.f('uq_strategy_objective_code'))
    )
    with op.batch_alter_table('strategy_objective', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_objective_axis_id'), ['axis_id'], unique=False)

    op.create_table('strategy_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lead_institution_id', sa.Integer(), nullable=True),
    sa.Column('partners', sa.JSON(), nullable=False),
    sa.Column('budget_estimate', sa.BigInteger(), nullable=False),
    sa.Column('budget_committed', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_institution_id'], ['registry_institution.id'], name=op.f('fk_strategy_action_lead_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['objective_id'], ['strategy_objective.id'], name=op.f('fk_strategy_action_objective_id_strategy_objective'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_action')),
    sa.UniqueConstraint('code', name=op.f('uq_strategy_action_code'))
    )
    with op.batch_alter_table('strategy_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_action_lead_institution_id'), ['lead_institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strategy_action_objective_id'), ['objective_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strategy_action_status'), ['status'], unique=False)

    op.create_table('strategy_indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('baseline_value', sa.Float(), nullable=True),
    sa.Column('baseline_year', sa.Integer(), nullable=True),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('responsible', sa.String(length=200), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['objective_id'], ['strategy_objective.id'], name=op.f('fk_strategy_indicator_objective_id_strategy_objective'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_indicator')),
    sa.UniqueConstraint('code', name=op.f('uq_strategy_indicator_code'))
    )
    with op.batch_alter_table('strategy_indicator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_indicator_objective_id'), ['objective_id'], unique=False)

    op.create_table('strategy_action_dependency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('depends_on_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['strategy_action.id'], name=op.f('fk_strategy_action_dependency_action_id_strategy_action'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['depends_on_id'], ['strategy_action.id'], name=op.f('fk_strategy_action_dependency_depends_on_id_strategy_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_action_dependency')),
    sa.UniqueConstraint('action_id', 'depends_on_id', name=op.f('uq_strategy_action_dependency_action_id'))
    )
    with op.batch_alter_table('strategy_action_dependency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_action_dependency_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strategy_action_dependency_depends_on_id'), ['depends_on_id'], unique=False)

    op.create_table('strategy_indicator_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['strategy_indicator.id'], name=op.f('fk_strategy_indicator_target_indicator_id_strategy_indicator'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_indicator_target')),
    sa.UniqueConstraint('indicator_id', 'year', name=op.f('uq_strategy_indicator_target_indicator_id'))
    )
    with op.batch_alter_table('strategy_indicator_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_indicator_target_indicator_id'), ['indicator_id'], unique=False)

    op.create_table('strategy_milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['strategy_action.id'], name=op.f('fk_strategy_milestone_action_id_strategy_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strategy_milestone')),
    sa.UniqueConstraint('code', name=op.f('uq_strategy_milestone_code'))
    )
    with op.batch_alter_table('strategy_milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strategy_milestone_action_id'), ['action_id'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('strategy_milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_milestone_action_id'))

    op.drop_table('strategy_milestone')
    with op.batch_alter_table('strategy_indicator_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_indicator_target_indicator_id'))

    op.drop_table('strategy_indicator_target')
    with op.batch_alter_table('strategy_action_dependency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_action_dependency_depends_on_id'))
        batch_op.drop_index(batch_op.f('ix_strategy_action_dependency_action_id'))

    op.drop_table('strategy_action_dependency')
    with op.batch_alter_table('strategy_indicator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_indicator_objective_id'))

    op.drop_table('strategy_indicator')
    with op.batch_alter_table('strategy_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_action_status'))
        batch_op.drop_index(batch_op.f('ix_strategy_action_objective_id'))
        batch_op.drop_index(batch_op.f('ix_strategy_action_lead_institution_id'))

    op.drop_table('strategy_action')
    with op.batch_alter_table('strategy_objective', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strategy_objective_axis_id'))

    op.drop_table('strategy_objective')
    op.drop_table('strategy_axis')
