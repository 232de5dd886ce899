"""No biometric sample, template or clear national id number in the database (the SQLite
file and WAL, or a real ``pg_dump`` of PostgreSQL) nor in the logs, after a real enrollment
through the API."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import wsq
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.models import SealedObject
from lakana.biometry.protection.sealed import open_object
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.conftest import Factory

WSQ_SAMPLE = Path(wsq.__file__).parent / "tests" / "test.wsq"
NIN = "ML-2026-778899"
SURNAME = "Konaté-Témoin"


def _sample_png() -> bytes:
    import wsq  # noqa: F401  (WSQ codec)

    out = io.BytesIO()
    Image.open(WSQ_SAMPLE).save(out, "PNG")
    return out.getvalue()


def _windows(data: bytes, size: int = 24, count: int = 6) -> list[bytes]:
    """Slices of ``data`` to look for (a whole blob could be split in pages)."""
    step = max(1, (len(data) - size) // count)
    return [data[i:i + size] for i in range(0, len(data) - size, step)][:count]


def _database_bytes(settings: Settings) -> bytes:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    pg_dump = shutil.which("pg_dump") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None)
    if pg_dump is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump is required in CI")
        pytest.skip("pg_dump is not installed")
    parsed = make_url(url)
    dump = subprocess.run(
        [pg_dump, "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U",
         parsed.username or "postgres", "-d", parsed.database or "postgres", "--no-owner"],
        check=True, capture_output=True, env={**os.environ, "PGPASSWORD": parsed.password or ""})
    assert b"biometry_sealed_object" in dump.stdout
    return dump.stdout


def test_enrollment_leaves_nothing_in_clear(api_as: Callable[[User], TestClient],
                                            factory: Factory, settings: Settings,
                                            session_factory: sessionmaker[Session],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    png = _sample_png()
    packet = {
        "packet_id": "leak-scan-0001", "kind": "new", "centre": "Centre de Bamako III",
        "device": "Scanner 500 ppi", "captured_at": dt.datetime.now(dt.UTC).isoformat(),
        "demographics": {"nin": NIN, "surname": SURNAME, "given_names": "Aïssata",
                         "sex": "F", "date_of_birth": "1990-04-12",
                         "place_of_birth": "Kati", "region": "Koulikoro",
                         "phone": "+22370112233"},
        "captures": [{"modality": "finger", "position": 2,
                      "image_base64": base64.b64encode(png).decode()}],
    }
    answer = agent.post("/api/v1/biometry/enrollments", json=packet)
    assert answer.status_code in (200, 201), answer.text
    store = runtime.keystore(settings)
    with session_factory() as session:
        plaintexts = {o.kind: open_object(store=store, obj=o)
                      for o in session.scalars(select(SealedObject))}
    # The image, its template and the demographics are all sealed.
    assert {"fingerprint_wsq", "template_iso19794_2", "demographics"} <= set(plaintexts)
    needles = [NIN.encode(), SURNAME.encode(), png[200:232]]
    for kind in ("fingerprint_wsq", "template_iso19794_2"):
        needles += _windows(plaintexts[kind][40:])
    raw = _database_bytes(settings)
    logs = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records).encode()
    for needle in needles:
        assert needle not in raw, f"found in clear in the database: {needle[:12]!r}"
        assert needle not in logs and base64.b64encode(needle) not in logs
    # The API answer carries no biometric data or number either.
    assert NIN not in answer.text and SURNAME not in answer.text
