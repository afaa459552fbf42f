"""documents: uploads, stored blobs, reviews

Revision ID: 8f4d2a6b3c02
Revises: 5e2b7c1d9a01
Created: 2026-11-24 16:35:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = '8f4d2a6b3c02'
down_revision = '5e2b7c1d9a01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stored_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_chunks')),
    sa.UniqueConstraint('key', 'seq', name='uq_stored_chunks_key_seq')
    )
    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('original_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('blob_key', sa.String(length=64), nullable=False),
    sa.Column('preview_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')", name=op.f('ck_documents_content_type')),
    sa.CheckConstraint("kind IN ('clearance', 'imaging', 'referral', 'other')", name=op.f('ck_documents_kind')),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name=op.f('ck_documents_status')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_documents_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replaces_id'], ['documents.id'], name=op.f('fk_documents_replaces_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_documents_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('blob_key', name=op.f('uq_documents_blob_key')),
    sa.UniqueConstraint('patient_id', 'sha256', name='uq_documents_patient_sha256'),
    sa.UniqueConstraint('preview_key', name=op.f('uq_documents_preview_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_documents_public_id'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_documents_review_queue', ['status', 'kind', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_review_queue')
        batch_op.drop_index(batch_op.f('ix_documents_patient_id'))

    op.drop_table('documents')
    op.drop_table('stored_chunks')
