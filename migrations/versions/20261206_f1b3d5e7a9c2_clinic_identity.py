"""the clinic's identity: phone, address, language, logo

Issue "phone-first and polished" (SPEC 8): patient pages, e-mails and the urgent-care advice
name the clinic and how to reach it. ``clinic_settings`` gains ``phone``, ``address``,
``locale`` (the language of invitations until the person chooses one; "en" for clinics set
up so far) and an optional logo with its type and content digest.

Revision ID: f1b3d5e7a9c2
Revises: e7a9c1b3d5f2
Created: 2026-12-06 04:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f1b3d5e7a9c2'
down_revision = 'e7a9c1b3d5f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=False,
                                      server_default='en'))
        batch_op.add_column(sa.Column('logo', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_mimetype', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('logo_digest', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('logo_digest')
        batch_op.drop_column('logo_mimetype')
        batch_op.drop_column('logo')
        batch_op.drop_column('locale')
        batch_op.drop_column('address')
        batch_op.drop_column('phone')
