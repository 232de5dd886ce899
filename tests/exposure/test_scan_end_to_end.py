"""End to end: endpoints registered in the registry, a scan requested through the service,
the ``exposure.scan`` job run by the real job machinery with the real built-in checks against
loopback servers (weak and strong HTTPS sites, a DNS zone, hostile servers), then the stored
results, findings, CSIRT cases, a second scan after a fix, the scope guard, the daily
schedule and the CLI.

Servers live for the module (one per loopback address, see ``e2e_fixtures``); each test has
its own database. ``exposure_timeout`` is short, so a hostile target costs at most its
deadline (``timeout × TARGET_DEADLINE_FACTOR``). The ``ports`` check tries the standard ports
on each address: assertions name only what these servers produce, so a service listening on
all interfaces of this machine changes nothing here.
"""

from __future__ import annotations

import datetime as dt
import errno
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.core.config import Settings
from lakana.core.jobs import service as jobs
from lakana.core.jobs.models import Job, JobStatus
from lakana.csirt.models import Case
from lakana.monitoring.exposure import service, tasks
from lakana.monitoring.exposure.cli import app as exposure_cli
from lakana.monitoring.exposure.models import (
    ExposureFinding,
    ExposureScan,
    ExposureScore,
    ScanResult,
)
from lakana.monitoring.exposure.runner import TARGET_DEADLINE_FACTOR
from lakana.monitoring.exposure.schemas import ScanRequest
from tests.conftest import Factory
from tests.exposure.dns_server import DnsServer
from tests.exposure.e2e_fixtures import (
    Site,
    TcpServer,
    add_zone,
    redirect_to,
    register_system,
)
from tests.exposure.servers import fake_redis, garbage, redirect_loop, silent, trickle
from tests.exposure.tls_servers import Pki, server_context

TIMEOUT = 1.5
DEADLINE = TIMEOUT * TARGET_DEADLINE_FACTOR
#: A hostile target ends at its deadline, plus the second the runner gives cancellations.
WORST_TARGET_MS = (DEADLINE + 2.5) * 1000
DOMAIN = "e2e-ministere.test"
REDIS_PORT = 6379
ADDRESSES = {"weak": "127.0.0.21", "strong": "127.0.0.22", "trickle": "127.0.0.23",
             "silent": "127.0.0.24", "garbage": "127.0.0.25", "loop": "127.0.0.26",
             "leaky": "127.0.0.27", "domain": "127.0.0.28", "redis": "127.0.0.29",
             # Never registered: the scope test's redirect points here.
             "outsider": "127.0.0.2"}
WEAK_SITE_ISSUES = {"paths.git", "http.hsts.missing", "http.csp.missing", "http.xcto.missing",
                    "http.framing.missing", "http.disclosure.version", "tls.protocol.tls1_0",
                    "tls.protocol.tls1_1", "tls.cert.self_signed"}
#: What switching the weak site to strong headers, no .git and TLS 1.2+ repairs.
REPAIRED = WEAK_SITE_ISSUES - {"tls.cert.self_signed"}


@dataclass
class Servers:
    """Everything the scans reach, started once for the module."""

    pki: Pki
    weak: Site
    strong: Site
    trickle: TcpServer
    silent: TcpServer
    garbage: TcpServer
    loop: TcpServer
    leaky: TcpServer
    outsider: TcpServer
    dns: DnsServer
    #: None when another program holds port 6379 on that address.
    redis: TcpServer | None
    weak_files: object = None

    def reset(self) -> None:
        """The weak site weak again, the strong one strong, counters at zero."""
        self.weak.make_weak(self.weak_tls)
        self.strong.make_strong(self.strong_tls)
        for server in (self.trickle, self.silent, self.garbage, self.loop, self.leaky,
                       self.outsider):
            server.accepted = 0

    @property
    def weak_tls(self) -> object:
        return self._weak_tls

    _weak_tls: object = None
    strong_tls: object = None
    fixed_tls: object = None


def _redis() -> TcpServer | None:
    try:
        return TcpServer(ADDRESSES["redis"], fake_redis(), REDIS_PORT).start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return None
        raise


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Start every server of the module (stopped at its end)."""
    pki = Pki(Path(tmp_path_factory.mktemp("e2e-pki")))
    weak_cert = pki.issue("weak", names=(ADDRESSES["weak"],), self_signed=True)
    strong_cert = pki.issue("strong", names=(ADDRESSES["strong"],))
    dns = DnsServer()
    # SPF that allows anyone, no DMARC, no CAA, no DNSSEC; the name points at an address
    # where nothing listens on the web ports.
    add_zone(dns, f"{DOMAIN}.", f'@ 300 IN A {ADDRESSES["domain"]}\n'
                                f'@ 300 IN TXT "v=spf1 +all"\n')
    outsider = TcpServer(ADDRESSES["outsider"], silent).start()
    found = Servers(
        pki=pki,
        weak=Site(ADDRESSES["weak"]), strong=Site(ADDRESSES["strong"]),
        trickle=TcpServer(ADDRESSES["trickle"], trickle).start(),
        silent=TcpServer(ADDRESSES["silent"], silent).start(),
        garbage=TcpServer(ADDRESSES["garbage"], garbage).start(),
        loop=TcpServer(ADDRESSES["loop"], redirect_loop).start(),
        leaky=TcpServer(ADDRESSES["leaky"], redirect_to(outsider.url() + "admin")).start(),
        outsider=outsider, dns=dns.start(), redis=_redis())
    found._weak_tls = server_context(weak_cert, weak=True)
    found.strong_tls = server_context(strong_cert)
    # The "fixed" weak site: same self-signed certificate, TLS 1.2+ with modern suites.
    found.fixed_tls = server_context(weak_cert)
    found.reset()
    found.weak.start()
    found.strong.start()
    yield found
    for server in (found.weak, found.strong, found.trickle, found.silent, found.garbage,
                   found.loop, found.leaky, found.outsider, found.dns, found.redis):
        if server is not None:
            server.stop()
