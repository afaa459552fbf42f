"""intake questionnaire: responses, answers, consent signatures

Also amendments (corrections after submission) and stashed answers (kept across an
expired sign-in).

Revision ID: 5e2b7c1d9a01
Revises: cff4546453f0
Created: 2026-11-24 16:35:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = '5e2b7c1d9a01'
down_revision = 'cff4546453f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('definition_key', sa.String(length=64), nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('current_step', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('last_editor', sa.String(length=32), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.Column('has_red_flags', sa.Boolean(), nullable=False),
    sa.Column('red_flag_count', sa.Integer(), nullable=False),
    sa.Column('precaution_count', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status = 'in_progress' OR submitted_at IS NOT NULL", name=op.f('ck_intake_responses_submitted_at')),
    sa.CheckConstraint("status IN ('in_progress', 'submitted')", name=op.f('ck_intake_responses_status')),
    sa.CheckConstraint('current_step >= 1', name=op.f('ck_intake_responses_current_step')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_intake_responses_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_intake_responses_reviewed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_responses')),
    sa.UniqueConstraint('patient_id', 'definition_key', name=op.f('uq_intake_responses_patient_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_intake_responses_public_id'))
    )
    with op.batch_alter_table('intake_responses', schema=None) as batch_op:
        batch_op.create_index('ix_intake_responses_worklist', ['status', 'reviewed_at', 'has_red_flags'], unique=False)

    op.create_table('intake_stashes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('editor', sa.String(length=32), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_intake_stashes_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_stashes')),
    sa.UniqueConstraint('patient_id', 'step', name=op.f('uq_intake_stashes_patient_id'))
    )
    op.create_table('consent_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('consent_key', sa.String(length=64), nullable=False),
    sa.Column('consent_version', sa.Integer(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('typed_name', sa.String(length=200), nullable=False),
    sa.Column('signed_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_consent_signatures_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['intake_responses.id'], name=op.f('fk_consent_signatures_response_id_intake_responses'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_signatures')),
    sa.UniqueConstraint('patient_id', 'consent_key', 'consent_version', name=op.f('uq_consent_signatures_patient_id')),
    sa.UniqueConstraint('public_id', name=op.f('uq_consent_signatures_public_id'))
    )
    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_signatures_response_id'), ['response_id'], unique=False)

    op.create_table('intake_amendments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_intake_amendments_author_id_users')),
    sa.ForeignKeyConstraint(['response_id'], ['intake_responses.id'], name=op.f('fk_intake_amendments_response_id_intake_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_amendments'))
    )
    with op.batch_alter_table('intake_amendments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_amendments_response_id'), ['response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('intake_amendments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_amendments_response_id'))

    op.drop_table('intake_amendments')
    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_signatures_response_id'))

    op.drop_table('consent_signatures')
    op.drop_table('intake_stashes')
    with op.batch_alter_table('intake_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_responses_worklist')

    op.drop_table('intake_responses')
