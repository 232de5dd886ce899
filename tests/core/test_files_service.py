"""The content-addressed file store: dedupe, limits, type detection, tamper detection."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.errors import Invalid, NotFound, TooLarge
from lakana.core.files import service
from lakana.core.files.models import StoredFile

ACTOR = system_actor("tests")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(32)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def _zip() -> bytes:
    # A fixed member date: the bytes are a test id, and pytest-xdist workers must collect
    # the same ids (with the current time, two workers a second apart disagreed and CI failed).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("a.txt", date_time=(2026, 1, 1, 0, 0, 0)), "hello")
    return buffer.getvalue()


def _store(session_factory: sessionmaker[Session], settings: Settings, data: bytes | io.BytesIO,
           name: str, declared: str | None = None, **kwargs: object) -> StoredFile:
    with session_factory.begin() as session:
        return service.store(session=session, actor=ACTOR, settings=settings, data=data,
                             name=name, declared_type=declared, **kwargs)  # type: ignore[arg-type]


def test_same_content_is_stored_once(session_factory: sessionmaker[Session],
                                     settings: Settings) -> None:
    # Given a PDF stored under one name
    first = _store(session_factory, settings, PDF, "report.pdf", "application/pdf")
    # When the same bytes are stored again, streamed, under another name
    second = _store(session_factory, settings, io.BytesIO(PDF), "copy.pdf")
    # Then there is one row and one blob, named by the SHA-256, at aa/bb/<hash>
    digest = hashlib.sha256(PDF).hexdigest()
    assert first.id == second.id and first.sha256 == digest
    assert (first.size, first.media_type, first.original_name) == (
        len(PDF), "application/pdf", "report.pdf")
    blob = settings.files_dir / digest[:2] / digest[2:4] / digest
    assert blob.read_bytes() == PDF
    assert [p for p in settings.files_dir.rglob("*") if p.is_file()] == [blob]
    with service.open_file(settings=settings, sha256=digest) as handle:
        assert handle.read() == PDF
    # And each store is in the ledger, the second marked as deduplicated
    with session_factory() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "core.file.store").order_by(AuditEntry.seq)).all()
    assert [json.loads(e.details)["deduplicated"] for e in entries] == [False, True]


@pytest.mark.parametrize(("data", "name", "declared", "expected"), [
    (PNG, "photo.png", "image/png", "image/png"),
    (JPEG, "photo.jpg", None, "image/jpeg"),
    (PDF, "doc.bin", "application/octet-stream", "application/pdf"),
    (_zip(), "bundle.zip", "application/x-zip-compressed", "application/zip"),
    (b"name;score\nA;1\n", "scores.csv", "application/vnd.ms-excel", "text/csv"),
    (b'{"a": [1, 2]}', "data.txt", "text/plain", "application/json"),
    ("\ufeffBonjour, ça va ?\n".encode(), "note.txt", None, "text/plain"),
    (PNG, "fake.pdf", "application/pdf", "image/png"),  # the bytes win over the name
])
def test_type_comes_from_the_content(session_factory: sessionmaker[Session], settings: Settings,
                                     data: bytes, name: str, declared: str | None,
                                     expected: str) -> None:
    # Given / When a file is stored with whatever name and type the client claims
    stored = _store(session_factory, settings, data, name, declared)
    # Then its type is the one its bytes show
    assert stored.media_type == expected


@pytest.mark.parametrize(("data", "name", "declared", "message"), [
    (b"MZ\x90\x00\x03" + bytes(64), "setup.pdf", "application/pdf", "not accepted"),
    (b"\x7fELF\x02\x01\x01" + bytes(64), "notes.txt", "text/plain", "not accepted"),
    (b"{not json", "data.json", "application/json", "not valid JSON"),
    (b"", "empty.txt", "text/plain", "empty"),
])
def test_unknown_or_broken_content_is_refused(session_factory: sessionmaker[Session],
                                              settings: Settings, data: bytes, name: str,
                                              declared: str, message: str) -> None:
    # Given / When content that is not an accepted type (whatever it claims)
    with pytest.raises(Invalid, match=message):
        _store(session_factory, settings, data, name, declared)
    # Then nothing is left behind, on disk or in the database
    assert not [p for p in settings.files_dir.rglob("*") if p.is_file()]
    with session_factory() as session:
        assert session.scalars(select(StoredFile)).all() == []


def test_size_limit_and_allow_list(session_factory: sessionmaker[Session],
                                   settings: Settings) -> None:
    # Given a limit of 1 KiB
    settings.max_upload_bytes = 1024
    # When a 2 KiB text file is streamed
    with pytest.raises(TooLarge, match="larger than the limit"):
        _store(session_factory, settings, io.BytesIO(b"a" * 2048), "big.txt")
    # Then it is refused without a trace, while 1 KiB exactly passes
    assert not [p for p in settings.files_dir.rglob("*") if p.is_file()]
    assert _store(session_factory, settings, b"a" * 1024, "ok.txt").size == 1024
    # And a caller may narrow the accepted types
    with pytest.raises(Invalid, match="image/png"):
        _store(session_factory, settings, PDF, "doc.pdf", allowed={"image/png"})


def test_tampered_blob_is_detected_and_repaired(session_factory: sessionmaker[Session],
                                                settings: Settings) -> None:
    # Given a stored file whose blob is then altered on disk
    stored = _store(session_factory, settings, PDF, "report.pdf")
    assert service.verify(settings=settings, sha256=stored.sha256)
    blob = service.blob_path(settings.files_dir, stored.sha256)
    blob.chmod(0o640)
    blob.write_bytes(PDF.replace(b"1.7", b"1.4"))
    # When it is verified
    # Then the change is detected
    assert not service.verify(settings=settings, sha256=stored.sha256)
    # And storing the genuine content again repairs the blob
    _store(session_factory, settings, PDF, "report.pdf")
    assert service.verify(settings=settings, sha256=stored.sha256)
    # And a missing blob does not verify either
    blob.unlink()
    assert not service.verify(settings=settings, sha256=stored.sha256)
    with pytest.raises(NotFound):
        service.open_file(settings=settings, sha256=stored.sha256)


def test_names_and_digests_cannot_escape_the_store(session_factory: sessionmaker[Session],
                                                    settings: Settings) -> None:
    # Given a client-supplied name with folders and control characters
    stored = _store(session_factory, settings, b"hello\n", "..\\..//etc/pass\x07wd.txt")
    # Then only the base name is kept
    assert stored.original_name == "passwd.txt"
    # And a path-like "digest" is refused before touching the disk
    with pytest.raises(Invalid):
        service.open_file(settings=settings, sha256="../../etc/passwd")
    assert service.blob_path(Path("/x"), "a" * 64) == Path("/x/aa/aa") / ("a" * 64)


def test_get_file(session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a stored file
    stored = _store(session_factory, settings, PNG, "p.png")
    # When it is read back by id and by digest, or an unknown id is asked for
    with session_factory() as session:
        assert service.get_file(session=session, file_id=stored.id).sha256 == stored.sha256
        assert service.get_by_sha256(session=session, sha256=stored.sha256) is not None
        # Then the unknown one is a 404
        with pytest.raises(NotFound):
            service.get_file(session=session, file_id=stored.id + 1000)
