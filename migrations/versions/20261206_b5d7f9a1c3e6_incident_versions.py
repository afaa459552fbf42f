"""incident entries' earlier versions, kept apart from the audit log

An edit of a privacy incident entry kept what each changed field was in the audit event's
detail; the audit log holds no health data and is never erased, and an incident's free
text can hold some. ``privacy_incident_versions`` keeps each earlier version of an entry
instead (added to, never changed or deleted: the database refuses), and
``privacy_incidents.version`` numbers the entry's versions, so that an edit based on an
older version is refused rather than silently overwriting a newer one.

Revision ID: b5d7f9a1c3e6
Revises: a3c5e7f9b1d4
Created: 2026-12-06 11:30:00
"""
from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'b5d7f9a1c3e6'
down_revision = 'a3c5e7f9b1d4'
branch_labels = None
depends_on = None


def _versions_kept():
    """The earlier versions are kept as they were (SOR/2018-64 s. 6: a record of every breach
    kept at least 24 months): the database refuses to change or delete one, whatever the
    application does."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION privacy_incident_versions_kept() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'privacy_incident_versions entries are never changed or deleted';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER privacy_incident_versions_no_change
            BEFORE UPDATE OR DELETE ON privacy_incident_versions
            FOR EACH ROW EXECUTE FUNCTION privacy_incident_versions_kept()
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER privacy_incident_versions_no_{event.lower()}
                BEFORE {event} ON privacy_incident_versions
                BEGIN SELECT RAISE(ABORT,
                    'privacy_incident_versions entries are never changed or deleted'); END
            """)


def _drop_versions_kept():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS privacy_incident_versions_no_change "
                   "ON privacy_incident_versions")
        op.execute("DROP FUNCTION IF EXISTS privacy_incident_versions_kept()")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS privacy_incident_versions_no_{event}")


def upgrade():
    op.create_table('privacy_incident_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('discovered_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurred_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('records_affected', sa.Text(), nullable=False),
    sa.Column('people_affected', sa.Integer(), nullable=True),
    sa.Column('real_risk', sa.Boolean(), nullable=False),
    sa.Column('risk_reasoning', sa.Text(), nullable=False),
    sa.Column('regulator_notified_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('individuals_notified_at', portal.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('edited_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('edited_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['edited_by_id'], ['users.id'], name=op.f('fk_privacy_incident_versions_edited_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['privacy_incidents.id'], name=op.f('fk_privacy_incident_versions_incident_id_privacy_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_incident_versions')),
    sa.UniqueConstraint('incident_id', 'version', name='uq_privacy_incident_versions_version')
    )
    _versions_kept()
    # The table's triggers stay: SQLite's batch mode adds a column without copying the table
    # here (no constraint changes), so privacy_incidents_no_delete is kept.
    with op.batch_alter_table('privacy_incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def _refuse_to_lose_history():
    """Refuse before changing anything. On SQLite each revision's step is committed on its
    own, so a downgrade past this revision refused by the one before (a3c5e7f9b1d4, once a
    record was disposed of) would otherwise find the earlier versions already dropped."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM privacy_incident_versions")).first() is not None:
        # A record of every breach is kept at least 24 months after the day it was found
        # (PIPEDA s. 10.3; Breach of Security Safeguards Regulations, SOR/2018-64, s. 6),
        # and an entry's earlier versions are part of that record.
        raise RuntimeError(
            "Cannot downgrade: privacy incident entries have earlier versions, which must be "
            "kept (PIPEDA breach records, at least 24 months) and which the schema before "
            "this revision cannot hold. Restore a backup taken before the first edit of an "
            "incident entry instead.")
    disposed = bind.execute(sa.text(
        "SELECT 1 FROM record_disposals WHERE status = 'disposed' "
        "UNION ALL SELECT 1 FROM patients WHERE status = 'disposed'")).first()
    if disposed is not None:
        raise RuntimeError(
            "Cannot downgrade: records were disposed of at the end of their retention "
            "period, and the schema before revision a3c5e7f9b1d4 cannot keep their "
            "tombstones (refused here first, so that nothing is dropped half-way). "
            "Restore a backup taken before the first disposal instead.")


def downgrade():
    _refuse_to_lose_history()
    # SQLite drops a column by copying the table, which loses its trigger: made again after.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('privacy_incidents', schema=None) as batch_op:
        batch_op.drop_column('version')
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS privacy_incidents_no_delete")
        op.execute("""
            CREATE TRIGGER privacy_incidents_no_delete BEFORE DELETE ON privacy_incidents
            BEGIN SELECT RAISE(ABORT, 'privacy_incidents entries are never deleted'); END
        """)
    _drop_versions_kept()
    op.drop_table('privacy_incident_versions')
