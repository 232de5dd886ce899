"""Helpers of the exposure service tests: loopback servers, fake checks, registry data.

* :class:`IssueServer` — a loopback HTTP server whose answer lists the issues the fake check
  reports (``server.issues = {"fake.crit": "subject"}``), counting connections.
* :class:`HangServer` — accepts connections and never answers.
* Fake checks: ``fake`` (reads the server's ``X-Issues``), ``boom`` (raises), ``hang`` (waits
  for an answer that never comes, no timeout of its own), ``stray`` (tries another host).
* ``exposure_world`` fixture — institutions A (with a child body) and B, each with a system
  whose URL endpoint points at its own :class:`IssueServer`; fake checks installed.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.monitoring.exposure import findings, permissions
from lakana.monitoring.exposure import models as _models  # noqa: F401  (tables)
from lakana.monitoring.exposure.checks.base import (
    Check,
    CheckContext,
    CheckReport,
    Issue,
    Observation,
    Severity,
    Target,
    TargetKind,
    catalogue,
)
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.conftest import Factory

permissions.register()
ADMIN = system_actor("tests")


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.connections += 1
        if self.server.hang:
            self.server.release.wait(30)
            return
        self.request.recv(4096)
        issues = ",".join(f"{k}={v}" for k, v in self.server.issues.items())
        body = b"ok"
        self.request.sendall(b"HTTP/1.1 200 OK\r\nX-Issues: " + issues.encode() +
                             b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n" + body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hang: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang = hang
        self.issues: dict[str, str] = {}
        self.connections = 0
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def start_server(hang: bool = False) -> _Server:
    """A loopback server in a background thread (stop it with ``stop_server``)."""
    server = _Server(hang)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_server(server: _Server) -> None:
    """Stop a server started by :func:`start_server`."""
    server.release.set()
    server.shutdown()
    server.server_close()


async def _exchange(host: str, port: int, context: CheckContext,
                    timeout: float | None) -> bytes:
    context.guard.allow(host, port)
    context.guard.allow_address(host, host, port)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        read = reader.read(65536)
        return await (asyncio.wait_for(read, timeout) if timeout else read)
    finally:
        writer.close()


class FakeCheck(Check):
    """Reports the issues the server lists in ``X-Issues: id=subject,...``."""

    id = "fake"
    title = "Fake check"
    applies_to = frozenset({TargetKind.URL})
    issues: ClassVar[dict[str, Issue]] = catalogue(
        Issue("fake.crit", "Critical thing on %(name)s", Severity.CRITICAL, "Bad.", "Fix it.",
              ("net-1",)),
        Issue("fake.med", "Medium thing", Severity.MEDIUM, "Meh.", "Tune it.", ("gov-1",)),
        Issue("fake.low", "Low thing", Severity.LOW, "Minor.", "Maybe.", ()),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Ask the server which issues to report."""
        assert target.port is not None
        try:
            raw = await _exchange(target.host, target.port, context, context.timeout)
        except (OSError, TimeoutError) as exc:
            return CheckReport(self.id, error=f"unreachable: {exc}")
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        listed = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                       if line.lower().startswith("x-issues:")), "")
        observations = tuple(
            Observation(issue_id=item.split("=")[0], subject=item.split("=", 1)[1],
                        evidence={"header": listed}, params={"name": target.host})
            for item in listed.split(",") if item)
        return CheckReport(self.id, observations=observations, facts={"score": 50,
                                                                      "grade": "C"})


class BoomCheck(Check):
    """A buggy plugin: always raises."""

    id = "boom"
    title = "Boom"
    applies_to = frozenset({TargetKind.URL})
    issues: ClassVar[dict[str, Issue]] = {}

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Raise."""
        raise RuntimeError("plugin bug")


class HangCheck(Check):
    """Waits for an answer without any timeout of its own."""

    id = "hang"
    title = "Hang"
    applies_to = frozenset({TargetKind.URL})
    issues: ClassVar[dict[str, Issue]] = {}

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Read forever."""
        assert target.port is not None
        await _exchange(target.host, target.port, context, None)
        return CheckReport(self.id)


