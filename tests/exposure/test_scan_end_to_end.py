"""End to end: endpoints registered in the registry, a scan requested through the service,
the ``exposure.scan`` job run by the real job machinery with the real built-in checks against
loopback servers (weak and strong HTTPS sites, a DNS zone, hostile servers), then the stored
results, findings, CSIRT cases, a second scan after a fix, the scope guard, the daily
schedule and the CLI.

Servers live for the module (one loopback address each, see ``e2e_fixtures``); each test
has its own database. ``exposure_timeout`` is short, so a hostile target costs at most its
deadline (``timeout × TARGET_DEADLINE_FACTOR``). The ``ports`` check tries the standard ports
on each address: assertions name only what these servers produce, so a service listening on
all interfaces of this machine changes nothing here.
"""

from __future__ import annotations

import dataclasses
import errno
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from sslyze.scanner.models import ServerScanResult
from sslyze.scanner.scan_command_attempt import (
    ScanCommandAttempt,
    ScanCommandAttemptStatusEnum,
    ScanCommandErrorReasonEnum,
)
from typer.testing import CliRunner

from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.core.config import Settings
from lakana.core.jobs import service as jobs
from lakana.core.jobs.models import Job, JobStatus
from lakana.csirt.models import Case
from lakana.monitoring.exposure import service, tasks
from lakana.monitoring.exposure.checks.tls import TlsCheck
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
from tests.exposure.e2e_fixtures import Site, TcpServer, add_zone, redirect_to, register_system
from tests.exposure.servers import fake_redis, garbage, redirect_loop, silent, trickle
from tests.exposure.tls_servers import Pki, server_context

TIMEOUT = 2.0
DEADLINE = TIMEOUT * TARGET_DEADLINE_FACTOR
#: A hostile target ends at its deadline, plus the second the runner gives cancellations.
WORST_TARGET_MS = (DEADLINE + 2.5) * 1000
DOMAIN = "e2e-ministere.test"
REDIS_PORT = 6379
WEAK, STRONG, TRICKLE, SILENT = "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"
GARBAGE, LOOP, LEAKY, DOMAIN_IP, REDIS = ("127.0.0.25", "127.0.0.26", "127.0.0.27",
                                          "127.0.0.28", "127.0.0.29")
#: Never registered: the scope test's redirect points here.
OUTSIDER = "127.0.0.2"
WEAK_SITE_ISSUES = {"paths.git", "http.hsts.missing", "http.csp.missing", "http.xcto.missing",
                    "http.framing.missing", "http.referrer.missing", "http.disclosure.version",
                    "tls.protocol.tls1_0", "tls.protocol.tls1_1", "tls.cert.self_signed"}
#: What strong headers, no .git and TLS 1.2+ repair (the certificate stays self-signed).
REPAIRED = WEAK_SITE_ISSUES - {"tls.cert.self_signed"}

cli = CliRunner()


@dataclass
class Servers:
    """Everything the scans reach, started once for the module."""

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
    weak_tls: ssl.SSLContext
    strong_tls: ssl.SSLContext
    #: The weak site once fixed: same self-signed certificate, TLS 1.2+ and modern suites.
    fixed_tls: ssl.SSLContext

    def reset(self) -> None:
        """The weak site weak again, the strong one strong, counters at zero."""
        self.weak.make_weak(self.weak_tls)
        self.strong.make_strong(self.strong_tls)
        for server in (self.trickle, self.silent, self.garbage, self.loop, self.leaky,
                       self.outsider):
            server.accepted = 0
        self.weak.paths.clear()


