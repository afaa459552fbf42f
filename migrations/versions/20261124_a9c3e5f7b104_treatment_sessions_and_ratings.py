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
    pass


def downgrade():
    pass
