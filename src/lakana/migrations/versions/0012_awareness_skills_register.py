"""awareness: skills register

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('awareness_role_holder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.String(length=40), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_role_holder_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_role_holder'))
    )
    with op.batch_alter_table('awareness_role_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_role_holder_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_role_holder_profile_id'), ['profile_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_role_holder_until'), ['until'], unique=False)

    op.create_table('awareness_certification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('issuer', sa.String(length=120), nullable=False),
    sa.Column('credential_id', sa.String(length=120), nullable=True),
    sa.Column('obtained_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['awareness_role_holder.id'], name=op.f('fk_awareness_certification_holder_id_awareness_role_holder'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_certification'))
    )
    with op.batch_alter_table('awareness_certification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_certification_expires_on'), ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_certification_holder_id'), ['holder_id'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('awareness_certification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_certification_holder_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_certification_expires_on'))

    op.drop_table('awareness_certification')
    with op.batch_alter_table('awareness_role_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_role_holder_until'))
        batch_op.drop_index(batch_op.f('ix_awareness_role_holder_profile_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_role_holder_institution_id'))

    op.drop_table('awareness_role_holder')