def _redis() -> TcpServer | None:
    try:
        return TcpServer(REDIS, fake_redis(), REDIS_PORT).start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return None
        raise


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Start every server of the module (stopped at its end)."""
    pki = Pki(Path(tmp_path_factory.mktemp("e2e-pki")))
    weak_cert = pki.issue("weak", names=(WEAK,), self_signed=True)
    strong_cert = pki.issue("strong", names=(STRONG,))
    dns = DnsServer()
    # SPF allowing anyone, no DMARC, no CAA, no DNSSEC; the name points at an address where
    # nothing listens on the web ports.
    add_zone(dns, f"{DOMAIN}.", f'@ 300 IN A {DOMAIN_IP}\n@ 300 IN TXT "v=spf1 +all"\n')
    outsider = TcpServer(OUTSIDER, silent).start()
    found = Servers(
        weak=Site(WEAK), strong=Site(STRONG),
        trickle=TcpServer(TRICKLE, trickle).start(),
        silent=TcpServer(SILENT, silent).start(),
        garbage=TcpServer(GARBAGE, garbage).start(),
        loop=TcpServer(LOOP, redirect_loop).start(),
        leaky=TcpServer(LEAKY, redirect_to(outsider.url() + "admin")).start(),
        outsider=outsider, dns=dns.start(), redis=_redis(),
        weak_tls=server_context(weak_cert, weak=True), strong_tls=server_context(strong_cert),
        fixed_tls=server_context(weak_cert))
    found.reset()
    found.weak.start()
    found.strong.start()
    yield found
    for server in (found.weak, found.strong, found.trickle, found.silent, found.garbage,
                   found.loop, found.leaky, found.outsider, found.dns, found.redis):
        if server is not None:
            server.stop()


@pytest.fixture
def net(servers: Servers) -> Servers:
    """The module's servers, back in their initial state for this test."""
    servers.reset()
    return servers


@pytest.fixture
def e2e_settings(settings: Settings, servers: Servers) -> Settings:
    """Loopback allowed, short timeouts, the test DNS server, automatic CSIRT cases on."""
    return settings.model_copy(update={
        "exposure_allow_private": True, "exposure_timeout": TIMEOUT,
        "exposure_nameservers": f"127.0.0.1:{servers.dns.port}", "exposure_auto_case": True})


# --- helpers ----------------------------------------------------------------------------

def _focal_point(factory: Factory, institution_id: int) -> Actor:
    return auth_service.actor_for(factory.user(Role.FOCAL_POINT, institution_id=institution_id))


def _request(session_factory: sessionmaker[Session], actor: Actor, data: ScanRequest) -> int:
    with session_factory.begin() as session:
        return service.request_scan(session=session, actor=actor, data=data, trigger="ui").id


def _work(settings: Settings, session_factory: sessionmaker[Session]) -> float:
    """Run the queued job with the job machinery; returns its duration in seconds."""
    started = time.monotonic()
    assert jobs.run_next(settings, session_factory, worker_id="e2e") is JobStatus.SUCCEEDED
    took = time.monotonic() - started
    assert jobs.run_next(settings, session_factory, worker_id="e2e") is None
    return took


def _scan(session_factory: sessionmaker[Session], scan_id: int) -> ExposureScan:
    with session_factory() as session:
        scan = session.get(ExposureScan, scan_id)
        assert scan is not None
        return scan


def _results(session_factory: sessionmaker[Session], scan_id: int) -> dict[str, ScanResult]:
    with session_factory() as session:
        return {r.target: r for r in session.scalars(
            select(ScanResult).where(ScanResult.scan_id == scan_id))}


def _findings(session_factory: sessionmaker[Session], target: str | None = None
              ) -> list[ExposureFinding]:
    with session_factory() as session:
        stmt = select(ExposureFinding).order_by(ExposureFinding.id)
        if target is not None:
            stmt = stmt.where(ExposureFinding.target == target)
        return list(session.scalars(stmt))


def _issues(found: list[ExposureFinding], status: str | None = None) -> set[str]:
    return {f.issue_id for f in found if status is None or f.status == status}


def _cases(session_factory: sessionmaker[Session]) -> list[Case]:
    with session_factory() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


# --- a scan from request to findings --------------------------------------------------

