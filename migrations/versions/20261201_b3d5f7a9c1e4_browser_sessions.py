"""browser sessions kept on the server

What a browser's session holds (the sign-in it carries, flash messages, the language chosen)
moves from the signed cookie, where anyone holding the cookie could read it, to this table:
the cookie now carries only a random id, stored here as its SHA-256, with the data
encrypted. Sessions open at the upgrade start again empty (their cookie is not an id), so
everyone signed in signs in again; a downgrade does the same.

Revision ID: b3d5f7a9c1e4
Revises: c67da628c1b8
Created: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'b3d5f7a9c1e4'
down_revision = 'c67da628c1b8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('browser_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_browser_sessions'))
    )
    with op.batch_alter_table('browser_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_browser_sessions_expires_at'), ['expires_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('browser_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_browser_sessions_expires_at'))

    op.drop_table('browser_sessions')
