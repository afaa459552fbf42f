"""Documents: a signed-in patient and practitioner, uploads the way a browser sends them,
and both storage backends."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import storage, tasks
from portal.extensions import db
from portal.models import Document, StoredChunk
from tests.conftest import Auth, CSRFClient
from tests.factories import make_patient, make_practitioner

HX = {"HX-Request": "true"}


BOTH_BACKENDS = pytest.mark.parametrize("storage_backend", ["database", "directory"])


@pytest.fixture
def storage_backend():
    """The default; ``@BOTH_BACKENDS`` runs a test once per backend."""
    return "database"


@pytest.fixture
def document_dir(tmp_path) -> Path:
    return tmp_path / "documents"


@pytest.fixture
def app_config(app_config, storage_backend, document_dir):
    app_config["DOCUMENT_STORAGE"] = storage_backend
    app_config["DOCUMENT_DIR"] = str(document_dir)
    return app_config


@pytest.fixture
def patient(app):
    return make_patient(name="Margaret Côté")


@pytest.fixture
def patient_client(app, patient):
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(patient).status_code == 303
    return client


@pytest.fixture
def doctor(app):
    return make_practitioner(name="Dr. Jordan Lee")


@pytest.fixture
def doctor_client(app, doctor):
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(doctor).status_code == 303
    return client


def upload(client, *files: tuple[bytes, str] | tuple[bytes, str, str], kind="clearance",
           field="files", headers=None, check=True, **extra):
    """POST files as multipart/form-data: (content, file name[, browser's content type]);
    then, unless ``check`` is false, run what the request queued (the worker's check of
    each file, portal.documents.checks), as the worker would once the request is done."""
    parts = []
    for item in files:
        content, name = item[0], item[1]
        parts.append((io.BytesIO(content), name, *(item[2:] or ())))
    data = {"kind": kind, field: parts, **extra}
    response = client.post("/me/documents/upload", data=data, headers=headers or {},
                           content_type="multipart/form-data")
    if check:
        tasks.run_pending()
    return response


def stored_keys() -> set[str]:
    """Every blob in the configured storage."""
    return storage.get_storage().keys()


def stored_everything(document_dir: Path | None = None) -> dict:
    """What exists: records, database chunks and files on disk (pending ones included)."""
    db.session.expire_all()
    files = []
    if document_dir is not None and Path(document_dir).exists():
        files = [p for p in Path(document_dir).rglob("*") if p.is_file()]
    return {"documents": db.session.scalar(select(func.count()).select_from(Document)),
            "chunks": db.session.scalar(select(func.count()).select_from(StoredChunk)),
            "files": files}
