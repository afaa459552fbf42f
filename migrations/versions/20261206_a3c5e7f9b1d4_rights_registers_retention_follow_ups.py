"""patients' rights, the clinic's registers, retention and follow-ups after discharge

Issue "patients' rights and the clinic's duties" (SPEC 11, 12): ``record_requests`` (access and
correction requests), ``privacy_incidents`` (the incident register), ``record_disposals``
(records past their retention period, and the tombstones of those disposed of) and
``follow_ups``; the clinic's retention period and follow-up weeks; on patients, follow-ups
declined, a legal hold, account closure and disposal (status "disposed"); two more discharge
reasons ("moved_away", "deceased"); on consent signatures, the practitioner's acknowledgement
of a withdrawal.

Revision ID: a3c5e7f9b1d4
Revises: f1b3d5e7a9c2
Created: 2026-12-06 07:45:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'a3c5e7f9b1d4'
down_revision = 'f1b3d5e7a9c2'
branch_labels = None
depends_on = None

# portal.models.patient's constraints when this revision was written, and before it.
OLD_STATUSES = ("status IN ('invited', 'intake_in_progress', 'intake_submitted', 'cleared', "
                "'in_treatment', 'discharged')")
STATUSES = ("status IN ('invited', 'intake_in_progress', 'intake_submitted', 'cleared', "
            "'in_treatment', 'discharged', 'disposed')")
OLD_REASONS = ("discharge_reason IS NULL OR discharge_reason IN ('completed', "
               "'patient_request', 'referred', 'no_contact', 'other')")
REASONS = ("discharge_reason IS NULL OR discharge_reason IN ('completed', "
           "'patient_request', 'referred', 'no_contact', 'moved_away', 'deceased', 'other')")


def _incidents_never_deleted():
    """The incident register is kept (PIPEDA: at least 24 months; here, for good): the
    database refuses to delete an entry, whatever the application does."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION privacy_incidents_kept() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'privacy_incidents entries are never deleted';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER privacy_incidents_no_delete BEFORE DELETE ON privacy_incidents
            FOR EACH ROW EXECUTE FUNCTION privacy_incidents_kept()
        """)
    else:
        op.execute("""
            CREATE TRIGGER privacy_incidents_no_delete BEFORE DELETE ON privacy_incidents
            BEGIN SELECT RAISE(ABORT, 'privacy_incidents entries are never deleted'); END
        """)


def _drop_incidents_never_deleted():
    op.execute("DROP TRIGGER IF EXISTS privacy_incidents_no_delete"
               + (" ON privacy_incidents" if op.get_bind().dialect.name == "postgresql"
                  else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS privacy_incidents_kept()")


def _statistics_again(*tables):
    """SQLite's batch mode copies a table to change it, and the copy has no planner
    statistics: without them the patient list takes the wrong index (see revision
    f6a1c3e5d7b9). PostgreSQL keeps them."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and conn.execute(sa.text(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        for table in tables:
            conn.execute(sa.text(f"ANALYZE {table}"))


