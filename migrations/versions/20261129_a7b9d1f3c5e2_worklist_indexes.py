"""indexes for the worklist at 100,000 patients

The practitioner index carries the patient id on PostgreSQL (an index-only read for "my
patients"); partial indexes find the invitations not accepted yet and the safety answers
not handled yet among years of patients. Each partial index's condition is written as
SQLAlchemy writes the query's on that database, so that the planner uses it.

Revision ID: a7b9d1f3c5e2
Revises: f6a1c3e5d7b9
Created: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7b9d1f3c5e2'
down_revision = 'f6a1c3e5d7b9'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_patients_practitioner_status', table_name='patients')
    op.create_index('ix_patients_practitioner_status', 'patients',
                    ['practitioner_id', 'status'], postgresql_include=['id'])
    op.create_index('ix_patients_invited', 'patients', ['practitioner_id', 'user_id'],
                    postgresql_where=sa.text("status = 'invited'"),
                    sqlite_where=sa.text("status = 'invited'"))
    op.create_index('ix_session_ratings_open_alerts', 'session_ratings', ['patient_id'],
                    postgresql_where=sa.text(
                        'breathing_alert IS TRUE AND alert_handled_at IS NULL'),
                    sqlite_where=sa.text('breathing_alert IS 1 AND alert_handled_at IS NULL'))
    op.create_index('ix_users_pending_patients', 'users', ['id'],
                    postgresql_where=sa.text(
                        "role = 'patient' AND password_hash IS NULL AND active IS TRUE"),
                    sqlite_where=sa.text(
                        "role = 'patient' AND password_hash IS NULL AND active IS 1"))


def downgrade():
    op.drop_index('ix_users_pending_patients', table_name='users')
    op.drop_index('ix_session_ratings_open_alerts', table_name='session_ratings')
    op.drop_index('ix_patients_invited', table_name='patients')
    op.drop_index('ix_patients_practitioner_status', table_name='patients')
    op.create_index('ix_patients_practitioner_status', 'patients',
                    ['practitioner_id', 'status'])
