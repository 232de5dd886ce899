"""Store uploads by content: size and type limits, SHA-256 names, atomic writes, dedupe.

A blob lives at ``files_dir/aa/bb/<sha256>``; it is streamed to a temporary file in the
same file system (hashing and counting on the way, stopping at the size limit), checked,
then renamed into place, so a reader never sees half a file. The type comes from the
content's first bytes, never from the client's ``Content-Type``. Storing the same content
twice keeps one blob and one row.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lakana.core.audit import record
from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound, TooLarge
from lakana.core.files.models import StoredFile
from lakana.core.i18n import Msg

ALLOWED_MEDIA_TYPES: frozenset[str] = frozenset({
    "application/pdf", "image/png", "image/jpeg", "application/zip", "text/csv",
    "application/json", "text/plain",
})
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
)
_CHUNK = 64 * 1024
_HEAD = 8 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Text may hold tabs, line breaks and form feeds, but no other control character.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def blob_path(root: Path, sha256: str) -> Path:
    """Where the blob of ``sha256`` lives under ``root`` (``aa/bb/<sha256>``)."""
    if not _SHA256.match(sha256):
        raise Invalid("Not a SHA-256 digest: %(value)s.", value=sha256[:80])
    return root / sha256[:2] / sha256[2:4] / sha256


def _text(head: bytes, complete: bool) -> str | None:
    """The head decoded as UTF-8 text, or ``None`` if it is binary."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text: str = decoder.decode(head.removeprefix(b"\xef\xbb\xbf"), final=complete)
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


def _is_json(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8-sig") as handle:
            json.load(handle)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def detect_media_type(head: bytes, *, name: str, declared: str | None, path: Path,
                      complete: bool) -> str | None:
    """The content's type from its first bytes (the name and declared type only choose
    between text formats); ``None`` when it is none of the known types."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    text = _text(head, complete)
    if text is None:
        return None
    declared = (declared or "").split(";")[0].strip().lower()
    lower = name.lower()
    wants_json = declared == "application/json" or lower.endswith(".json")
    if wants_json or text.lstrip()[:1] in ("{", "["):
        if _is_json(path):
            return "application/json"
        if wants_json:
            raise Invalid("The file is not valid JSON.")
    if declared in ("text/csv", "application/vnd.ms-excel") or lower.endswith(".csv"):
        return "text/csv"
    return "text/plain"


def clean_name(name: str) -> str:
    """The file's own name without folders or control characters (at most 255 characters)."""
    base = re.split(r"[\\/]", name)[-1]
    base = _CONTROL.sub("", base).strip().lstrip(".")
    return base[-255:] or "file"


def _spool(source: BinaryIO, tmp_dir: Path, max_bytes: int) -> tuple[Path, str, int, bytes]:
    """Copy ``source`` into a temporary file; returns its path, SHA-256, size and head."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    handle = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", delete=False)
    path = Path(handle.name)
    try:
        with handle:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge("The file is larger than the limit of %(limit)s MB.",
                                   limit=f"{max_bytes / 1048576:.1f}")
                if len(head) < _HEAD:
                    head += chunk[:_HEAD - len(head)]
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size, head


def store(*, session: Session, actor: Actor, settings: Settings, data: bytes | BinaryIO,
          name: str, declared_type: str | None = None,
          allowed: Collection[str] = ALLOWED_MEDIA_TYPES,
          max_bytes: int | None = None) -> StoredFile:
    """Check and store a file; returns its row (the existing one when the content is known).

    Raises :class:`TooLarge` over ``max_bytes`` (``settings.max_upload_bytes`` by default)
    and :class:`Invalid` for an empty file or a type outside ``allowed``.
    """
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    root = settings.files_dir
    limit = max_bytes or settings.max_upload_bytes
    tmp, sha256, size, head = _spool(source, root / "tmp", limit)
    try:
        if size == 0:
            raise Invalid("The file is empty.")
        media_type = detect_media_type(head, name=name, declared=declared_type, path=tmp,
                                       complete=size <= len(head))
        if media_type is None or media_type not in allowed:
            raise Invalid("This type of file is not accepted (%(type)s); accepted: "
                          "%(allowed)s.", type=media_type or "unknown",
                          allowed=", ".join(sorted(allowed)))
        final = blob_path(root, sha256)
        # A blob already there is kept unless it was damaged: then the fresh copy repairs it.
        if not (final.is_file() and _digest(final) == sha256):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.chmod(0o440)
            os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    row, created = _row(session, sha256=sha256, size=size, media_type=media_type,
                        name=clean_name(name), created_by=actor.user_id)
    record(session=session, actor=actor, action="core.file.store", object_type="core.file",
           object_id=row.id, object_repr=f"{row.original_name} ({sha256[:12]})",
           details={"sha256": sha256, "size": size, "media_type": media_type,
                    "deduplicated": not created})
    return row


def _row(session: Session, *, sha256: str, size: int, media_type: str, name: str,
         created_by: int | None) -> tuple[StoredFile, bool]:
    """The row of ``sha256``, inserted unless it exists (race-safe on both dialects)."""
    values = {"sha256": sha256, "size": size, "media_type": media_type,
              "original_name": name, "created_by": created_by, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    created = True
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(StoredFile).values(**values).on_conflict_do_nothing(
            index_elements=["sha256"]).returning(StoredFile.id)
        created = session.execute(stmt).scalar_one_or_none() is not None
    elif get_by_sha256(session=session, sha256=sha256) is None:
        session.add(StoredFile(**values))
        session.flush()
    row = get_by_sha256(session=session, sha256=sha256)
    assert row is not None
    return row, created


def get_by_sha256(*, session: Session, sha256: str) -> StoredFile | None:
    """The file row of a digest, if stored."""
    return session.execute(select(StoredFile).where(
        StoredFile.sha256 == sha256)).scalar_one_or_none()


def get_file(*, session: Session, file_id: int) -> StoredFile:
    """A file row by id (callers check access to the object that refers to it)."""
    row = session.get(StoredFile, file_id)
    if row is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("file"))
    return row


def open_file(*, settings: Settings, sha256: str) -> BinaryIO:
    """Open a stored blob for reading (binary)."""
    path = blob_path(settings.files_dir, sha256)
    if not path.is_file():
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("file"))
    return path.open("rb")


def verify(*, settings: Settings, sha256: str) -> bool:
    """Whether the blob is present and its content still hashes to its name."""
    path = blob_path(settings.files_dir, sha256)
    return path.is_file() and _digest(path) == sha256


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
