"""ABIS durability: a job whose worker died is run again by another worker and answers
once; a run repeated after its commit changes nothing; referenceURL fetching against a real
HTTP server on 127.0.0.1 (allowed prefixes, size limit, MOSIP errors, encrypted share)."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.abis import fetch, service
from lakana.biometry.abis.messages import AbisFailure, FailureReason
from lakana.biometry.models import AbisReference, AbisRequest
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.config import Settings
from lakana.core.jobs import service as jobs
from lakana.core.jobs.models import Job, JobStatus
from tests.biometry.abis_support import cbeff_of, drain, inline, message
from tests.conftest import Factory

URL = "/api/v1/abis/requests"


def _counts(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    with session_factory() as session:
        return (session.scalar(select(func.count()).select_from(AbisReference)) or 0,
                session.scalar(select(func.count()).select_from(AbisRequest).where(
                    AbisRequest.state == "done")) or 0)


def test_a_dead_workers_job_is_rerun_once(api_as: Callable[[User], TestClient],
                                          factory: Factory, settings: Settings,
                                          session_factory: sessionmaker[Session]) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    body = message("insert", referenceId="durable", lakanaCbeff=inline(cbeff_of(800)))
    assert client.post(URL, json=body).status_code == 202
    # Given worker A claimed the job and died without a word (its lease runs out)
    start = dt.datetime.now(dt.UTC)
    lost = jobs.claim(session_factory, worker_id="A", now=start)
    assert lost is not None
    assert jobs.claim(session_factory, worker_id="B", now=start) is None
    # When worker B looks after the lease expired
    later = start + jobs.DEFAULT_LEASE + dt.timedelta(seconds=1)
    again = jobs.claim(session_factory, worker_id="B", now=later)
    assert again is not None and again.id == lost.id and again.attempts == 2
    assert jobs.execute(again, settings=settings, session_factory=session_factory) \
        is JobStatus.SUCCEEDED
    # Then there is one reference and one response; A coming back late records nothing
    assert _counts(session_factory) == (1, 1)
    jobs.execute(lost, settings=settings, session_factory=session_factory)
    assert _counts(session_factory) == (1, 1)
    answer = client.get(f"/api/v1/abis/responses/{body['requestId']}").json()
    assert answer["returnValue"] == "1"
    # And a run repeated after the commit (died before marking the job) changes nothing
    with session_factory() as session:
        row = session.scalar(select(AbisRequest))
        assert row is not None
        pk, response = row.id, row.response_json
    service.process(session_factory=session_factory, settings=settings,
                    actor=system_actor("tests"), store=runtime.keystore(settings),
                    engine=runtime.engine(), request_pk=pk, last_attempt=False)
    with session_factory() as session:
        assert session.get(AbisRequest, pk).response_json == response  # type: ignore[union-attr]
    assert _counts(session_factory) == (1, 1)


def test_a_crash_mid_job_is_retried_and_the_last_attempt_answers(
        api_as: Callable[[User], TestClient], factory: Factory, settings: Settings,
        session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    body = message("insert", referenceId="flaky", lakanaCbeff=inline(cbeff_of(900)))
    client.post(URL, json=body)
    real = service._insert
    calls = {"n": 0}

    def crash_once(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            real(*args)  # written, then the process "crashes" before its commit
            raise RuntimeError("worker crashed")
        real(*args)

    monkeypatch.setattr(service, "_insert", crash_once)
    # When the first attempt crashes, the job is failed for a retry, nothing is kept
    assert jobs.run_next(settings, session_factory, worker_id="w") is JobStatus.FAILED
    assert _counts(session_factory) == (0, 0)
    # and the retry (due later) succeeds once
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert jobs.run_next(settings, session_factory, worker_id="w", now=later) \
        is JobStatus.SUCCEEDED
    assert _counts(session_factory) == (1, 1)

    # A request that fails on every attempt ends with failure reason 3, not in limbo
    def always(*args: Any) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(service, "_insert", always)
    doomed = message("insert", referenceId="doomed", lakanaCbeff=inline(cbeff_of(1000)))
    client.post(URL, json=doomed)
    for attempt in range(5):
        jobs.run_next(settings, session_factory, worker_id="w",
                      now=later + dt.timedelta(days=attempt + 1))
    answer = client.get(f"/api/v1/abis/responses/{doomed['requestId']}").json()
    assert answer["returnValue"] == "2" and answer["failureReason"] == "3"
    with session_factory() as session:
        assert set(session.scalars(select(Job.status))) == {"succeeded"}


# --- referenceURL ---------------------------------------------------------------------

class _Share(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    cookies: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        self.cookies.append(self.headers.get("Cookie", ""))
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def share() -> Iterator[str]:
    """A data share server on 127.0.0.1; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Share)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _Share.routes.clear()
    _Share.cookies.clear()