class StrayCheck(Check):
    """Tries to reach a host that is not a registered endpoint (127.0.0.2)."""

    id = "stray"
    title = "Stray"
    applies_to = frozenset({TargetKind.URL})
    issues: ClassVar[dict[str, Issue]] = {}
    port: ClassVar[int] = 9

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Connect elsewhere (the guard refuses: OutOfScope propagates to the runner)."""
        await _exchange("127.0.0.2", self.port, context, 1.0)
        return CheckReport(self.id)


ALL_FAKES: dict[str, type[Check]] = {c.id: c for c in (FakeCheck, BoomCheck, HangCheck,
                                                         StrayCheck)}


@dataclass
class ExposureWorld:
    """Institutions A (with a child body) and B, one system each with a loopback URL."""

    a: int
    a_child: int
    b: int
    a_system: int
    b_system: int
    a_server: Any
    b_server: Any
    settings: Settings


def make_system(session_factory: sessionmaker[Session], institution_id: int, name: str,
                urls: list[str]) -> int:
    """A committed system with URL endpoints."""
    with session_factory.begin() as session:
        return registry_service.create_system(session=session, actor=ADMIN, data=SystemCreate(
            institution_id=institution_id, name=name, criticality="high",
            data_classification="restricted", hosting="own_premises",
            endpoints=[{"kind": "url", "value": u} for u in urls])).id


@pytest.fixture
def scan_settings(settings: Settings) -> Settings:
    """Settings letting scans reach loopback, with short timeouts."""
    return settings.model_copy(update={"exposure_allow_private": True, "exposure_timeout": 0.5,
                                       "exposure_concurrency": 8})


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Check]]:
    """Only the fake check is "built in" (issue lookups, requests, runs)."""
    installed: dict[str, type[Check]] = {"fake": FakeCheck}
    monkeypatch.setattr(findings, "available_checks", lambda: dict(installed))
    return installed


@pytest.fixture
def exposure_world(factory: Factory, session_factory: sessionmaker[Session],
                   scan_settings: Settings, fake_checks: dict[str, type[Check]]
                   ) -> Iterator[ExposureWorld]:
    """Two institutions with one loopback endpoint each (servers stopped afterwards)."""
    a = factory.institution("EXPA")
    a_child = factory.institution("EXPA-DIR", parent_id=a, kind="directorate")
    b = factory.institution("EXPB")
    a_server, b_server = start_server(), start_server()
    world = ExposureWorld(
        a=a, a_child=a_child, b=b,
        a_system=make_system(session_factory, a, "Portail A", [a_server.url]),
        b_system=make_system(session_factory, b, "Portail B", [b_server.url]),
        a_server=a_server, b_server=b_server, settings=scan_settings)
    yield world
    stop_server(a_server)
    stop_server(b_server)


def free_port() -> int:
    """A loopback port nobody listens on (closed right after being found)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scan_now(world: ExposureWorld, session_factory: sessionmaker[Session], *,
             institution_id: int | None = None, system_id: int | None = None,
             checks: dict[str, type[Check]] | None = None) -> int:
    """Request a scan as the centre (committed) and run it here; returns its id."""
    from lakana.monitoring.exposure import service
    from lakana.monitoring.exposure.schemas import ScanRequest

    with session_factory.begin() as session:
        scan_id = service.request_scan(session=session, actor=system_actor("tests"),
                                       data=ScanRequest(institution_id=institution_id,
                                                        system_id=system_id),
                                       trigger="api").id
    service.run_scan(settings=world.settings, session_factory=session_factory,
                     scan_id=scan_id, checks=checks or {"fake": FakeCheck})
    return scan_id
