"""The software check against real HTTP, SSH-like and FTP-like servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.monitoring.exposure import feeds
from lakana.monitoring.exposure.checks.base import (
    CheckContext,
    CheckReport,
    Severity,
    Target,
    TargetKind,
    VulnerabilityIndex,
)
from lakana.monitoring.exposure.checks.software import SoftwareCheck, parse_banner, parse_header
from lakana.monitoring.exposure.permissions import ExposurePermission
from lakana.monitoring.exposure.scope import AllowList
from tests.exposure.tls_servers import TcpServer

DATA = Path(__file__).parent / "data"


class HttpServer(TcpServer):
    """Answers every request with the given headers."""

    def __init__(self, headers: str) -> None:
        super().__init__()
        self.headers = headers

    def handle(self, conn: socket.socket) -> None:
        """Read the request head, answer 200 with the headers."""
        conn.recv(4096)
        conn.sendall(f"HTTP/1.1 200 OK\r\n{self.headers}Content-Length: 2\r\n"
                     "Connection: close\r\n\r\nok".encode())


class BannerServer(TcpServer):
    """Speaks first, like SSH and FTP."""

    def __init__(self, banner: bytes) -> None:
        super().__init__()
        self.banner = banner

    def handle(self, conn: socket.socket) -> None:
        """Send the banner and wait for the client to leave."""
        conn.sendall(self.banner)
        conn.recv(1024)


@pytest.fixture
def index(db: Session) -> VulnerabilityIndex:
    """Both sample feeds imported."""
    actor = Actor(user_id=None, name="analyst", role=None,
                  permissions=frozenset({ExposurePermission.FEEDS_MANAGE}))
    for source, name in (("kev", "kev_sample.json"), ("nvd", "nvd_sample.json")):
        feeds.import_feed(session=db, actor=actor, source=source,
                          data=(DATA / name).read_bytes(), filename=name)
    return feeds.load_index(db)


def _servers(server_header: str, ssh: bytes, ftp: bytes) -> Iterator[tuple[int, int, int]]:
    servers = [HttpServer(server_header).start(), BannerServer(ssh).start(),
               BannerServer(ftp).start()]
    try:
        yield servers[0].port, servers[1].port, servers[2].port
    finally:
        for server in servers:
            server.stop()


def _run(ports: tuple[int, int, int], index: VulnerabilityIndex | None) -> CheckReport:
    http, ssh, ftp = ports
    target = Target(TargetKind.URL, f"http://127.0.0.1:{http}/", "127.0.0.1", http, "http")
    context = CheckContext(guard=AllowList.for_targets([target], allow_private=True),
                           timeout=2, ports={"ssh": ssh, "ftp": ftp}, vulnerabilities=index)
    return asyncio.run(SoftwareCheck().run(target, context))


@pytest.fixture
def old_stack() -> Iterator[tuple[int, int, int]]:
    """nginx 1.18.0 with PHP 7.4.3, OpenSSH 7.4p1, vsftpd 3.0.3."""
    yield from _servers("Server: nginx/1.18.0 (Ubuntu)\r\nX-Powered-By: PHP/7.4.3\r\n",
                        b"SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7\r\n", b"220 (vsFTPd 3.0.3)\r\n")


@pytest.fixture
def current_stack() -> Iterator[tuple[int, int, int]]:
    """nginx 1.26.1, OpenSSH 9.7p1, no version on FTP."""
    yield from _servers("Server: nginx/1.26.1\r\n", b"SSH-2.0-OpenSSH_9.7p1\r\n",
                        b"220 Welcome\r\n")


def test_old_versions_match_the_feeds(old_stack: tuple[int, int, int],
                                      index: VulnerabilityIndex) -> None:
    # Given an old nginx and OpenSSH, When checked with both feeds
    report = _run(old_stack, index)
    assert report.error is None
    by_subject = {o.subject: o for o in report.observations}
    # Then the NVD CVE of nginx is medium (CVSS 7.7), OpenSSH's 9.8 one is high
    nginx = by_subject["nginx 1.18.0 CVE-2021-23017"]
    assert nginx.issue_id == "software.cve" and nginx.severity is Severity.MEDIUM
    ssh = by_subject["openssh 7.4p1 CVE-2023-38408"]
    assert ssh.severity is Severity.HIGH and ssh.params["version"] == "7.4p1"
    # And the KEV-only OpenSSH entry is a known exploited (critical) finding
    assert by_subject["openssh 7.4p1 CVE-2099-0001"].issue_id == "software.kev"
    # And the software seen, with PHP 7.4 past its end of life, is in the facts
    products = {(d["product"], d["version"]) for d in report.facts["software"]}
    assert products == {("nginx", "1.18.0"), ("php", "7.4.3"), ("openssh", "7.4p1"),
                        ("vsftpd", "3.0.3")}
    assert report.facts["end_of_life"] == ["php 7.4.3"]


def test_current_versions_have_no_findings(current_stack: tuple[int, int, int],
                                           index: VulnerabilityIndex) -> None:
    # Given current nginx and OpenSSH (apart from the KEV-only all-versions fixture entry)
    report = _run(current_stack, index)
    # Then only the KEV-only entry matches OpenSSH, nothing for nginx
    assert {o.subject for o in report.observations} == {"openssh 9.7p1 CVE-2099-0001"}
    assert "end_of_life" not in report.facts


def test_without_feeds_versions_are_facts(old_stack: tuple[int, int, int]) -> None:
    # Given no feed loaded, Then versions are listed but nothing is matched
    report = _run(old_stack, None)
    assert report.observations == () and report.facts["feeds"] == "not loaded"


def test_unreachable_url_is_an_error() -> None:
    # Given nothing listening, When checked, Then the report carries an error
    server = TcpServer()
    port = server.port
    server.stop()
    report = _run((port, port, port), None)
    assert report.error is not None


@pytest.mark.parametrize(("value", "expected"), [
    ("Apache/2.4.49 (Unix) OpenSSL/1.1.1k PHP/7.4.3",
     [("apache_httpd", "2.4.49"), ("openssl", "1.1.1k"), ("php", "7.4.3")]),
    ("Microsoft-IIS/8.5", [("iis", "8.5")]),
    ("nginx", []),
    ("cloudflare", []),
])
def test_parse_header(value: str, expected: list[tuple[str, str]]) -> None:
    # Given a Server header, Then the products and versions are recognised
    assert [(d["product"], d["version"]) for d in parse_header(value, "server")] == expected


def test_parse_banner() -> None:
    # Given FTP and SSH banners, Then they are recognised; unknown ones are not
    assert parse_banner(b"220 ProFTPD 1.3.5 Server (Debian)")["version"] == "1.3.5"  # type: ignore[index]
    assert parse_banner(b"SSH-2.0-dropbear_2020.81") is None