def upgrade():
    op.create_table('privacy_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('discovered_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurred_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('records_affected', sa.Text(), nullable=False),
    sa.Column('people_affected', sa.Integer(), nullable=True),
    sa.Column('real_risk', sa.Boolean(), nullable=False),
    sa.Column('risk_reasoning', sa.Text(), nullable=False),
    sa.Column('regulator_notified_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('individuals_notified_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_privacy_incidents_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_privacy_incidents_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_incidents')),
    sa.UniqueConstraint('public_id', name=op.f('uq_privacy_incidents_public_id'))
    )
    with op.batch_alter_table('privacy_incidents', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_incidents_discovered', ['discovered_at'], unique=False)
    _incidents_never_deleted()

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('discharged_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('weeks', sa.Integer(), nullable=False),
    sa.Column('due_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('baseline', sa.Integer(), nullable=True),
    sa.Column('improved_at_discharge', sa.Boolean(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_expires_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('pain_average', sa.Integer(), nullable=True),
    sa.Column('pgic', sa.Integer(), nullable=True),
    sa.Column('psfs', sa.JSON(), nullable=True),
    sa.Column('psfs_mean', sa.Float(), nullable=True),
    sa.Column('kept', sa.Boolean(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status != 'answered' OR (answered_at IS NOT NULL AND pain_average IS NOT NULL)", name=op.f('ck_follow_ups_answered')),
    sa.CheckConstraint("status IN ('scheduled', 'sent', 'answered', 'declined', 'cancelled')", name=op.f('ck_follow_ups_status')),
    sa.CheckConstraint('pain_average IS NULL OR (pain_average >= 0 AND pain_average <= 10)', name=op.f('ck_follow_ups_pain_average')),
    sa.CheckConstraint('pgic IS NULL OR (pgic >= -3 AND pgic <= 3)', name=op.f('ck_follow_ups_pgic')),
    sa.CheckConstraint('weeks >= 1 AND weeks <= 104', name=op.f('ck_follow_ups_weeks')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_follow_ups_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('patient_id', 'discharged_at', 'weeks', name='uq_follow_ups_discharge_weeks'),
    sa.UniqueConstraint('public_id', name=op.f('uq_follow_ups_public_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_follow_ups_token_hash'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_follow_ups_answered', ['answered_at'], unique=False)
        batch_op.create_index('ix_follow_ups_patient', ['patient_id', 'due_at'], unique=False)
        batch_op.create_index('ix_follow_ups_status_due', ['status', 'due_at'], unique=False)

    op.create_table('record_disposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('patient_public_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('registered_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_visit_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retention_ends_on', sa.Date(), nullable=False),
    sa.Column('listed_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmation', sa.String(length=20), nullable=True),
    sa.Column('confirmed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('disposed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('listed', 'approved', 'disposed', 'cancelled')", name=op.f('ck_record_disposals_status')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_record_disposals_approved_by_id_users')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_record_disposals_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_record_disposals_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_disposals')),
    sa.UniqueConstraint('patient_id', name='uq_record_disposals_patient_id'),
    sa.UniqueConstraint('public_id', name=op.f('uq_record_disposals_public_id'))
    )
    with op.batch_alter_table('record_disposals', schema=None) as batch_op:
        batch_op.create_index('ix_record_disposals_status', ['status', 'listed_at'], unique=False)

    op.create_table('record_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('received_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('extended_due_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('answered_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('amendment_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("channel IN ('portal', 'clinic')", name=op.f('ck_record_requests_channel')),
    sa.CheckConstraint("kind IN ('access', 'correction')", name=op.f('ck_record_requests_kind')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('provided', 'amended', 'declined')", name=op.f('ck_record_requests_outcome')),
    sa.CheckConstraint('(answered_at IS NULL) = (outcome IS NULL)', name=op.f('ck_record_requests_answered')),
    sa.ForeignKeyConstraint(['amendment_id'], ['intake_amendments.id'], name=op.f('fk_record_requests_amendment_id_intake_amendments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_record_requests_answered_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_record_requests_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_record_requests_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_requests')),
    sa.UniqueConstraint('public_id', name=op.f('uq_record_requests_public_id'))
    )
    with op.batch_alter_table('record_requests', schema=None) as batch_op:
        batch_op.create_index('ix_record_requests_open', ['answered_at', 'due_at'], unique=False)
        batch_op.create_index('ix_record_requests_patient', ['patient_id', 'received_at'], unique=False)
        batch_op.create_index('ix_record_requests_received', ['received_at'], unique=False)

    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_years', sa.Integer(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('follow_up_first_weeks', sa.Integer(), server_default='6', nullable=True))
        batch_op.add_column(sa.Column('follow_up_second_weeks', sa.Integer(), server_default='12', nullable=True))

    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawal_seen_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawal_seen_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_consent_signatures_withdrawal_seen_by_id_users'), 'users', ['withdrawal_seen_by_id'], ['id'])

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_ups_declined_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('legal_hold_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('legal_hold_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('legal_hold_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('account_closed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disposed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_patients_legal_hold_by_id_users'), 'users', ['legal_hold_by_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_patients_status'), type_='check')
        batch_op.create_check_constraint('status', STATUSES)
        batch_op.drop_constraint(batch_op.f('ck_patients_discharge_reason'), type_='check')
        batch_op.create_check_constraint('discharge_reason', REASONS)
    _statistics_again('patients', 'consent_signatures')



def downgrade():
    # A record disposed of has nothing left to be a patient again, and the revision before
    # has no status to say so: going back would show an empty record as a discharged one.
    disposed = op.get_bind().execute(sa.text(
        "SELECT 1 FROM record_disposals WHERE status = 'disposed' "
        "UNION ALL SELECT 1 FROM patients WHERE status = 'disposed'")).first()
    if disposed is not None:
        raise RuntimeError(
            "Cannot downgrade: records were disposed of at the end of their retention "
            "period, and the schema before this revision cannot keep their tombstones. "
            "Restore a backup taken before the first disposal instead.")
    op.execute("UPDATE patients SET discharge_reason = 'other' "
               "WHERE discharge_reason IN ('moved_away', 'deceased')")
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_patients_discharge_reason'), type_='check')
        batch_op.create_check_constraint('discharge_reason', OLD_REASONS)
        batch_op.drop_constraint(batch_op.f('ck_patients_status'), type_='check')
        batch_op.create_check_constraint('status', OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f('fk_patients_legal_hold_by_id_users'), type_='foreignkey')
        batch_op.drop_column('disposed_at')
        batch_op.drop_column('account_closed_at')
        batch_op.drop_column('legal_hold_by_id')
        batch_op.drop_column('legal_hold_at')
        batch_op.drop_column('legal_hold_reason')
        batch_op.drop_column('legal_hold')
        batch_op.drop_column('follow_ups_declined_at')

    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consent_signatures_withdrawal_seen_by_id_users'), type_='foreignkey')
        batch_op.drop_column('withdrawal_seen_by_id')
        batch_op.drop_column('withdrawal_seen_at')

    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('follow_up_second_weeks')
        batch_op.drop_column('follow_up_first_weeks')
        batch_op.drop_column('retention_years')

    with op.batch_alter_table('record_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_record_requests_received')
        batch_op.drop_index('ix_record_requests_patient')
        batch_op.drop_index('ix_record_requests_open')

    op.drop_table('record_requests')
    with op.batch_alter_table('record_disposals', schema=None) as batch_op:
        batch_op.drop_index('ix_record_disposals_status')

    op.drop_table('record_disposals')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_status_due')
        batch_op.drop_index('ix_follow_ups_patient')
        batch_op.drop_index('ix_follow_ups_answered')

    op.drop_table('follow_ups')
    with op.batch_alter_table('privacy_incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_privacy_incidents_discovered')

    _drop_incidents_never_deleted()
    op.drop_table('privacy_incidents')