def _encrypt_share(document: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """MOSIP 1.2's encrypted data share, as its data share service builds it."""
    aes_key = os.urandom(32)
    wrapped = key.public_key().encrypt(aes_key, padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    aad = os.urandom(32)
    sealed = AESGCM(aes_key).encrypt(aad[:12], document, aad)
    raw = b"VER_R2" + os.urandom(32) + wrapped + fetch.KEY_SPLITTER + aad + sealed
    return base64.urlsafe_b64encode(raw)


def test_reference_url_fetch(share: str, settings: Settings, tmp_path: Path,
                             api_as: Callable[[User], TestClient], factory: Factory,
                             session_factory: sessionmaker[Session]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "partner.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    document = cbeff_of(1100)
    _Share.routes.update({
        "/share/plain": document,
        "/share/b64": base64.b64encode(document),
        "/share/enc": _encrypt_share(document, key),
        "/share/expired": b'{"errors":[{"errorCode":"DAT-SER-006","message":"Data share '
                          b'usage expired"}]}',
        "/share/big": b"<" + b"x" * 5000,
        "/other/plain": document})
    configured = settings.model_copy(update={
        "biometry_abis_url_prefixes": [f"{share}/share/"], "biometry_abis_fetch_max_bytes": 4096,
        "biometry_abis_partner_key": key_file, "biometry_abis_datashare_token": "jwt"})
    # The fetch itself: plain, base64 and encrypted shares give the XML; errors map to codes
    for path in ("plain", "b64"):
        assert fetch.fetch_reference(f"{share}/share/{path}", settings=configured) == document
    big = configured.model_copy(update={"biometry_abis_fetch_max_bytes": 1 << 20})
    assert fetch.fetch_reference(f"{share}/share/enc", settings=big) == document
    assert _Share.cookies[-1] == "Authorization=jwt"
    expectations = {"expired": FailureReason.DATASHARE_EXPIRED,
                    "big": FailureReason.UNABLE_TO_FETCH,
                    "missing": FailureReason.UNABLE_TO_FETCH,
                    "../other/plain": FailureReason.UNABLE_TO_FETCH}
    for path, reason in expectations.items():
        with pytest.raises(AbisFailure) as caught:
            fetch.fetch_reference(f"{share}/share/{path}", settings=configured)
        assert caught.value.reason is reason, path
    with pytest.raises(AbisFailure):
        fetch.fetch_reference(f"{share}/other/plain", settings=configured)
    # A prefix without its final slash is not fooled by a user part
    assert not fetch.url_allowed("https://mosip.example@evil.example/x",
                                 ["https://mosip.example"])
    assert fetch.url_allowed("https://mosip.example/share/x", ["https://mosip.example/"])
    # A prefix without a final slash would let a longer host name through: it is ignored
    assert not fetch.url_allowed("https://mosip.example.evil.test/x", ["https://mosip.example"])
    assert not fetch.url_allowed("https://mosip.example/x", ["https://mosip.example"])
    assert not fetch.url_allowed("https://mosip.example:8443/share/x",
                                 ["https://mosip.example/share/"])
    with pytest.raises(AbisFailure):  # nothing is fetched without configured prefixes
        fetch.fetch_reference(f"{share}/share/plain", settings=settings)
    # Through the API and the job, with the application's settings allowing the share
    app_settings = settings.model_copy(update={"biometry_abis_url_prefixes": [f"{share}/share/"]})
    client = api_as(factory.user(Role.REGISTRY_ADMIN))
    client.app.state.settings = app_settings  # type: ignore[attr-defined]
    body = message("insert", referenceId="from-url", referenceURL=f"{share}/share/plain")
    client.post(URL, json=body)
    drain(app_settings, session_factory)
    assert client.get(f"/api/v1/abis/responses/{body['requestId']}").json()["returnValue"] \
        == "1"
