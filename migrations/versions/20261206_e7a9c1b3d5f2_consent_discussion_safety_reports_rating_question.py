"""consent discussion, safety reports, the rating's question

Issue "clinically sound" (SPEC 2.3, 4.1, 4.2, 5.1):

* ``consent_discussions``: the practitioner's record of the consent conversation, for the
  signature it completes. ``consent_signatures`` gains ``withdrawn_at`` and
  ``withdrawal_reason``; its one-signature-per-version constraint becomes a partial unique
  index over the signatures not withdrawn, so that a patient can sign again after
  withdrawing.
* ``safety_reports``: the safety check after a session and the problems a patient reports
  later. Each "yes" to the old safety question of a rating is copied in as a check with the
  two symptoms that question asked about, acknowledged when the old alert was handled (with
  a note saying so), so that no open alert is lost and none is raised twice.
* ``session_ratings`` gains ``score_question`` ("pain_now" for every rating stored so far:
  its follow-up score stays the pain at the time of rating) and ``pain_average``.
* ``intake_responses`` gains ``review_note``.

Downgrade drops what was added and restores the unique constraint (it fails if a patient has
two signatures of one version, which only withdrawal makes possible).

Revision ID: e7a9c1b3d5f2
Revises: d4f6a8c0e2b3
Created: 2026-12-06 01:00:00
"""
import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime, new_public_id

revision = 'e7a9c1b3d5f2'
down_revision = 'd4f6a8c0e2b3'
branch_labels = None
depends_on = None

ratings = sa.table('session_ratings', sa.column('id', sa.Integer),
                   sa.column('session_id', sa.Integer), sa.column('patient_id', sa.Integer),
                   sa.column('breathing_alert', sa.Boolean),
                   sa.column('created_at', UTCDateTime(timezone=True)),
                   sa.column('alert_handled_at', UTCDateTime(timezone=True)),
                   sa.column('alert_handled_by_id', sa.Integer))
reports = sa.table('safety_reports', sa.column('public_id', sa.String),
                   sa.column('patient_id', sa.Integer), sa.column('session_id', sa.Integer),
                   sa.column('kind', sa.String), sa.column('symptoms', sa.JSON),
                   sa.column('alert', sa.Boolean),
                   sa.column('created_at', UTCDateTime(timezone=True)),
                   sa.column('acknowledged_at', UTCDateTime(timezone=True)),
                   sa.column('acknowledged_by_id', sa.Integer),
                   sa.column('acknowledgement_note', sa.Text))


def upgrade():
    op.create_table(
        'consent_discussions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('signature_id', sa.Integer(), nullable=False),
        sa.Column('discussed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('discussed_by_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['discussed_by_id'], ['users.id'],
                                name=op.f('fk_consent_discussions_discussed_by_id_users')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE',
                                name=op.f('fk_consent_discussions_patient_id_patients')),
        sa.ForeignKeyConstraint(['signature_id'], ['consent_signatures.id'], ondelete='CASCADE',
                                name=op.f('fk_consent_discussions_signature_id_consent_signatures')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_discussions')),
        sa.UniqueConstraint('public_id', name=op.f('uq_consent_discussions_public_id')),
    )
    with op.batch_alter_table('consent_discussions', schema=None) as batch_op:
        batch_op.create_index('ix_consent_discussions_patient', ['patient_id', 'discussed_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_consent_discussions_signature_id'),
                              ['signature_id'], unique=False)

    op.create_table(
        'safety_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('symptoms', sa.JSON(), nullable=False),
        sa.Column('alert', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
        sa.Column('acknowledgement_note', sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('check', 'problem')", name=op.f('ck_safety_reports_kind')),
        sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'],
                                name=op.f('fk_safety_reports_acknowledged_by_id_users')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE',
                                name=op.f('fk_safety_reports_patient_id_patients')),
        sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_safety_reports_session_id_treatment_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_reports')),
        sa.UniqueConstraint('public_id', name=op.f('uq_safety_reports_public_id')),
    )
    with op.batch_alter_table('safety_reports', schema=None) as batch_op:
        batch_op.create_index('ix_safety_reports_session', ['session_id', 'kind'], unique=False)
        batch_op.create_index('ix_safety_reports_patient', ['patient_id', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_safety_reports_open', ['created_at'], unique=False,
                              postgresql_where=sa.text('alert IS TRUE AND acknowledged_at IS NULL'),
                              sqlite_where=sa.text('alert IS 1 AND acknowledged_at IS NULL'))

    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawal_reason', sa.Text(), nullable=True))
        batch_op.drop_constraint('uq_consent_signatures_patient_id', type_='unique')
        batch_op.create_index('uq_consent_signatures_current',
                              ['patient_id', 'consent_key', 'consent_version'], unique=True,
                              postgresql_where=sa.text('withdrawn_at IS NULL'),
                              sqlite_where=sa.text('withdrawn_at IS NULL'))

    with op.batch_alter_table('session_ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_question', sa.String(length=16),
                                      server_default='pain_now', nullable=False))
        batch_op.add_column(sa.Column('pain_average', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'pain_average', 'pain_average IS NULL OR (pain_average >= 0 AND pain_average <= 10)')
        batch_op.create_check_constraint(
            'score_question', "score_question IN ('pain_now', 'average_24h')")
        batch_op.create_check_constraint(
            'pain_average_asked', "score_question = 'pain_now' OR pain_average IS NOT NULL")

    with op.batch_alter_table('intake_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_note', sa.Text(), nullable=True))

    conn = op.get_bind()
    rows = conn.execute(sa.select(ratings).where(ratings.c.breathing_alert.is_(True))).all()
    for row in rows:
        handled = row.alert_handled_at is not None
        conn.execute(reports.insert().values(
            public_id=new_public_id(), patient_id=row.patient_id,
            session_id=row.session_id, kind='check',
            symptoms=['shortness_of_breath', 'chest_pain'], alert=True,
            created_at=row.created_at, acknowledged_at=row.alert_handled_at,
            acknowledged_by_id=row.alert_handled_by_id,
            acknowledgement_note=('Marked handled before notes were asked for.'
                                  if handled else None)))


def downgrade():
    with op.batch_alter_table('intake_responses', schema=None) as batch_op:
        batch_op.drop_column('review_note')
    with op.batch_alter_table('session_ratings', schema=None) as batch_op:
        batch_op.drop_constraint('pain_average_asked', type_='check')
        batch_op.drop_constraint('score_question', type_='check')
        batch_op.drop_constraint('pain_average', type_='check')
        batch_op.drop_column('pain_average')
        batch_op.drop_column('score_question')
    with op.batch_alter_table('consent_signatures', schema=None) as batch_op:
        batch_op.drop_index('uq_consent_signatures_current')
        batch_op.create_unique_constraint('uq_consent_signatures_patient_id',
                                          ['patient_id', 'consent_key', 'consent_version'])
        batch_op.drop_column('withdrawal_reason')
        batch_op.drop_column('withdrawn_at')
    with op.batch_alter_table('safety_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_safety_reports_open',
                            postgresql_where=sa.text('alert IS TRUE AND acknowledged_at IS NULL'),
                            sqlite_where=sa.text('alert IS 1 AND acknowledged_at IS NULL'))
        batch_op.drop_index('ix_safety_reports_patient')
        batch_op.drop_index('ix_safety_reports_session')
    op.drop_table('safety_reports')
    with op.batch_alter_table('consent_discussions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_discussions_signature_id'))
        batch_op.drop_index('ix_consent_discussions_patient')
    op.drop_table('consent_discussions')
