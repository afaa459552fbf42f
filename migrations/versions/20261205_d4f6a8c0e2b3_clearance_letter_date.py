"""clearance letter date

A clearance is valid from the date of the physician's letter, which the reviewer enters on
accepting it, until its valid-until date (SPEC 3.3, 4.1). Until now a clearance had no
start, so a session dated long before the letter passed the treatment gate.

Accepted clearances stored before this column existed get their review date as their
letter date (the day a practitioner saw the letter, the earliest day the portal knew of
it); one without a review time gets its upload date. The dates are taken in UTC. Downgrade
drops the column.

Revision ID: d4f6a8c0e2b3
Revises: c8e2a4f6b0d1
Created: 2026-12-05 22:45:00
"""
import sqlalchemy as sa
from alembic import op

from portal.models.base import UTCDateTime

revision = 'd4f6a8c0e2b3'
down_revision = 'c8e2a4f6b0d1'
branch_labels = None
depends_on = None

documents = sa.table('documents', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                     sa.column('status', sa.String),
                     sa.column('reviewed_at', UTCDateTime(timezone=True)),
                     sa.column('created_at', UTCDateTime(timezone=True)),
                     sa.column('letter_date', sa.Date))


def upgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_date', sa.Date(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(documents.c.id, documents.c.reviewed_at,
                                  documents.c.created_at)
                        .where(documents.c.kind == 'clearance',
                               documents.c.status == 'accepted')).all()
    for row in rows:
        when = row.reviewed_at or row.created_at
        conn.execute(documents.update().where(documents.c.id == row.id)
                     .values(letter_date=when.date()))


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('letter_date')
