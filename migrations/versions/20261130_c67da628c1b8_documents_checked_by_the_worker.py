"""documents checked by the background worker: "checking" and "refused"

An upload is stored as it came (``original_key``, with the hash of its bytes in
``original_sha256``) and recorded as "checking"; the worker claims it
(``check_claimed_until``), and keeps what it made of it or refuses it with a reason
(``refusal_code``, ``refusal_params``). ``sha256`` and ``blob_key`` are empty until then,
and stay empty once refused. The rows already there were checked in their request: they
keep their status and keys.

Downgrading deletes the documents still being checked and the refused ones (the earlier
schema has no place for them); their stored originals are left to ``flask documents
sweep``.

Revision ID: c67da628c1b8
Revises: a7b9d1f3c5e2
Created: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'c67da628c1b8'
down_revision = 'a7b9d1f3c5e2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('original_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('check_claimed_until', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('refusal_code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('refusal_params', sa.JSON(), nullable=True))
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('blob_key', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_documents_original_key'),
                                          ['original_key'])
        batch_op.create_unique_constraint('uq_documents_patient_original_sha256',
                                          ['patient_id', 'original_sha256'])
        batch_op.drop_constraint(batch_op.f('ck_documents_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('checking', 'pending', 'accepted', 'rejected', 'refused')")


def downgrade():
    op.execute("DELETE FROM documents WHERE status IN ('checking', 'refused')")
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_documents_status'), type_='check')
        batch_op.create_check_constraint('status',
                                         "status IN ('pending', 'accepted', 'rejected')")
        batch_op.drop_constraint('uq_documents_patient_original_sha256', type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_documents_original_key'), type_='unique')
        batch_op.alter_column('blob_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('refusal_params')
        batch_op.drop_column('refusal_code')
        batch_op.drop_column('check_claimed_until')
        batch_op.drop_column('original_key')
        batch_op.drop_column('original_sha256')
