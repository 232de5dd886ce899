"""The TLS check (sslyze) against real TLS servers on 127.0.0.1.

Each server is scanned once per module (sslyze takes about a second per scan); the tests
read the reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakana.monitoring.exposure.checks.base import CheckContext, CheckReport, Target, TargetKind
from lakana.monitoring.exposure.checks.tls import TlsCheck
from lakana.monitoring.exposure.scope import AllowList
from tests.exposure.tls_servers import GarbageServer, Pki, TcpServer, TlsServer, server_context


def _target(port: int) -> Target:
    return Target(TargetKind.URL, f"https://127.0.0.1:{port}/", "127.0.0.1", port, "https")


def _scan(check: TlsCheck, target: Target) -> CheckReport:
    guard = AllowList.for_targets([target], allow_private=True)
    return asyncio.run(check.run(target, CheckContext(guard=guard, timeout=3)))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA the check is told to trust."""
    return Pki(tmp_path_factory.mktemp("pki"))


def _serve_and_scan(server: TcpServer, check: TlsCheck) -> Iterator[CheckReport]:
    server.start()
    try:
        yield _scan(check, _target(server.port))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def strong(pki: Pki) -> Iterator[CheckReport]:
    """A CA-signed EC certificate for 127.0.0.1, TLS 1.2 and 1.3, default suites."""
    files = pki.issue("strong")
    yield from _serve_and_scan(TlsServer(server_context(files)),
                               TlsCheck(custom_ca_file=pki.ca_file))


@pytest.fixture(scope="module")
def weak(pki: Pki) -> Iterator[CheckReport]:
    """Self-signed, expired, RSA 1024, issued for another name; TLS 1.0 on; NULL and
    RSA key exchange only (no forward secrecy)."""
    files = pki.issue("weak", names=("other.test",), days=-5, rsa_bits=1024, self_signed=True)
    context = server_context(files, weak=True, ciphers="AES128-SHA:NULL-SHA")
    yield from _serve_and_scan(TlsServer(context), TlsCheck(custom_ca_file=pki.ca_file))


@pytest.fixture(scope="module")
def unknown_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CheckReport]:
    """Signed by a CA nobody trusts, expiring in ten days."""
    other = Pki(tmp_path_factory.mktemp("other"), name="Unknown CA")
    files = other.issue("soon", days=10)
    yield from _serve_and_scan(TlsServer(server_context(files)), TlsCheck())


def _ids(report: CheckReport) -> set[str]:
    return {o.issue_id for o in report.observations}


def test_strong_server_has_no_issue_and_modern_facts(strong: CheckReport) -> None:
    # Given a well-configured server, When scanned, Then nothing is reported
    assert strong.error is None
    assert _ids(strong) == set()
    # And the facts say TLS 1.2/1.3 only, forward secrecy, a trusted certificate
    assert strong.facts["protocols"]["TLSv1.3"] is True
    assert strong.facts["protocols"]["TLSv1.0"] is False
    assert strong.facts["forward_secrecy"] in {"all", "partial"}
    assert strong.facts["certificate"]["trusted"] is True
    assert strong.facts["mozilla"]["intermediate"] is True


def test_weak_server_old_protocols(weak: CheckReport) -> None:
    # Given TLS 1.0 and 1.1 enabled, Then both are reported as high
    assert weak.error is None
    assert {"tls.protocol.tls1_0", "tls.protocol.tls1_1"} <= _ids(weak)
    assert weak.facts["protocols"]["TLSv1.0"] is True


def test_weak_server_ciphers_and_forward_secrecy(weak: CheckReport) -> None:
    # Given NULL encryption and RSA key exchange only, Then weak suites and no forward secrecy
    assert {"tls.cipher.weak", "tls.forward_secrecy.missing"} <= _ids(weak)
    weak_obs = next(o for o in weak.observations if o.issue_id == "tls.cipher.weak")
    assert any("_NULL_" in s for s in weak_obs.evidence["cipher_suites"])
    assert weak.facts["forward_secrecy"] == "none"


def test_weak_server_certificate(weak: CheckReport) -> None:
    # Given an expired self-signed RSA 1024 certificate for other.test
    ids = _ids(weak)
    # Then expiry, self-signature, name mismatch and key size are all reported
    assert {"tls.cert.expired", "tls.cert.self_signed", "tls.cert.hostname_mismatch",
            "tls.cert.weak_key"} <= ids
    assert "tls.cert.untrusted" not in ids
    key = next(o for o in weak.observations if o.issue_id == "tls.cert.weak_key")
    assert key.params == {"key": "RSA 1024"}


def test_weak_server_fails_mozilla_profiles(weak: CheckReport) -> None:
    # Then the Mozilla comparison is negative and its differences are the evidence
    assert weak.facts["mozilla"]["modern"] is False
    assert weak.facts["mozilla"]["intermediate"] is False
    assert "tls.profile.intermediate" in _ids(weak)
    assert "tls_versions" in weak.facts["mozilla"]["issues"]


def test_unknown_ca_and_expiring_soon(unknown_ca: CheckReport) -> None:
    # Given a certificate from an unknown CA expiring in 10 days
    ids = _ids(unknown_ca)
    # Then the chain is untrusted (not self-signed) and the expiry is near
    assert {"tls.cert.untrusted", "tls.cert.expires_soon"} <= ids
    assert "tls.cert.self_signed" not in ids and "tls.cert.expired" not in ids
    soon = next(o for o in unknown_ca.observations if o.issue_id == "tls.cert.expires_soon")
    assert soon.params["days"] in {"9", "10"}


def test_garbage_instead_of_tls_is_an_error() -> None:
    # Given a port that answers with garbage, When scanned, Then the report carries an error
    server = GarbageServer().start()
    try:
        report = _scan(TlsCheck(), _target(server.port))
    finally:
        server.stop()
    assert report.error is not None and report.observations == ()


def test_out_of_scope_host_is_refused_before_any_connection() -> None:
    # Given a guard for another host, When the check runs, Then it reports an error
    target = _target(443)
    guard = AllowList.for_targets([Target(TargetKind.DOMAIN, "x.test", "x.test")],
                                  allow_private=True)
    report = asyncio.run(TlsCheck().run(target, CheckContext(guard=guard)))
    assert report.error is not None and "not a registered endpoint" in report.error


def test_plain_http_url_is_not_applicable(tmp_path: Path) -> None:
    # Given an http:// URL, Then the check does nothing
    target = Target(TargetKind.URL, "http://127.0.0.1/", "127.0.0.1", 80, "http")
    guard = AllowList.for_targets([target], allow_private=True)
    report = asyncio.run(TlsCheck().run(target, CheckContext(guard=guard)))
    assert report.facts == {"applicable": False} and report.error is None


def test_scans_leave_no_thread_behind(pki: Pki) -> None:
    """sslyze's producer thread ends only when its results are read to the end: a check that
    stopped after the first result kept one thread (and the scan's memory) per scan."""
    import threading
    import time

    # Given a TLS server and the number of threads alive before
    server = TlsServer(server_context(pki.issue("threads")))
    server.start()
    try:
        check = TlsCheck(custom_ca_file=pki.ca_file)
        _scan(check, _target(server.port))  # warm-up: pools that live on are not leaks
        before = threading.active_count()
        # When three scans run
        for _ in range(3):
            assert _scan(check, _target(server.port)).error is None
    finally:
        server.stop()
    # Then no thread is left behind (a moment for finished threads to exit)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= before
