"""when and why a patient was discharged, on the patient

Adds ``patients.discharged_at`` and ``patients.discharge_reason`` (coded), and fills them for
the patients discharged already: from the latest ``patient.discharged`` event of the audit
log when there is one, else the last activity and no reason.

Revision ID: f6a1c3e5d7b9
Revises: e4f8a2c6b1d3
Created: 2026-11-28 09:00:00
"""
import json

from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'f6a1c3e5d7b9'
down_revision = 'e4f8a2c6b1d3'
branch_labels = None
depends_on = None

BATCH = 1000
# portal.models.DISCHARGE_REASONS when this revision was written.
REASONS = ("completed", "patient_request", "referred", "no_contact", "other")


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discharged_at', portal.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('discharge_reason', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(
            'discharge_reason',
            "discharge_reason IS NULL OR discharge_reason IN ("
            + ", ".join(f"'{r}'" for r in REASONS) + ")")

    conn = op.get_bind()
    latest = conn.execute(sa.text(
        "SELECT a.patient_id, a.created_at, a.detail FROM audit_events a "
        "JOIN patients p ON p.id = a.patient_id "
        "WHERE p.status = 'discharged' AND a.action = 'patient.discharged' "
        "AND a.id = (SELECT max(b.id) FROM audit_events b "
        "            WHERE b.patient_id = a.patient_id AND b.action = 'patient.discharged')"
    )).all()
    rows = []
    for patient_id, created_at, detail in latest:
        try:
            reason = json.loads(detail or "{}").get("reason")
        except ValueError:
            reason = None
        rows.append({"id": patient_id, "at": created_at,
                     "reason": reason if reason in REASONS else None})
    update = sa.text("UPDATE patients SET discharged_at = :at, discharge_reason = :reason "
                     "WHERE id = :id")
    for start in range(0, len(rows), BATCH):
        conn.execute(update, rows[start:start + BATCH])
    conn.execute(sa.text("UPDATE patients SET discharged_at = last_activity_at "
                         "WHERE status = 'discharged' AND discharged_at IS NULL"))
    if conn.dialect.name == "sqlite" and conn.execute(sa.text(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        # SQLite's batch mode copied the table above, and the copy has no statistics: its
        # planner would then read the patient list by the wrong index (ten times slower at
        # 100,000 patients). PostgreSQL keeps them when columns are added.
        conn.execute(sa.text("ANALYZE patients"))


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_patients_discharge_reason'), type_='check')
        batch_op.drop_column('discharge_reason')
        batch_op.drop_column('discharged_at')