def test_a_requested_scan_runs_the_real_checks_and_a_fix_is_seen_by_the_next_scan(
        net: Servers, e2e_settings: Settings, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given an institution whose portal system has a weak and a strong HTTPS site, a domain
    # and an IP address, and whose second system lists four hostile servers
    inst = factory.institution("E2E")
    portal = register_system(session_factory, inst, "Portail", [
        ("url", net.weak.url), ("url", net.strong.url), ("domain", DOMAIN), ("ip", REDIS)])
    register_system(session_factory, inst, "Hostile", [
        ("url", net.trickle.url()), ("url", net.silent.url()),
        ("url", net.garbage.url("https")), ("url", net.loop.url())])
    focal = _focal_point(factory, inst)
    weak, strong = f"url:{net.weak.url}", f"url:{net.strong.url}"

    # When the institution's focal point requests a scan and a worker runs the job
    first = _request(session_factory, focal, ScanRequest())
    took = _work(e2e_settings, session_factory)

    # Then the scan is done, every target counted, within about one target deadline
    scan = _scan(session_factory, first)
    assert (scan.status, scan.error, scan.institution_id) == ("done", None, inst)
    assert scan.targets_total == scan.targets_done == 8
    assert took < DEADLINE + 10, took
    results = _results(session_factory, first)
    assert len(results) == 8
    # And the sites were reached; the strong one grades A+, the weak one far lower
    assert results[weak].status == results[strong].status == "ok"
    assert results[strong].observatory_grade == "A+"
    assert results[weak].observatory_grade == "D"
    assert (results[weak].observatory_score or 0) < (results[strong].observatory_score or 0)
    assert results[weak].facts["tls"]["protocols"]["TLSv1.0"] is True
    assert results[strong].facts["tls"]["protocols"]["TLSv1.0"] is False
    assert "/.git/HEAD" in net.weak.paths

    # And the weak site's findings come from the real checks, .git as critical
    weak_found = _findings(session_factory, weak)
    assert WEAK_SITE_ISSUES <= _issues(weak_found)
    git = {f.subject: f.severity for f in weak_found if f.issue_id == "paths.git"}
    assert git == {"/.git/HEAD": "critical", "/.git/config": "critical"}
    assert all(f.institution_id == inst and f.system_id == portal for f in weak_found)
    # And the strong site has no header, path or protocol finding (its certificate is
    # signed by the tests' CA, which the scanner rightly does not trust)
    strong_issues = _issues(_findings(session_factory, strong))
    assert not {i for i in strong_issues if i.startswith(("http.", "paths.", "tls.protocol."))}
    assert "tls.cert.untrusted" in strong_issues
    # And the domain's records were read from the test DNS server
    domain_issues = _issues(_findings(session_factory, f"domain:{DOMAIN}"))
    assert {"dns.spf.permissive", "dns.dmarc.missing", "dns.caa.missing",
            "dns.dnssec.missing"} <= domain_issues
    # And an unauthenticated Redis on the registered address is critical (when the port
    # could be taken on this machine)
    if net.redis is not None:
        redis = _findings(session_factory, f"ip:{REDIS}")
        assert ("ports.redis", "critical") in {(f.issue_id, f.severity) for f in redis}
    assert scan.findings_new == len(_findings(session_factory))

    # And every hostile target ended in errors, within its deadline, without stopping the scan
    for url in (net.trickle.url(), net.silent.url(), net.garbage.url("https")):
        result = results[f"url:{url}"]
        assert result.status in {"partial", "unreachable"}, (url, result.errors)
        assert "http" in result.errors, (url, result.errors)
        assert result.duration_ms <= WORST_TARGET_MS, (url, result.duration_ms)
    assert "tls" in results[f"url:{net.garbage.url('https')}"].errors
    assert net.trickle.accepted > 0 and net.silent.accepted > 0
    # And the endless redirects were cut short: a bounded number of requests
    assert results[f"url:{net.loop.url()}"].duration_ms <= WORST_TARGET_MS
    assert 0 < net.loop.accepted < 60
    # And the institution got a score, and every critical finding its CSIRT case
    with session_factory() as session:
        score = session.scalars(select(ExposureScore).where(
            ExposureScore.scan_id == first)).one()
        assert score.institution_id == inst and score.score > 50
    criticals = [f for f in _findings(session_factory) if f.severity == "critical"]
    assert criticals and all(f.case_reference for f in criticals)
    assert len(_cases(session_factory)) == len(criticals)

    # When the weak site is fixed and the focal point rescans the portal system only
    net.weak.make_strong(net.fixed_tls)
    second = _request(session_factory, focal, ScanRequest(system_id=portal))
    _work(e2e_settings, session_factory)

    # Then the repaired issues are fixed, what remains stays open
    scan = _scan(session_factory, second)
    assert (scan.status, scan.targets_total, scan.findings_new) == ("done", 4, 0)
    weak_found = _findings(session_factory, weak)
    assert REPAIRED <= _issues(weak_found, "fixed")
    assert not REPAIRED & _issues(weak_found, "open")
    assert {f.fixed_at is not None and f.last_scan_id == second
            for f in weak_found if f.issue_id in REPAIRED} == {True}
    assert "tls.cert.self_signed" in _issues(weak_found, "open")
    assert scan.findings_fixed == sum(f.issue_id in REPAIRED for f in weak_found)
    assert _results(session_factory, second)[weak].observatory_grade == "A+"
    # And the domain's findings, seen again, stay open; no new case was opened
    assert {"dns.spf.permissive", "dns.dmarc.missing"} <= _issues(
        _findings(session_factory, f"domain:{DOMAIN}"), "open")
    assert len(_cases(session_factory)) == len(criticals)


# --- scope ------------------------------------------------------------------------------

def test_a_redirect_to_an_unregistered_host_is_never_followed(
        net: Servers, e2e_settings: Settings, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given a registered site that redirects every request to 127.0.0.2, which is not
    # registered but listens and counts connections
    inst = factory.institution("E2ESCOPE")
    register_system(session_factory, inst, "Portail", [("url", net.leaky.url())])
    # When the centre scans it with every check
    scan_id = _request(session_factory, system_actor("tests"), ScanRequest(institution_id=inst))
    _work(e2e_settings, session_factory)
    # Then the site was scanned, and 127.0.0.2 never contacted
    assert _scan(session_factory, scan_id).status == "done"
    assert net.leaky.accepted > 0
    assert net.outsider.accepted == 0
    # And the HTTP check stopped at the redirect (its final response is the site's own)
    (result,) = _results(session_factory, scan_id).values()
    assert result.facts["http"]["url"].startswith(f"http://{LEAKY}:")
    assert result.facts["http"]["status"] == 302


# --- schedule and automatic cases ------------------------------------------------------

def test_the_daily_schedule_queues_a_national_scan_only_when_endpoints_exist(
        net: Servers, e2e_settings: Settings, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given the daily schedule declared by the domain
    assert any(s.name == tasks.SCHEDULED_TASK and s.every.total_seconds() == 86400
               for s in jobs.schedules())
    # When it runs while the registry has no endpoint
    with session_factory.begin() as session:
        jobs.enqueue(session, tasks.SCHEDULED_TASK)
    _work(e2e_settings, session_factory)
    # Then nothing is queued
    with session_factory() as session:
        assert session.scalars(select(ExposureScan)).all() == []
    # Given a registered endpoint, When the schedule runs again
    inst = factory.institution("E2ESCHED")
    register_system(session_factory, inst, "Portail", [("url", net.strong.url)])
    with session_factory.begin() as session:
        jobs.enqueue(session, tasks.SCHEDULED_TASK)
    assert jobs.run_next(e2e_settings, session_factory, worker_id="e2e") is JobStatus.SUCCEEDED
    # Then a national scan is queued, with its job
    with session_factory() as session:
        scan = session.scalars(select(ExposureScan)).one()
        assert (scan.trigger, scan.institution_id, scan.status, scan.targets_total) == (
            "schedule", None, "queued", 1)
        job = session.scalars(select(Job).where(Job.name == tasks.SCAN_TASK)).one()
        assert job.payload == {"scan_id": scan.id}
    # And the next worker turn runs it to the end
    _work(e2e_settings, session_factory)
    assert _scan(session_factory, scan.id).status == "done"
    assert _results(session_factory, scan.id)[f"url:{net.strong.url}"].observatory_grade == "A+"


def test_a_critical_finding_of_a_real_check_opens_one_csirt_case(
        net: Servers, e2e_settings: Settings, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given the weak site, whose .git folder is downloadable
    inst = factory.institution("E2ECASE")
    system = register_system(session_factory, inst, "Portail", [("url", net.weak.url)])
    # When the centre scans it (sensitive paths only) twice
    for _ in range(2):
        _request(session_factory, system_actor("tests"),
                 ScanRequest(institution_id=inst, checks=["paths"]))
        _work(e2e_settings, session_factory)
    # Then each critical .git finding has one case, reported by detection, for the system
    git = [f for f in _findings(session_factory) if f.issue_id == "paths.git"]
    assert {f.subject for f in git} == {"/.git/HEAD", "/.git/config"}
    cases = _cases(session_factory)
    assert len(cases) == 2
    assert {c.reference for c in cases} == {f.case_reference for f in git}
    assert all(c.source == "detection" and c.institution_id == inst and c.system_id == system
               for c in cases)
    assert any(WEAK in c.title for c in cases)


def test_a_tls_probe_lost_on_the_way_leaves_the_finding_open(
        net: Servers, e2e_settings: Settings, session_factory: sessionmaker[Session],
        factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the weak site, whose TLS 1.0 a first scan reported
    inst = factory.institution("E2ETLS")
    register_system(session_factory, inst, "Portail", [("url", net.weak.url)])
    request = ScanRequest(institution_id=inst, checks=["tls"])
    _request(session_factory, system_actor("tests"), request)
    _work(e2e_settings, session_factory)
    assert "tls.protocol.tls1_0" in _issues(_findings(session_factory), "open")
    # When, during the next scan, sslyze's TLS 1.0 probe times out (a congested path) while
    # the rest of the scan completes
    scan_for_real = TlsCheck._scan

    def congested(check: TlsCheck, *args: object) -> ServerScanResult:
        result = scan_for_real(check, *args)
        assert result.scan_result is not None
        lost: ScanCommandAttempt[object] = ScanCommandAttempt(
            status=ScanCommandAttemptStatusEnum.ERROR,
            error_reason=ScanCommandErrorReasonEnum.CONNECTIVITY_ISSUE, error_trace=None,
            result=None)
        return dataclasses.replace(result, scan_result=dataclasses.replace(
            result.scan_result, tls_1_0_cipher_suites=lost))

    monkeypatch.setattr(TlsCheck, "_scan", congested)
    second = _request(session_factory, system_actor("tests"), request)
    _work(e2e_settings, session_factory)
    # Then the TLS check says its scan is incomplete, and TLS 1.0 is not taken for fixed
    (result,) = _results(session_factory, second).values()
    assert "tls_1_0_cipher_suites" in result.errors["tls"]
    assert _scan(session_factory, second).findings_fixed == 0
    assert "tls.protocol.tls1_0" in _issues(_findings(session_factory), "open")


# --- CLI --------------------------------------------------------------------------------

@pytest.fixture
def cli_env(e2e_settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database; loopback allowed, short timeouts, no cases."""
    monkeypatch.setenv("LAKANA_HOME", str(e2e_settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", e2e_settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("LAKANA_EXPOSURE_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("LAKANA_EXPOSURE_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("LAKANA_EXPOSURE_AUTO_CASE", "false")


def test_cli_scan_wait_prints_a_summary_of_the_real_findings(
        net: Servers, cli_env: None, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given the weak and the strong site registered for one institution
    inst = factory.institution("E2ECLI")
    register_system(session_factory, inst, "Portail", [("url", net.weak.url),
                                                       ("url", net.strong.url)])
    # When scanning it from the command line and waiting
    done = cli.invoke(exposure_cli, ["scan", "--institution", "E2ECLI", "--wait"])
    # Then the summary gives the outcome, both targets, their grades
    assert done.exit_code == 0, done.output
    assert "Done, 2 of 2 targets" in done.output
    assert WEAK in done.output and STRONG in done.output
    assert "A+" in done.output and " D " in done.output
    new = sum(1 for _ in _findings(session_factory))
    assert f"{new} new, 0 fixed, 0 reopened" in done.output
    # And the findings command lists the critical .git exposure first
    listed = cli.invoke(exposure_cli, ["findings", "--institution", "E2ECLI"])
    assert listed.exit_code == 0, listed.output
    assert "paths.git /.git/HEAD" in listed.output and "Critical" in listed.output
    assert listed.output.index("Critical") < listed.output.index("Low")
