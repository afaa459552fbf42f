"""patient search by phone and date of birth, pain-change sort, indexes for 100,000 patients

Adds to ``patients`` the phone (digits), date of birth, the denormalised ``search_text``
and ``pain_change``, makes ``last_activity_at`` always set, and fills all of them for the
rows already there (in Python, in batches, the same on SQLite and PostgreSQL). On
PostgreSQL the search column gets a pg_trgm trigram index.

Revision ID: c4d8e2a6f1b9
Revises: a9c3e5f7b104
Created: 2026-11-25 09:00:00
"""
from datetime import date
import unicodedata

from alembic import op
import sqlalchemy as sa
import portal.models.base


revision = 'c4d8e2a6f1b9'
down_revision = 'a9c3e5f7b104'
branch_labels = None
depends_on = None

BATCH = 2000
# In ims_intake v1, the only questionnaire when this revision was written, the patient's
# own phone and date of birth (the questions marked autocomplete "tel" and "bday").
PHONE_QUESTION, DOB_QUESTION = "phone", "dob"


# A frozen copy of portal.searchtext as it was at this revision: a migration must give the
# same result whatever the code becomes later.
def _fold(text_):
    text_ = (text_ or "").lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text_)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _phone_digits(text_):
    digits = "".join(c for c in str(text_ or "") if c.isdigit() and c.isascii())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits[:20] or None


def _date(value):
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _search_text(name, email, phone, dob):
    parts = [_fold(name), _fold(email), phone or "", dob.isoformat() if dob else ""]
    return " ".join(" ".join(p.split()) for p in parts if p and p.strip())


users = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String),
                 sa.column("email", sa.String))
patients = sa.table("patients", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
                    sa.column("phone", sa.String), sa.column("date_of_birth", sa.Date),
                    sa.column("search_text", sa.Text), sa.column("pain_change", sa.Integer),
                    sa.column("created_at", sa.DateTime),
                    sa.column("last_activity_at", sa.DateTime))
responses = sa.table("intake_responses", sa.column("id", sa.Integer),
                     sa.column("patient_id", sa.Integer), sa.column("status", sa.String),
                     sa.column("answers", sa.JSON))
amendments = sa.table("intake_amendments", sa.column("id", sa.Integer),
                      sa.column("response_id", sa.Integer), sa.column("changes", sa.JSON))
outcomes = sa.table("treatment_outcomes", sa.column("patient_id", sa.Integer),
                    sa.column("baseline", sa.Integer), sa.column("latest_nprs", sa.Integer))


def _batches(conn, stmt, key):
    """Rows of ``stmt`` in batches, by increasing ``key`` (keyset: no OFFSET, no cursor held
    open while the same table is updated)."""
    last = 0
    while True:
        rows = conn.execute(stmt.where(key > last).order_by(key).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _backfill(conn):
    conn.execute(patients.update().where(patients.c.last_activity_at.is_(None))
                 .values(last_activity_at=patients.c.created_at))
    conn.execute(patients.update().values(pain_change=sa.select(
        outcomes.c.latest_nprs - outcomes.c.baseline)
        .where(outcomes.c.patient_id == patients.c.id).scalar_subquery()))

    set_contact = (patients.update().where(patients.c.id == sa.bindparam("pid"))
                   .values(phone=sa.bindparam("p_phone"), date_of_birth=sa.bindparam("p_dob")))
    for rows in _batches(conn, sa.select(responses.c.id, responses.c.patient_id,
                                         responses.c.answers)
                         .where(responses.c.status == "submitted"), responses.c.id):
        changes = {}
        for response_id, change in conn.execute(
                sa.select(amendments.c.response_id, amendments.c.changes)
                .where(amendments.c.response_id.in_([r[0] for r in rows]))
                .order_by(amendments.c.id)):
            changes.setdefault(response_id, []).append(change or {})
        params = []
        for response_id, patient_id, answers in rows:
            answers = dict(answers or {})
            for change in changes.get(response_id, []):
                answers.update(change)
            params.append({"pid": patient_id,
                           "p_phone": _phone_digits(answers.get(PHONE_QUESTION)),
                           "p_dob": _date(answers.get(DOB_QUESTION))})
        conn.execute(set_contact, params)

    set_text = (patients.update().where(patients.c.id == sa.bindparam("pid"))
                .values(search_text=sa.bindparam("p_text")))
    for rows in _batches(conn, sa.select(patients.c.id, users.c.name, users.c.email,
                                         patients.c.phone, patients.c.date_of_birth)
                         .join(users, users.c.id == patients.c.user_id), patients.c.id):
        conn.execute(set_text, [{"pid": pid, "p_text": _search_text(name, email, phone, dob)}
                                for pid, name, email, phone, dob in rows])


def upgrade():
    conn = op.get_bind()
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('pain_change', sa.Integer(), nullable=True))

    _backfill(conn)

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.alter_column('search_text', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('last_activity_at',
                              existing_type=portal.models.base.UTCDateTime(timezone=True),
                              nullable=False)
        batch_op.create_index('ix_patients_activity', ['last_activity_at', 'id', 'search_text'],
                              unique=False)
        batch_op.create_index('ix_patients_pain_change', ['pain_change', 'id', 'search_text'],
                              unique=False)
        batch_op.create_index('ix_patients_status_activity',
                              ['status', 'last_activity_at', 'id', 'search_text'], unique=False)
        batch_op.create_index('ix_patients_status_pain_change',
                              ['status', 'pain_change', 'id', 'search_text'], unique=False)
        batch_op.drop_index('ix_patients_practitioner_id')
        batch_op.create_index('ix_patients_practitioner_status', ['practitioner_id', 'status'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_patients_date_of_birth'), ['date_of_birth'],
                              unique=False)
    if postgresql:
        op.create_index('ix_patients_search_text', 'patients', ['search_text'], unique=False,
                        postgresql_using='gin',
                        postgresql_ops={'search_text': 'gin_trgm_ops'})
    else:
        op.create_index('ix_patients_search_text', 'patients', ['search_text'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_role_password', ['role', 'password_hash'], unique=False)
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_sessions_rating_window')
        batch_op.create_index('ix_treatment_sessions_rating_window',
                              ['status', 'rating_closed_at', 'rating_opens_at', 'patient_id',
                               'id'], unique=False)
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_pending_patient',
                              ['status', 'kind', 'patient_id', 'created_at'], unique=False)
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_account_tokens_pending', ['purpose', 'used_at', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_pending_patient')
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_account_tokens_pending')
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_sessions_rating_window')
        batch_op.create_index('ix_treatment_sessions_rating_window',
                              ['status', 'rating_opens_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_role_password')
    op.drop_index('ix_patients_search_text', table_name='patients')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_date_of_birth'))
        batch_op.drop_index('ix_patients_practitioner_status')
        batch_op.create_index('ix_patients_practitioner_id', ['practitioner_id'], unique=False)
        batch_op.drop_index('ix_patients_status_pain_change')
        batch_op.drop_index('ix_patients_status_activity')
        batch_op.drop_index('ix_patients_pain_change')
        batch_op.drop_index('ix_patients_activity')
        batch_op.alter_column('last_activity_at',
                              existing_type=portal.models.base.UTCDateTime(timezone=True),
                              nullable=True)
        batch_op.drop_column('pain_change')
        batch_op.drop_column('search_text')
        batch_op.drop_column('date_of_birth')
        batch_op.drop_column('phone')
    # pg_trgm stays: other databases objects may use it, and it holds no data.
