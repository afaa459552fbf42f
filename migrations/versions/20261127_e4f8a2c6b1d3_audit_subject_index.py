"""index of the audit log by subject and time

Failed sign-ins with an address that has no account are counted from the audit log over the
last day (portal.auth.services.unknown_locked_for), so that such an address is paused like
an account and the answers never tell whether it has one.

Revision ID: e4f8a2c6b1d3
Revises: d2b6e8f0a3c5
Created: 2026-11-27 09:00:00
"""
from alembic import op


revision = 'e4f8a2c6b1d3'
down_revision = 'd2b6e8f0a3c5'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: the audit table's append-only triggers must stay as they are.
    op.create_index('ix_audit_events_subject', 'audit_events', ['subject', 'created_at'])


def downgrade():
    op.drop_index('ix_audit_events_subject', table_name='audit_events')
