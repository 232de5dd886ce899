"""awareness phishing and campaigns

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 22:46:57.347857
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('awareness_phishing_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('sender_name', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('landing_text', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_phishing_template'))
    )
    op.create_table('awareness_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=30), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('lead_institution_id', sa.Integer(), nullable=True),
    sa.Column('target_reach', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_campaign_lead_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_campaign'))
    )
    with op.batch_alter_table('awareness_campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_campaign_audience'), ['audience'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_campaign_lead_institution_id'), ['lead_institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_campaign_starts_on'), ['starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_campaign_status'), ['status'], unique=False)

    op.create_table('awareness_phishing_exercise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('followup_course_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['followup_course_id'], ['awareness_course.id'], name=op.f('fk_awareness_phishing_exercise_followup_course_id_awareness_course'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['institution_id'], ['registry_institution.id'], name=op.f('fk_awareness_phishing_exercise_institution_id_registry_institution'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['template_id'], ['awareness_phishing_template.id'], name=op.f('fk_awareness_phishing_exercise_template_id_awareness_phishing_template'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_phishing_exercise'))
    )
    with op.batch_alter_table('awareness_phishing_exercise', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_phishing_exercise_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_phishing_exercise_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_phishing_exercise_template_id'), ['template_id'], unique=False)

    op.create_table('awareness_campaign_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('evidence', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['awareness_campaign.id'], name=op.f('fk_awareness_campaign_outcome_campaign_id_awareness_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_campaign_outcome'))
    )
    with op.batch_alter_table('awareness_campaign_outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_campaign_outcome_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('awareness_campaign_reach',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('reached_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('impressions', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['awareness_campaign.id'], name=op.f('fk_awareness_campaign_reach_campaign_id_awareness_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_campaign_reach'))
    )
    with op.batch_alter_table('awareness_campaign_reach', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_campaign_reach_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('awareness_phishing_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('pseudonym', sa.String(length=40), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['awareness_enrolment.id'], name=op.f('fk_awareness_phishing_target_enrolment_id_awareness_enrolment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exercise_id'], ['awareness_phishing_exercise.id'], name=op.f('fk_awareness_phishing_target_exercise_id_awareness_phishing_exercise'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_phishing_target')),
    sa.UniqueConstraint('exercise_id', 'email', name='uq_awareness_phishing_target_email'),
    sa.UniqueConstraint('exercise_id', 'pseudonym', name='uq_awareness_phishing_target_pseudonym')
    )
    with op.batch_alter_table('awareness_phishing_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_phishing_target_exercise_id'), ['exercise_id'], unique=False)

    op.create_table('awareness_phishing_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('exercise_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['awareness_phishing_exercise.id'], name=op.f('fk_awareness_phishing_event_exercise_id_awareness_phishing_exercise'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['awareness_phishing_target.id'], name=op.f('fk_awareness_phishing_event_target_id_awareness_phishing_target'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awareness_phishing_event')),
    sa.UniqueConstraint('target_id', 'kind', name=op.f('uq_awareness_phishing_event_target_id'))
    )
    with op.batch_alter_table('awareness_phishing_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awareness_phishing_event_exercise_id'), ['exercise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awareness_phishing_event_target_id'), ['target_id'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('awareness_phishing_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_event_target_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_event_exercise_id'))

    op.drop_table('awareness_phishing_event')
    with op.batch_alter_table('awareness_phishing_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_target_exercise_id'))

    op.drop_table('awareness_phishing_target')
    with op.batch_alter_table('awareness_campaign_reach', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_reach_campaign_id'))

    op.drop_table('awareness_campaign_reach')
    with op.batch_alter_table('awareness_campaign_outcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_outcome_campaign_id'))

    op.drop_table('awareness_campaign_outcome')
    with op.batch_alter_table('awareness_phishing_exercise', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_exercise_template_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_exercise_status'))
        batch_op.drop_index(batch_op.f('ix_awareness_phishing_exercise_institution_id'))

    op.drop_table('awareness_phishing_exercise')
    with op.batch_alter_table('awareness_campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_status'))
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_starts_on'))
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_lead_institution_id'))
        batch_op.drop_index(batch_op.f('ix_awareness_campaign_audience'))

    op.drop_table('awareness_campaign')
    op.drop_table('awareness_phishing_template')
