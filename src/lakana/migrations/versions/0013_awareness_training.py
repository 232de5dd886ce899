"""awareness: training catalogue and tracking

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 19:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('awareness_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('duration_hours', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_course'))
    )
    with op.batch_alter_table('awareness_course', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_course_kind'), ['kind'], unique=False)

    op.create_table('awareness_course_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['awareness_course.id'], name=op.f('fk_awareness_course_session_course_id_awareness_course'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_course_session'))
    )
    with op.batch_alter_table('awareness_course_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_course_session_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_course_session_starts_on'), ['starts_on'], unique=False)

    op.create_table('awareness_trainee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('staff_number', sa.String(length=60), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_trainee_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_trainee')),
    sa.UniqueConstraint('email', name=op.f('uq_awareness_trainee_email'))
    )
    with op.batch_alter_table('awareness_trainee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_trainee_institution_id'), ['institution_id'], unique=False)

    op.create_table('awareness_enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_enrolment_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['awareness_course_session.id'], name=op.f('fk_awareness_enrolment_session_id_awareness_course_session'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['trainee_id'], ['awareness_trainee.id'], name=op.f('fk_awareness_enrolment_trainee_id_awareness_trainee'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_enrolment')),
    sa.UniqueConstraint('session_id', 'trainee_id', name=op.f('uq_awareness_enrolment_session_id'))
    )
    with op.batch_alter_table('awareness_enrolment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_enrolment_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_enrolment_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_enrolment_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_enrolment_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('awareness_training_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('course_title', sa.String(length=200), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['awareness_enrolment.id'], name=op.f('fk_awareness_training_certificate_enrolment_id_awareness_enrolment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_training_certificate_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_training_certificate')),
    sa.UniqueConstraint('code', name=op.f('uq_awareness_training_certificate_code')),
    sa.UniqueConstraint('enrolment_id', name=op.f('uq_awareness_training_certificate_enrolment_id'))
    )
    with op.batch_alter_table('awareness_training_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_training_certificate_institution_id'), ['institution_id'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('awareness_training_certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_training_certificate_institution_id'))

    op.drop_table('awareness_training_certificate')
    with op.batch_alter_table('awareness_enrolment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_enrolment_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_enrolment_session_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_enrolment_outcome'))
        batch_op.drop_index(batch_op.f('ix_awareness_enrolment_institution_id'))

    op.drop_table('awareness_enrolment')
    with op.batch_alter_table('awareness_trainee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_trainee_institution_id'))

    op.drop_table('awareness_trainee')
    with op.batch_alter_table('awareness_course_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_course_session_starts_on'))
        batch_op.drop_index(batch_op.f('ix_awareness_course_session_course_id'))

    op.drop_table('awareness_course_session')
    with op.batch_alter_table('awareness_course', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_course_kind'))

    op.drop_table('awareness_course')
    # ### end Alembic commands ###
