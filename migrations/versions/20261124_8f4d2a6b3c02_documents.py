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
    pass


def downgrade():
    pass
