"""intake questionnaire: responses, answers, consent signatures

Revision ID: 5e2b7c1d9a01
Revises: cff4546453f0
Created: 2026-11-24 16:35:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = '5e2b7c1d9a01'
down_revision = 'cff4546453f0'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
