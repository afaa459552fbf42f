"""treatment sessions and pain ratings

Revision ID: a9c3e5f7b104
Revises: 8f4d2a6b3c02
Created: 2026-11-24 16:50:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'a9c3e5f7b104'
down_revision = '8f4d2a6b3c02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('treatment_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('baseline_override', sa.Integer(), nullable=True),
    sa.Column('baseline_override_reason', sa.Text(), nullable=True),
    sa.Column('baseline_set_by_id', sa.Integer(), nullable=True),
    sa.Column('baseline_set_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('baseline', sa.Integer(), nullable=True),
    sa.Column('latest_nprs', sa.Integer(), nullable=True),
    sa.Column('rated_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('improved', 'unchanged', 'worse', 'unknown')", name=op.f('ck_treatment_outcomes_status')),
    sa.CheckConstraint('baseline_override IS NULL OR (baseline_override >= 0 AND baseline_override <= 10)', name=op.f('ck_treatment_outcomes_baseline_override')),
    sa.ForeignKeyConstraint(['baseline_set_by_id'], ['users.id'], name=op.f('fk_treatment_outcomes_baseline_set_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_outcomes_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_outcomes')),
    sa.UniqueConstraint('patient_id', name='uq_treatment_outcomes_patient_id')
    )
    with op.batch_alter_table('treatment_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_outcomes_status', ['status', 'updated_at'], unique=False)

    op.create_table('treatment_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('treated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('nprs_before', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('override_gates', sa.JSON(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('cancelled_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('corrections', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rating_opens_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('form_key', sa.String(length=32), nullable=True),
    sa.Column('reminder_sent_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rating_closed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status = 'recorded' OR cancelled_at IS NOT NULL", name=op.f('ck_treatment_sessions_cancelled_at')),
    sa.CheckConstraint("status IN ('recorded', 'cancelled')", name=op.f('ck_treatment_sessions_status')),
    sa.CheckConstraint('nprs_before IS NULL OR (nprs_before >= 0 AND nprs_before <= 10)', name=op.f('ck_treatment_sessions_nprs_before')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_treatment_sessions_cancelled_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_sessions_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_treatment_sessions_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_sessions')),
    sa.UniqueConstraint('patient_id', 'form_key', name='uq_treatment_sessions_form_key'),
    sa.UniqueConstraint('public_id', name=op.f('uq_treatment_sessions_public_id'))
    )
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_sessions_patient_time', ['patient_id', 'treated_at'], unique=False)
        batch_op.create_index('ix_treatment_sessions_rating_window', ['status', 'rating_opens_at'], unique=False)

    op.create_table('session_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('pain_now', sa.Integer(), nullable=False),
    sa.Column('pgic', sa.Integer(), nullable=False),
    sa.Column('soreness', sa.Integer(), nullable=False),
    sa.Column('soreness_duration', sa.String(length=20), nullable=False),
    sa.Column('psfs', sa.JSON(), nullable=True),
    sa.Column('psfs_mean', sa.Float(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('breathing_alert', sa.Boolean(), nullable=False),
    sa.Column('alert_handled_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('alert_handled_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("soreness_duration IN ('none', 'under_day', 'one_two_days', 'three_plus_days', 'still_sore')", name=op.f('ck_session_ratings_soreness_duration')),
    sa.CheckConstraint('pain_now >= 0 AND pain_now <= 10', name=op.f('ck_session_ratings_pain_now')),
    sa.CheckConstraint('pgic >= -3 AND pgic <= 3', name=op.f('ck_session_ratings_pgic')),
    sa.CheckConstraint('soreness >= 0 AND soreness <= 10', name=op.f('ck_session_ratings_soreness')),
    sa.ForeignKeyConstraint(['alert_handled_by_id'], ['users.id'], name=op.f('fk_session_ratings_alert_handled_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_session_ratings_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_session_ratings_session_id_treatment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_ratings')),
    sa.UniqueConstraint('public_id', name=op.f('uq_session_ratings_public_id')),
    sa.UniqueConstraint('session_id', name='uq_session_ratings_session_id')
    )
    with op.batch_alter_table('session_ratings', schema=None) as batch_op:
        batch_op.create_index('ix_session_ratings_alert', ['breathing_alert', 'alert_handled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_ratings_patient_id'), ['patient_id'], unique=False)



def downgrade():
    with op.batch_alter_table('session_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_ratings_patient_id'))
        batch_op.drop_index('ix_session_ratings_alert')

    op.drop_table('session_ratings')
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_sessions_rating_window')
        batch_op.drop_index('ix_treatment_sessions_patient_time')

    op.drop_table('treatment_sessions')
    with op.batch_alter_table('treatment_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_outcomes_status')

    op.drop_table('treatment_outcomes')
