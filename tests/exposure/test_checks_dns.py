"""The domain and mail check against a real DNS server, SMTP servers and an HTTP server
on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakana.monitoring.exposure.checks.base import CheckContext, CheckReport, Target, TargetKind
from lakana.monitoring.exposure.checks.dns_mail import DnsMailCheck
from lakana.monitoring.exposure.scope import AllowList
from tests.exposure.dns_server import DnsServer, free_port, smtp_server
from tests.exposure.tls_servers import Pki, TcpServer, server_context

NEXT_YEAR = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")


class SecurityTxtServer(TcpServer):
    """Serves ``body`` at /.well-known/security.txt (404 elsewhere, or everywhere if None)."""

    def __init__(self, body: str | None) -> None:
        super().__init__()
        self.body = body

    def handle(self, conn: socket.socket) -> None:
        """Answer one request."""
        request = conn.recv(4096)
        if self.body is not None and request.startswith(b"GET /.well-known/security.txt "):
            status, body = "200 OK", self.body.encode()
        else:
            status, body = "404 Not Found", b"not found"
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: "
                     f"{len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    """The authoritative server for strong.test and weak.test."""
    server = DnsServer().start()
    yield server.port
    server.stop()


def _run(domain: str, dns_port: int, smtp: int, http: int,
         kind: TargetKind = TargetKind.DOMAIN) -> CheckReport:
    target = (Target(kind, domain, domain) if kind is TargetKind.DOMAIN else
              Target(kind, f"http://{domain}:{http}/", domain, http, "http"))
    context = CheckContext(guard=AllowList.for_targets([target], allow_private=True),
                           timeout=6, nameservers=(("127.0.0.1", dns_port),),
                           ports={"smtp": smtp, "http": http, "https": free_port()})
    return asyncio.run(DnsMailCheck().run(target, context))


@pytest.fixture(scope="module")
def strong(dns_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CheckReport]:
    """strong.test, its STARTTLS mail server and a valid security.txt."""
    files = Pki(Path(tmp_path_factory.mktemp("pki"))).issue("mail", names=("mail.strong.test",))
    smtp = smtp_server(server_context(files))
    http = SecurityTxtServer(f"Contact: mailto:csirt@strong.test\nExpires: {NEXT_YEAR}\n").start()
    try:
        yield _run("strong.test", dns_port, smtp.port, http.port)
    finally:
        smtp.stop()
        http.stop()


@pytest.fixture(scope="module")
def weak(dns_port: int) -> Iterator[CheckReport]:
    """weak.test, a mail server without STARTTLS and no security.txt."""
    smtp = smtp_server(None)
    http = SecurityTxtServer(None).start()
    try:
        yield _run("weak.test", dns_port, smtp.port, http.port)
    finally:
        smtp.stop()
        http.stop()


def _ids(report: CheckReport) -> set[str]:
    return {o.issue_id for o in report.observations}


def test_strong_domain_has_no_issue(strong: CheckReport) -> None:
    # Given a signed zone with SPF -all, DMARC reject, CAA, STARTTLS and security.txt
    # Then nothing is reported
    assert strong.error is None
    assert _ids(strong) == set()
    assert strong.facts["dnssec"] == {"ds": True, "dnskey": True, "valid": True}
    assert strong.facts["dmarc"]["policy"] == "reject"
    assert strong.facts["spf"] == ["v=spf1 mx -all"]


def test_strong_mx_starttls_and_out_of_scope_mx(strong: CheckReport) -> None:
    # Then the in-scope MX negotiated TLS and the foreign MX was never contacted
    assert strong.facts["mx"] == {"mail.strong.test": "starttls ok",
                                  "mx.elsewhere.example": "not checked: out of scope"}


def test_weak_domain_issues(weak: CheckReport) -> None:
    # Given no DNSSEC, SPF +all, DMARC p=none, no CAA, no STARTTLS, no security.txt
    # Then each is reported
    assert weak.error is None
    assert _ids(weak) == {"dns.dnssec.missing", "dns.spf.permissive", "dns.dmarc.none",
                          "dns.caa.missing", "dns.mx.starttls_missing",
                          "dns.securitytxt.missing"}
    starttls = next(o for o in weak.observations if o.issue_id == "dns.mx.starttls_missing")
    assert starttls.subject == "mail.weak.test"


def test_missing_records_and_expired_security_txt(dns_port: int) -> None:
    # Given a name with no records at all and an expired security.txt without Contact
    http = SecurityTxtServer("Expires: 2020-01-01T00:00:00Z\n").start()
    try:
        report = _run("nothing.weak.test", dns_port, free_port(), http.port)
    finally:
        http.stop()
    # Then SPF, DMARC and CAA are missing, and security.txt is invalid
    assert {"dns.spf.missing", "dns.dmarc.missing", "dns.caa.missing",
            "dns.securitytxt.invalid"} <= _ids(report)
    assert set(report.facts["security_txt"]["problems"]) == {"no contact", "expired"}


def test_url_target_checks_security_txt_only(dns_port: int) -> None:
    # Given a URL on weak.test, Then only security.txt is examined
    http = SecurityTxtServer(None).start()
    try:
        report = _run("weak.test", dns_port, free_port(), http.port, kind=TargetKind.URL)
    finally:
        http.stop()
    assert _ids(report) == {"dns.securitytxt.missing"}


def test_unanswering_nameserver_is_an_error() -> None:
    # Given a nameserver port where nobody answers, Then the check reports an error
    report = _run("weak.test", free_port(), free_port(), free_port())
    assert report.error is not None and report.error.startswith("DNS")
