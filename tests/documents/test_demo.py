"""`flask seed-demo` (SPEC 9): clearances pending, accepted, rejected with a reason, expired,
and one replaced; real files that open; and running it again adds nothing."""
from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from portal import storage
from portal.documents import services
from portal.extensions import db
from portal.models import Document, Patient, StoredChunk, User


def seed(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")  # keep the developer's file alone
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Document)),
            db.session.scalar(select(func.count()).select_from(StoredChunk)))


def test_seed_demo_has_clearances_in_every_state(app, runner, tmp_path):
    seed(app, runner, tmp_path)
    states = {}
    for patient in db.session.scalars(select(Patient).join(Patient.user)
                                      .where(User.email.like("patient%"))):
        state = services.clearance_state(patient)
        states.setdefault(state.state, []).append(patient)
    assert {"pending", "cleared", "rejected", "expired", "missing"} <= set(states)
    rejected = services.clearance_state(states["rejected"][0]).document
    assert rejected.rejection_reason and rejected.reviewed_by is not None
    assert any(d.replaces_id for d in db.session.scalars(select(Document)))
    # Every demo file was checked as it was made; one was refused, with a reason to show.
    assert db.session.scalar(select(func.count()).select_from(Document)
                             .where(Document.status == "checking")) == 0
    refused, = db.session.scalars(select(Document).where(Document.status == "refused"))
    assert refused.refusal_code == "pdf_scripts" and refused.blob_key is None
    # The files are real: each opens (and so does its preview).
    for doc in db.session.scalars(select(Document).where(Document.status != "refused")):
        body = b"".join(storage.get_storage().read(doc.blob_key))
        assert len(body) == doc.size
        if doc.content_type == "application/pdf":
            assert body.startswith(b"%PDF-")
        else:
            Image.open(io.BytesIO(body)).verify()
        assert b"".join(storage.get_storage().read(doc.preview_key))[:3] == b"\xff\xd8\xff"
    # Something for the worklist.
    assert services.count_clearances_to_review() >= 2


def test_seed_demo_twice_adds_no_documents(app, runner, tmp_path):
    seed(app, runner, tmp_path)
    first = counts()
    assert first[0] >= 6
    seed(app, runner, tmp_path)
    assert counts() == first
