"""outcome points: each patient's outcome as it stood after every rated session

The clinic's outcome figures (SPEC 5.4) add up these rows instead of numbering every session
of every patient at each request (SPEC 8.5). The rows for the ratings already there are made
here by one INSERT ... SELECT with window functions, the same on SQLite and PostgreSQL.

Revision ID: d2b6e8f0a3c5
Revises: c4d8e2a6f1b9
Created: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'd2b6e8f0a3c5'
down_revision = 'c4d8e2a6f1b9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outcome_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('session_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('pain', sa.Integer(), nullable=False),
    sa.Column('previous', sa.Integer(), nullable=True),
    sa.Column('change', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('first_improved', sa.Integer(), nullable=True),
    sa.Column('rated', sa.Integer(), nullable=False),
    sa.Column('next_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('improved', 'unchanged', 'worse', 'unknown')", name=op.f('ck_outcome_points_status')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_outcome_points_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rating_id'], ['session_ratings.id'], name=op.f('fk_outcome_points_rating_id_session_ratings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_points')),
    sa.UniqueConstraint('rating_id', name='uq_outcome_points_rating_id')
    )
    with op.batch_alter_table('outcome_points', schema=None) as batch_op:
        batch_op.create_index('ix_outcome_points_change', ['number', 'change'], unique=False)
        batch_op.create_index('ix_outcome_points_current', ['status', 'first_improved'], unique=False, postgresql_where=sa.text('next_at IS NULL'), sqlite_where=sa.text('next_at IS NULL'))
        batch_op.create_index('ix_outcome_points_patient', ['patient_id', 'session_at'], unique=False)
        batch_op.create_index('ix_outcome_points_session_at', ['session_at'], unique=False)

    op.execute(sa.text(BACKFILL))


# A frozen copy of the rules of portal.outcomes as they were at this revision (a migration
# must give the same result whatever the code becomes): improved is at least 2 points and
# at least 30% below the baseline; worse is 2 points or more above the baseline or above the
# previous rating, and wins over improved; no baseline is "unknown" unless worse (IMMPACT,
# Dworkin et al. 2008; Farrar et al. 2001; CLINICAL.md, "Clinically important change").
# Sessions count unless cancelled, numbered in time order (then by id); the baseline is the
# one stored on treatment_outcomes.
BACKFILL = """
WITH numbered AS (
    SELECT s.id AS session_id, s.patient_id, s.treated_at,
           row_number() OVER (PARTITION BY s.patient_id
                              ORDER BY s.treated_at, s.id) AS number
    FROM treatment_sessions s
    WHERE s.status = 'recorded'
), rated AS (
    SELECT n.patient_id, r.id AS rating_id, n.treated_at, n.number, r.pain_now AS pain,
           o.baseline,
           lag(r.pain_now) OVER (PARTITION BY n.patient_id
                                 ORDER BY n.treated_at, n.session_id) AS previous,
           row_number() OVER (PARTITION BY n.patient_id
                              ORDER BY n.treated_at, n.session_id) AS rated,
           lead(n.treated_at) OVER (PARTITION BY n.patient_id
                                    ORDER BY n.treated_at, n.session_id) AS next_at
    FROM numbered n
    JOIN session_ratings r ON r.session_id = n.session_id
    LEFT JOIN treatment_outcomes o ON o.patient_id = n.patient_id
), judged AS (
    SELECT rated.*,
           CASE WHEN baseline > 0 AND baseline - pain >= 2
                     AND (baseline - pain) * 100 >= baseline * 30 THEN number END AS improved_at,
           CASE WHEN (baseline IS NOT NULL AND pain - baseline >= 2)
                     OR (previous IS NOT NULL AND pain - previous >= 2) THEN 'worse'
                WHEN baseline IS NULL THEN 'unknown'
                WHEN baseline > 0 AND baseline - pain >= 2
                     AND (baseline - pain) * 100 >= baseline * 30 THEN 'improved'
                ELSE 'unchanged' END AS status
    FROM rated
)
INSERT INTO outcome_points (patient_id, rating_id, session_at, number, pain, previous,
                            change, status, first_improved, rated, next_at)
SELECT patient_id, rating_id, treated_at, number, pain, previous, pain - baseline, status,
       min(improved_at) OVER (PARTITION BY patient_id ORDER BY number
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       rated, next_at
FROM judged
"""


def downgrade():
    with op.batch_alter_table('outcome_points', schema=None) as batch_op:
        batch_op.drop_index('ix_outcome_points_session_at')
        batch_op.drop_index('ix_outcome_points_patient')
        batch_op.drop_index('ix_outcome_points_current')
        batch_op.drop_index('ix_outcome_points_change')

    op.drop_table('outcome_points')
