"""Exposure scanning: the full check suite against sslyze alone, and a 500-endpoint scan.

Everything runs against servers this bench starts on loopback (127.0.0.0/8), never any other
address: Debian's nginx (``/usr/sbin/nginx``, run in the foreground as a child process with
its own configuration, pid file, logs and temporary paths in a temporary directory) with a
self-signed RSA 2048 certificate generated with ``cryptography``. Without nginx, Python TLS
servers (asyncio, in a background thread of this process) stand in, and the output says so.

Part 1, per host (three HTTPS sites on 127.0.0.1: Mozilla "intermediate" TLS 1.2-1.3,
"modern" TLS 1.3 only, and "legacy" TLS 1.0-1.3 with every cipher), in the same run:

* (a) **sslyze alone, as a user runs it**: what ``python -m sslyze HOST:PORT`` runs, in this
  process: the scan commands, scanner and network settings are those sslyze's own
  ``CommandLineParser`` produces for that command line (no command given: the commands of
  Mozilla's TLS profile checker, and the check against the intermediate profile, which is
  timed too); console output and interpreter start-up are left out.
* (b) **sslyze as TlsCheck calls it**: the same sslyze call the TLS check makes
  (``TlsCheck._scan``: its scan commands, one server at a time, 5 connections, network
  timeout 5 s, 1 retry), without the check's analysis and without a worker thread.
* (c) **Lakana's full check suite** on the host's URL target: every built-in check through
  ``runner.scan_target`` with a context built as ``ScanRun.context`` builds it
  (``AllowList.for_targets([target], allow_private=True)``, timeout 5 s) and the runner's
  per-host limit; the time each check spent running is recorded too (the longest is shown).

After one warm-up of each, ``--runs`` (10) rounds; in each round every host gets the three
measures in a rotating order, so that a burst of load from another job spreads over all of
them. Table: median and p95 (s) per host and the ratios of (c) to (a) and to (b). Goal:
(c) ≤ 1.5 × (a) (median, on every host).

Part 2: ``--endpoints`` (500) HTTPS endpoints on loopback, one nginx listening on
``--ports-per-address`` (1) port(s) of each of ``endpoints / ports-per-address`` loopback
addresses (127.0.1.1, 127.0.1.2, ...: on the internet most registered URLs are hosts of
their own). In a child process (so that its peak RSS is the scan's alone): a temporary
SQLite database, institutions and systems registered through the registry service with the
endpoints as URL endpoints, a national scan requested through ``service.request_scan`` and
run with ``service.run_scan`` (the product's path: ``ScanRun``, default concurrency
``exposure_concurrency`` = 50, default timeout, results stored, findings merged, scores).
Reports wall time, targets/s, statuses of the stored results, check errors, the RSS before
the scan and the peak RSS (``VmRSS`` and ``VmHWM``); ``--tracemalloc`` runs the scan a second time
under tracemalloc for the peak Python heap (slower; not timed). Baseline in the table: the
sequential estimate, endpoints × the median full-suite time of the intermediate host in
part 1. Goal: completes in minutes (< 10 min).

The machine may be small and shared: the load average is printed before and after; only
comparisons within one run mean something. Usage: ``uv run python bench/bench_exposure.py
[--runs 10] [--endpoints 500] [--ports-per-address 1] [--tracemalloc]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import json
import os
import resource
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from sslyze.__version__ import __version__ as sslyze_version
from sslyze.cli.command_line_parser import CommandLineParser, ParsedCommandLine
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    check_server_against_tls_configuration,
)
from sslyze.scanner.models import ServerConnectivityStatusEnum, ServerScanRequest
from sslyze.scanner.scanner import Scanner

from lakana.monitoring.exposure.checks import builtin_checks
from lakana.monitoring.exposure.checks.base import Check, CheckContext, CheckReport, Target
from lakana.monitoring.exposure.checks.tls import TlsCheck
from lakana.monitoring.exposure.runner import (
    PER_HOST_CHECKS,
    TARGET_DEADLINE_FACTOR,
    TargetOutcome,
    scan_target,
)
from lakana.monitoring.exposure.scope import AllowList
from lakana.monitoring.exposure.targets import parse_endpoint

NGINX = "/usr/sbin/nginx"
LOOPBACK = "127.0.0.1"
TIMEOUT = 5.0
GOAL_RATIO = 1.5
GOAL_SECONDS = 600.0
A_NAME, B_NAME, C_NAME = "sslyze alone (CLI default)", "sslyze as TlsCheck calls it", \
    "Lakana full suite"
_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


@dataclass(frozen=True)
class Profile:
    """A TLS configuration, for nginx and for the Python fallback server."""

    name: str
    nginx: str
    minimum: ssl.TLSVersion
    ciphers: str | None = None


PROFILES = (
    Profile("intermediate (TLS 1.2-1.3)",
            f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {_INTERMEDIATE_CIPHERS}; "
            "ssl_prefer_server_ciphers off; server_tokens off; "
            'add_header Strict-Transport-Security "max-age=63072000" always; '
            'add_header X-Content-Type-Options "nosniff" always;',
            ssl.TLSVersion.TLSv1_2, _INTERMEDIATE_CIPHERS),
    Profile("modern (TLS 1.3 only)", "ssl_protocols TLSv1.3; server_tokens off;",
            ssl.TLSVersion.TLSv1_3),
    Profile("legacy (TLS 1.0-1.3, all ciphers)",
            "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; ssl_ciphers ALL:@SECLEVEL=0; "
            "server_tokens on;", ssl.TLSVersion.TLSv1, "ALL:@SECLEVEL=0"),
)


# --- loopback HTTPS servers ------------------------------------------------------------------


def write_certificate(directory: Path,
                      names: tuple[str, ...] = ("localhost",)) -> tuple[Path, Path]:
    """A self-signed RSA 2048 certificate for ``names`` and 127.0.0.1; its PEM paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]
                + [x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port(address: str = LOOPBACK) -> int:
    """A port nobody listens on at ``address`` (closed right after being found)."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Site:
    """One HTTPS site: the addresses and ports it listens on, and its TLS profile."""

    listens: tuple[tuple[str, int], ...]
    profile: Profile


def _nginx_config(directory: Path, sites: list[Site], cert: Path, key: Path) -> str:
    root = directory / "www"
    root.mkdir(exist_ok=True)
    (root / "index.html").write_text("<!doctype html><title>Ministry</title><p>Welcome</p>")
    temp = "".join(f"  {kind}_temp_path {directory}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    servers = "".join(
        "  server {\n"
        + "".join(f"    listen {address}:{port} ssl;\n" for address, port in site.listens)
        + f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        + f"    root {root};\n    {site.profile.nginx}\n  }}\n"
        for site in sites)
    # As root, workers would run as "nobody", which cannot read the 0700 temporary directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes auto;\nworker_rlimit_nofile 16384;\ndaemon off;\n"
            f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
            "events { worker_connections 8192; }\n"
            f"http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n{temp}{servers}}}\n")


def _wait_listening(listens: tuple[tuple[str, int], ...],
                    alive: Callable[[], str | None]) -> None:
    for address, port in listens:
        deadline = time.monotonic() + 15
        while True:
            failure = alive()
            if failure is not None:
                raise RuntimeError(failure)
            with socket.socket() as sock:
                if sock.connect_ex((address, port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {address}:{port}")
            time.sleep(0.05)


@contextmanager
def nginx_servers(directory: Path, sites: list[Site]) -> Iterator[str]:
    """Run one nginx serving ``sites``; yields its version line."""
    cert, key = write_certificate(directory)
    config = directory / "nginx.conf"
    config.write_text(_nginx_config(directory, sites, cert, key))
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    process = subprocess.Popen([NGINX, "-p", str(directory), "-e", str(directory / "error.log"),
                                "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def alive() -> str | None:
        if process.poll() is None:
            return None
        log = directory / "error.log"
        return f"nginx exited: {log.read_text()[-2000:] if log.exists() else ''}"

    try:
        _wait_listening(tuple(a for s in sites for a in s.listens), alive)
        yield version.removeprefix("nginx version: ")
    finally:
        process.terminate()
        process.wait(15)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
        body = b"<!doctype html><title>Ministry</title><p>Welcome</p>"
        status = b"200 OK" if path == b"/" else b"404 Not Found"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        pass
    finally:
        writer.close()


@contextmanager
def python_servers(directory: Path, sites: list[Site]) -> Iterator[str]:
    """The fallback without nginx: asyncio TLS servers in one background thread."""
    cert, key = write_certificate(directory)
    loop = asyncio.new_event_loop()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        for site in sites:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            context.minimum_version = site.profile.minimum
            if site.profile.ciphers:
                context.set_ciphers(site.profile.ciphers)
            for address, port in site.listens:
                servers.append(await asyncio.start_server(_answer, address, port, ssl=context,
                                                          backlog=512))

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield f"Python {sys.version.split()[0]} asyncio TLS servers (nginx not found)"
    finally:
        for server in servers:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def https_servers(directory: Path, sites: list[Site]) -> Any:
    """nginx when installed, else the Python fallback."""
    if Path(NGINX).exists():
        return nginx_servers(directory, sites)
    return python_servers(directory, sites)


# --- part 1: per host ------------------------------------------------------------------------


def _cli_command_line(host: str, port: int) -> ParsedCommandLine:
    """What sslyze's command line parser makes of ``sslyze HOST:PORT``."""
    saved = sys.argv
    sys.argv = ["sslyze", f"{host}:{port}"]
    try:
        return CommandLineParser(sslyze_version).parse_command_line()
    finally:
        sys.argv = saved


def sslyze_cli(parsed: ParsedCommandLine) -> None:
    """(a) The scan ``python -m sslyze HOST:PORT`` runs, then its profile check."""
    scanner = Scanner(
        per_server_concurrent_connections_limit=parsed.per_server_concurrent_connections_limit,
        concurrent_server_scans_limit=parsed.concurrent_server_scans_limit)
    location, network = parsed.servers_to_scans[0]
    scanner.queue_scans([ServerScanRequest(
        server_location=location, network_configuration=network,
        scan_commands=parsed.scan_commands,
        scan_commands_extra_arguments=parsed.scan_commands_extra_arguments)])
    result = list(scanner.get_results())[0]  # read to the end, as the CLI does
    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        raise RuntimeError(f"sslyze could not connect: {result.connectivity_error_trace}")
    if parsed.tls_config_to_check_against is not None:
        with suppress(ServerNotCompliantWithTlsConfiguration, ServerScanResultIncomplete):
            check_server_against_tls_configuration(result, parsed.tls_config_to_check_against)


def sslyze_as_tls_check(port: int) -> None:
    """(b) The sslyze call TlsCheck makes (its commands and settings), nothing else."""
    result = TlsCheck()._scan(LOOPBACK, LOOPBACK, port, TIMEOUT)
    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        raise RuntimeError(f"sslyze could not connect: {result.connectivity_error_trace}")


class _Timed(Check):
    """A built-in check, with the time its ``run`` took recorded (microseconds of cost)."""

    issues: ClassVar[dict[str, Any]] = {}

    def __init__(self, inner: Check, spent: dict[str, float]) -> None:
        self.inner, self.spent = inner, spent
        self.id = inner.id  # type: ignore[misc]
        self.applies_to = inner.applies_to  # type: ignore[misc]

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Run the wrapped check, timing it."""
        started = time.perf_counter()
        try:
            return await self.inner.run(target, context)
        finally:
            self.spent[self.inner.id] = time.perf_counter() - started


def full_suite(port: int) -> tuple[TargetOutcome, dict[str, float]]:
    """(c) Every built-in check on ``https://127.0.0.1:PORT/`` through the runner."""
    target = parse_endpoint("url", f"https://{LOOPBACK}:{port}/")
    context = CheckContext(guard=AllowList.for_targets([target], allow_private=True),
                           timeout=TIMEOUT)
    spent: dict[str, float] = {}
    checks: list[Check] = [_Timed(cls(), spent) for cls in builtin_checks().values()]

    async def scan() -> TargetOutcome:
        return await scan_target(target, checks, context,
                                 deadline=TIMEOUT * TARGET_DEADLINE_FACTOR,
                                 host_limit=asyncio.Semaphore(PER_HOST_CHECKS))

    outcome = asyncio.run(scan())
    failed = {r.check_id: r.error for r in outcome.reports if r.error}
    if "tls" in failed or "http" in failed:
        raise RuntimeError(f"the suite failed on port {port}: {failed}")
    return outcome, spent


@dataclass
class HostTimes:
    """The samples of one host."""

    profile: Profile
    port: int
    samples: dict[str, list[float]] = field(default_factory=lambda: {A_NAME: [], B_NAME: [],
                                                                     C_NAME: []})
    checks: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 \
        else values[0]


def part_one(runs: int) -> tuple[list[HostTimes], str]:
    """Time (a), (b) and (c) on each host; returns the samples and the server line."""
    ports = [free_port() for _ in PROFILES]
    sites = [Site(((LOOPBACK, port),), profile) for port, profile in zip(ports, PROFILES,
                                                                          strict=True)]
    hosts = [HostTimes(profile, port) for port, profile in zip(ports, PROFILES, strict=True)]
    with tempfile.TemporaryDirectory(prefix="lakana-bench-") as tmp, \
            https_servers(Path(tmp), sites) as server:
        measures: dict[str, Callable[[HostTimes], None]] = {}
        parsed = {h.port: _cli_command_line(LOOPBACK, h.port) for h in hosts}

        def suite(host: HostTimes) -> None:
            outcome, spent = full_suite(host.port)
            host.statuses[outcome.status] += 1
            for check_id, seconds in spent.items():
                host.checks.setdefault(check_id, []).append(seconds)

        measures[A_NAME] = lambda h: sslyze_cli(parsed[h.port])
        measures[B_NAME] = lambda h: sslyze_as_tls_check(h.port)
        measures[C_NAME] = suite
        for host in hosts:  # warm-up: imports, trust stores, first handshakes
            for run in measures.values():
                run(host)
            host.checks.clear()
            host.statuses.clear()
        names = list(measures)
        for round_ in range(runs):
            for index, host in enumerate(hosts):
                shift = (round_ + index) % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    measures[name](host)
                    host.samples[name].append(time.perf_counter() - started)
            print(f"  part 1: round {round_ + 1}/{runs} done", file=sys.stderr, flush=True)
    commands = sorted(c.value for c in next(iter(parsed.values())).scan_commands)
    same = set(commands) == {c.value for c in SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER}
    print(f"\nsslyze {sslyze_version}; `sslyze HOST:PORT` runs {len(commands)} scan commands "
          f"and checks Mozilla's intermediate profile; TlsCheck runs "
          f"{len(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER)} "
          f"({'the same set' if same else 'a different set'}: "
          f"SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER). Servers: {server}.")
    return hosts, server


def print_part_one(hosts: list[HostTimes], runs: int) -> None:
    """The part 1 table and verdict."""
    print(f"\n### Part 1 — full check suite vs sslyze alone, per host ({runs} runs each after "
          "a warm-up; seconds)\n")
    print("| host (127.0.0.1) | measure | median (s) | p95 (s) | median / (a) | median / (b) "
          "| p95 / (a) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    verdicts = []
    for host in hosts:
        a, b = statistics.median(host.samples[A_NAME]), statistics.median(host.samples[B_NAME])
        a95 = _p95(host.samples[A_NAME])
        for label, name in (("(a)", A_NAME), ("(b)", B_NAME), ("(c)", C_NAME)):
            values = host.samples[name]
            median, p95 = statistics.median(values), _p95(values)
            print(f"| {host.profile.name} :{host.port} | {label} {name} | {median:.2f} "
                  f"| {p95:.2f} | {median / a:.2f}× | {median / b:.2f}× | {p95 / a95:.2f}× |")
        verdicts.append(statistics.median(host.samples[C_NAME]) / a)
    print("\nInside the full suite (c), median time each check spent running (s):\n")
    check_ids = list(builtin_checks())
    print("| host | " + " | ".join(check_ids) + " | suite statuses |")
    print("|---|" + "---:|" * len(check_ids) + "---|")
    for host in hosts:
        cells = [f"{statistics.median(host.checks[c]):.2f}" if c in host.checks else "–"
                 for c in check_ids]
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(host.statuses.items()))
        print(f"| {host.profile.name} | " + " | ".join(cells) + f" | {statuses} |")
    worst = max(verdicts)
    print(f"\nGoal (part 1): full suite ≤ {GOAL_RATIO}× sslyze alone as a user runs it (a), "
          f"median, on every host: worst host {worst:.2f}× → "
          f"{'met' if worst <= GOAL_RATIO else 'NOT met'}. Against (b), the bare sslyze call "
          "of the TLS check: " + ", ".join(
              f"{statistics.median(h.samples[C_NAME]) / statistics.median(h.samples[B_NAME]):.2f}×"
              for h in hosts) + ".")


# --- part 2: many endpoints ------------------------------------------------------------------


def endpoint_layout(count: int, per_address: int) -> list[tuple[str, int]]:
    """``count`` (address, port) pairs: ``per_address`` ports on each of 127.0.1.1, ..."""
    ports = [free_port() for _ in range(per_address)]
    pairs = []
    for index in range(count):
        host = index // per_address
        pairs.append((f"127.0.{1 + host // 250}.{1 + host % 250}", ports[index % per_address]))
    return pairs


def _memory_kib(field_name: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KiB. Not ``ru_maxrss``: after
    fork and exec a child starts with its parent's maximum, here the bench's own."""
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _ThreadSampler:
    """Samples the live threads while a scan runs: all of them, and the asyncio default
    executor's (named ``asyncio_N``), where ``asyncio.to_thread`` runs sslyze."""

    def __init__(self) -> None:
        self.most = self.most_executor = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            alive = threading.enumerate()
            self.most = max(self.most, len(alive) - 1)  # not this sampler
            self.most_executor = max(self.most_executor,
                                     sum(t.name.startswith("asyncio_") for t in alive))

    def __enter__(self) -> _ThreadSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _child_scan(endpoints: list[str], trace: bool) -> dict[str, Any]:
    """In the child: register the endpoints, request a national scan, run it; figures."""
    from sqlalchemy import func, select

    from lakana.app import core_plugins, domains, register_all
    from lakana.core.audit.signing import create_key
    from lakana.core.auth.rbac import system_actor
    from lakana.core.config import Settings
    from lakana.core.db import make_engine, make_session_factory
    from lakana.models import metadata
    from lakana.monitoring.exposure import service
    from lakana.monitoring.exposure.models import ExposureScan, ScanResult
    from lakana.monitoring.exposure.schemas import ScanRequest
    from lakana.registry import service as registry_service
    from lakana.registry.schemas import InstitutionCreate, SystemCreate

    register_all([*core_plugins(), *domains()])
    actor = system_actor("bench")
    with tempfile.TemporaryDirectory(prefix="lakana-bench-db-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        create_key(home / "keys" / "ledger-ed25519.pem")
        settings = Settings(home=home, database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
                            secret_key=secrets.token_urlsafe(32), exposure_allow_private=True,
                            _env_file=None)
        engine = make_engine(settings)
        metadata.create_all(engine)
        session_factory = make_session_factory(engine)
        per_system, systems_per_institution = 5, 4
        with session_factory.begin() as session:
            for start in range(0, len(endpoints), per_system * systems_per_institution):
                number = start // (per_system * systems_per_institution) + 1
                institution = registry_service.create_institution(
                    session=session, actor=actor, data=InstitutionCreate(
                        name=f"Ministère {number}", acronym=f"MIN{number:03}", kind="ministry",
                        region="bamako", sector="government", criticality_tier=2))
                chunk = endpoints[start:start + per_system * systems_per_institution]
                for offset in range(0, len(chunk), per_system):
                    registry_service.create_system(session=session, actor=actor, data=SystemCreate(
                        institution_id=institution.id, name=f"Portail {number}.{offset}",
                        criticality="high", data_classification="restricted",
                        hosting="own_premises", endpoints=[
                            {"kind": "url", "value": url}
                            for url in chunk[offset:offset + per_system]]))
        figures: dict[str, Any] = {"concurrency": settings.exposure_concurrency,
                                   "timeout": settings.exposure_timeout}

        def one_scan() -> tuple[int, float]:
            with session_factory.begin() as session:
                scan_id = service.request_scan(session=session, actor=actor,
                                               data=ScanRequest(), trigger="cli").id
            started = time.perf_counter()
            service.run_scan(settings=settings, session_factory=session_factory,
                             scan_id=scan_id, progress=progress)
            return scan_id, time.perf_counter() - started

        def progress(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                print(f"  part 2: {done}/{total} targets", file=sys.stderr, flush=True)

        figures["rss_before_kib"] = _memory_kib("VmRSS")
        threads = _ThreadSampler()
        with threads:
            scan_id, figures["wall_s"] = one_scan()
        figures["peak_rss_kib"] = _memory_kib("VmHWM")
        figures["threads"] = {"max": threads.most, "max_executor": threads.most_executor,
                              "after": threading.active_count() - 1}
        with session_factory() as session:
            scan = session.get(ExposureScan, scan_id)
            assert scan is not None
            figures["scan"] = {"status": scan.status, "error": scan.error,
                               "targets": scan.targets_done, "findings_new": scan.findings_new}
            figures["statuses"] = dict(session.execute(
                select(ScanResult.status, func.count()).where(ScanResult.scan_id == scan_id)
                .group_by(ScanResult.status)).all())
            errors: Counter[str] = Counter()
            for result in session.scalars(select(ScanResult).where(
                    ScanResult.scan_id == scan_id)):
                for check_id, error in (result.errors or {}).items():
                    errors[f"{check_id}: {error.split(':')[0][:60]}"] += 1
            figures["errors"] = dict(errors.most_common(8))
        if trace:
            tracemalloc.start()
            _, figures["traced_wall_s"] = one_scan()
            figures["heap_peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        engine.dispose()
    return figures


def part_two(count: int, per_address: int, trace: bool) -> tuple[dict[str, Any], str]:
    """Serve ``count`` endpoints, scan them all in a child process; its figures."""
    pairs = endpoint_layout(count, per_address)
    site = Site(tuple(pairs), PROFILES[0])
    with tempfile.TemporaryDirectory(prefix="lakana-bench-") as tmp, \
            https_servers(Path(tmp), [site]) as server:
        endpoints = Path(tmp) / "endpoints.json"
        endpoints.write_text(json.dumps([f"https://{a}:{p}/" for a, p in pairs]))
        command = [sys.executable, __file__, "--child", str(endpoints)]
        if trace:
            command.append("--tracemalloc")
        child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
        if child.returncode != 0:
            raise RuntimeError(f"the scan process failed ({child.returncode})")
        figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures, server


def print_part_two(figures: dict[str, Any], count: int, per_address: int,
                   hosts: list[HostTimes] | None) -> None:
    """The part 2 table and verdict."""
    wall = figures["wall_s"]
    addresses = (count + per_address - 1) // per_address
    print(f"\n### Part 2 — {count} HTTPS endpoints on loopback ({addresses} addresses × "
          f"{per_address} port(s), one nginx), full national scan through service.run_scan "
          f"(concurrency {figures['concurrency']}, timeout {figures['timeout']:g} s, SQLite)\n")
    print("| measure | wall (s) | targets/s | results by status | peak RSS (MiB) "
          "| RSS before scan (MiB) |")
    print("|---|---:|---:|---|---:|---:|")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(figures["statuses"].items()))
    print(f"| run_scan, {count} URL targets, all checks | {wall:.1f} | {count / wall:.2f} "
          f"| {statuses} | {figures['peak_rss_kib'] / 1024:.0f} "
          f"| {figures['rss_before_kib'] / 1024:.0f} |")
    if hosts:
        serial = count * statistics.median(hosts[0].samples[C_NAME])
        print(f"| baseline: sequential estimate ({count} × part 1 median full suite, "
              f"{hosts[0].profile.name}) | {serial:.1f} | {count / serial:.2f} | | | |")
    if "heap_peak_bytes" in figures:
        print(f"| same scan again under tracemalloc (not comparable in time) "
              f"| {figures['traced_wall_s']:.1f} | | peak Python heap "
              f"{figures['heap_peak_bytes'] / 2**20:.0f} MiB | | |")
    threads = figures["threads"]
    print(f"\nThreads in the scanning process: at most {threads['max']} alive during the scan, "
          f"at most {threads['max_executor']} in asyncio's default executor (where "
          f"asyncio.to_thread runs sslyze; its size is min(32, cores + 4) = "
          f"{min(32, (os.cpu_count() or 1) + 4)} here), {threads['after']} still alive after "
          "run_scan returned.")
    scan = figures["scan"]
    print(f"\nScan {scan['status']}{' (' + scan['error'] + ')' if scan['error'] else ''}: "
          f"{scan['targets']} targets stored, {scan['findings_new']} new findings. Check "
          "errors (count): " + (", ".join(f"{k} ({v})" for k, v in figures["errors"].items())
                                or "none") + ".")
    ok = scan["status"] == "done" and scan["targets"] == count
    met = ok and wall < GOAL_SECONDS
    print(f"\nGoal (part 2): a {count}-endpoint scan completes in minutes (< "
          f"{GOAL_SECONDS / 60:.0f} min): {wall / 60:.1f} min → {'met' if met else 'NOT met'}"
          + ("" if count == 500 else " (run with --endpoints "
             f"{count}, not the 500 of the issue)") + ".")


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Parse the options, run both parts, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds of part 1 (10)")
    parser.add_argument("--endpoints", type=int, default=500, help="endpoints of part 2 (500)")
    parser.add_argument("--ports-per-address", type=int, default=1,
                        help="part 2 endpoints per loopback address (1)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="part 2: scan again under tracemalloc for the peak Python heap")
    parser.add_argument("--skip-part1", action="store_true")
    parser.add_argument("--skip-part2", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # sslyze's bundled Mozilla trust store holds a certificate with a negative serial number.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    if args.child:
        figures = _child_scan(json.loads(Path(args.child).read_text()), args.tracemalloc)
        print(json.dumps(figures))
        return
    if not Path(NGINX).exists():
        print(f"NOTE: {NGINX} not found: Python asyncio TLS servers in this process stand in "
              "for nginx (they share the CPU and the GIL with the scanner).")
    print(f"{os.cpu_count()} CPU cores; load average before: {_load_average()}")
    hosts: list[HostTimes] | None = None
    if not args.skip_part1:
        hosts, _ = part_one(args.runs)
    figures: dict[str, Any] | None = None
    server = ""
    if not args.skip_part2:
        figures, server = part_two(args.endpoints, args.ports_per_address, args.tracemalloc)
    print(f"load average after: {_load_average()}")
    if hosts:
        print_part_one(hosts, args.runs)
    if figures is not None:
        print(f"\nServer: {server}.")
        print_part_two(figures, args.endpoints, args.ports_per_address, hosts)
    print("\nTimings share a small machine with other jobs (see the load averages): compare "
          "rows of the same run, not runs with each other.")


if __name__ == "__main__":
    main()
