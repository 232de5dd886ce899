"""The syslog receiver, started for real on 127.0.0.1 (plain TCP and TLS with generated
certificates), storing into the test database: attribution by registered sender, refusals,
bad input, a stalled client, a flood from one institution, clean shutdown."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.detection.models import DetectionEvent
from lakana.monitoring.detection.syslog import sources
from lakana.monitoring.detection.syslog.server import (
    BackgroundReceiver,
    ReceiverConfig,
    tls_context,
)
from tests.detection import service_fixtures
from tests.detection.service_fixtures import World

world = service_fixtures.world

#: The receiver's name in its test certificate (the one the documentation's examples use).
SERVER_NAME = "lakana.example.ml"
FAIL = "<38>Nov 23 04:00:00 web1 sshd[99]: Failed password for root from 203.0.113.{n} port 22 ssh2"
M5424 = ("<34>1 2026-11-23T04:00:00Z mail1 sshd 7 - - Accepted password for bob from "
         "192.0.2.{n} port 22")


# --- helpers shared with the rsyslog test ----------------------------------------------------

@dataclass
class Pki:
    """A CA, a server certificate for 127.0.0.1 and client certificates, as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_sha256: str
    other_cert: Path
    other_key: Path
    other_sha256: str
    rogue_cert: Path
    rogue_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(folder: Path, stem: str, common: str, issuer: tuple[x509.Certificate,
           ec.EllipticCurvePrivateKey] | None, *, server: bool = False,
           ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(common))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30)))
    if issuer is None:
        builder = builder.issuer_name(_name(common)).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True).add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False), critical=True)
        signer = key
    else:
        builder = builder.issuer_name(issuer[0].subject).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True)
        signer = issuer[1]
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.DNSName("localhost"), x509.DNSName(SERVER_NAME)]),
                critical=False).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert, key, cert_path, key_path


def make_pki(folder: Path) -> Pki:
    """Generate the test PKI under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key, ca_path, _ = _issue(folder, "ca", "Lakana test CA", None)
    _, _, server_cert, server_key = _issue(folder, "server", "127.0.0.1", (ca_cert, ca_key),
                                           server=True)
    client, _, client_cert, client_key = _issue(folder, "client", "web1.dgi.ml",
                                                (ca_cert, ca_key))
    other, _, other_cert, other_key = _issue(folder, "other", "mail1.ansi.ml",
                                             (ca_cert, ca_key))
    rogue_ca = _issue(folder, "rogue-ca", "Rogue CA", None)
    _, _, rogue_cert, rogue_key = _issue(folder, "rogue", "web1.dgi.ml", rogue_ca[:2])
    der = serialization.Encoding.DER
    return Pki(ca_path, server_cert, server_key, client_cert, client_key,
               sources.cert_fingerprint(client.public_bytes(der)), other_cert, other_key,
               sources.cert_fingerprint(other.public_bytes(der)), rogue_cert, rogue_key)


def register(session_factory: sessionmaker[Session], world: World, institution_id: int,
             *, system_id: int | None = None, network: str = "", cert_sha256: str = "") -> int:
    """Register a sender (as the centre); its id."""
    with session_factory.begin() as session:
        return sources.add_source(session=session, actor=world.centre,
                                  data=sources.SyslogSourceIn(
                                      institution_id=institution_id, system_id=system_id,
                                      network=network, cert_sha256=cert_sha256)).id


def events_of(session_factory: sessionmaker[Session], institution_id: int
              ) -> list[DetectionEvent]:
    """The institution's stored events, oldest first."""
    with session_factory() as session:
        return list(session.scalars(select(DetectionEvent).where(
            DetectionEvent.institution_id == institution_id).order_by(DetectionEvent.id)))


def count_of(session_factory: sessionmaker[Session], institution_id: int,
             needle: str = "") -> int:
    """How many events the institution has (with ``needle`` in the message)."""
    with session_factory() as session:
        stmt = select(func.count()).select_from(DetectionEvent).where(
            DetectionEvent.institution_id == institution_id)
        if needle:
            stmt = stmt.where(DetectionEvent.message.contains(needle))
        return int(session.scalar(stmt) or 0)


def wait_until(check: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> bool:
    """Poll ``check`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def octet(message: str) -> bytes:
    """One octet-counted frame."""
    data = message.encode()
    return str(len(data)).encode() + b" " + data


def connect(port: int, source: str = "127.0.0.1", context: ssl.SSLContext | None = None
            ) -> socket.socket:
    """A client connection from a chosen loopback address."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                    source_address=(source, 0))
    if context is not None:
        return context.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def closed_by_server(sock: socket.socket, timeout: float = 10.0) -> bool:
    """Whether the server closes the connection (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.fixture
def start(session_factory: sessionmaker[Session]) -> Iterator[Callable[..., BackgroundReceiver]]:
    """Start a receiver on 127.0.0.1, port 0 (stopped at the end)."""
    started: list[BackgroundReceiver] = []

    def _start(**options: object) -> BackgroundReceiver:
        config = ReceiverConfig(host="127.0.0.1", port=0, stats_every=3600,
                                sources_ttl=0.0, **options)  # type: ignore[arg-type]
        receiver = BackgroundReceiver(session_factory, config).start()
        started.append(receiver)
        return receiver

    yield _start
    for receiver in started:
        if receiver._thread.is_alive():
            receiver.stop()


# --- attribution --------------------------------------------------------------------------------

def test_events_are_attributed_by_sender_network(world: World, session_factory,
                                                 start) -> None:
    """Longest prefix wins; octet-counted and LF frames land with institution and system."""
    register(session_factory, world, world.b, network="127.0.0.0/8")
    register(session_factory, world, world.a, system_id=world.a_system, network="127.0.0.1")
    receiver = start()
    with connect(receiver.port, "127.0.0.1") as sock:
        sock.sendall(octet(FAIL.format(n=1)) + (M5424.format(n=2) + "\n").encode())
    with connect(receiver.port, "127.0.0.3") as sock:
        sock.sendall((FAIL.format(n=3) + "\n").encode())
    assert wait_until(lambda: count_of(session_factory, world.a) == 2
                      and count_of(session_factory, world.b) == 1)
    mine = events_of(session_factory, world.a)
    assert {e.system_id for e in mine} == {world.a_system}
    assert {e.channel for e in mine} == {"syslog"}
    assert {e.dataset for e in mine} == {"sshd"}
    assert mine[0].fields["source.ip"] == "203.0.113.1"
    assert mine[1].fields.get("host.name") == "mail1"
    theirs = events_of(session_factory, world.b)
    assert theirs[0].system_id is None and theirs[0].fields["source.ip"] == "203.0.113.3"
    assert receiver.stats()["stored"] == 3


def test_unregistered_sender_is_refused_and_counted(world: World, session_factory,
                                                    start) -> None:
    """A connection from nowhere registered is closed at once; nothing is stored."""
    register(session_factory, world, world.a, network="127.0.0.1/32")
    receiver = start()
    with connect(receiver.port, "127.0.0.2") as sock:
        try:
            sock.sendall((FAIL.format(n=9) + "\n").encode())
        except OSError:
            pass  # already closed
        assert closed_by_server(sock)
    assert receiver.stats()["refused_senders"] == 1
    assert count_of(session_factory, world.a) == 0
    assert count_of(session_factory, world.b) == 0


# --- TLS ----------------------------------------------------------------------------------------

def _client_context(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_tls_with_client_certificates(world: World, session_factory, start,
                                      tmp_path: Path) -> None:
    """Senders must present a certificate signed by the client CA; the certificate names
    the institution, whatever the address; an unregistered certificate is refused."""
    pki = make_pki(tmp_path / "pki")
    register(session_factory, world, world.b, system_id=world.b_system,
             cert_sha256=pki.client_sha256.upper())
    register(session_factory, world, world.a, network="127.0.0.1/32")  # the cert wins
    receiver = start(ssl=tls_context(pki.server_cert, pki.server_key, pki.ca))
    with connect(receiver.port, context=_client_context(pki, pki.client_cert,
                                                        pki.client_key)) as sock:
        sock.sendall(octet(M5424.format(n=7)) + octet(FAIL.format(n=8)))
        assert wait_until(lambda: count_of(session_factory, world.b) == 2)
    assert {e.system_id for e in events_of(session_factory, world.b)} == {world.b_system}
    assert count_of(session_factory, world.a) == 0

    # No client certificate, or one of another CA: the handshake fails.
    # (TLS 1.3: the client learns it when it next reads.)
    for cert, key in ((None, None), (pki.rogue_cert, pki.rogue_key)):
        try:
            with connect(receiver.port, context=_client_context(pki, cert, key)) as sock:
                sock.sendall(octet(FAIL.format(n=10)))
                assert closed_by_server(sock)
        except (ssl.SSLError, ConnectionError):
            pass
    # A valid certificate nobody registered, from an address nobody registered: refused.
    with connect(receiver.port, "127.0.0.5", context=_client_context(
            pki, pki.other_cert, pki.other_key)) as sock:
        assert closed_by_server(sock)
    stats = receiver.stats()
    assert stats["refused_senders"] == 1
    assert count_of(session_factory, world.b) == 2 and count_of(session_factory, world.a) == 0


# --- bad input ----------------------------------------------------------------------------------

def test_bad_input_is_counted_and_the_stream_goes_on(world: World, session_factory,
                                                     start) -> None:
    """A 10 MB line is skipped, invalid UTF-8 kept with replacement characters."""
    register(session_factory, world, world.a, network="127.0.0.1")
    receiver = start(max_frame=4096)
    with connect(receiver.port) as sock:
        sock.sendall(b"<13>" + b"A" * (10 * 1024 * 1024) + b"\n")
        sock.sendall(b"<13>Nov 23 04:00:00 h app: caf\xe9 au lait\n")
        sock.sendall(octet(FAIL.format(n=4)))
    assert wait_until(lambda: count_of(session_factory, world.a) == 2)
    stats = receiver.stats()
    assert stats["oversize"] == 1 and stats["invalid_utf8"] == 1
    assert "caf\ufffd au lait" in events_of(session_factory, world.a)[0].message


def test_a_stalled_client_neither_stalls_others_nor_stays_forever(world: World,
                                                                  session_factory,
                                                                  start) -> None:
    """A client that never finishes its frame is closed after the idle timeout; another
    client's events are stored meanwhile."""
    register(session_factory, world, world.a, network="127.0.0.1")
    register(session_factory, world, world.b, network="127.0.0.2")
    receiver = start(idle_timeout=2.0)
    stalled = connect(receiver.port, "127.0.0.1")
    stalled.sendall(b"5000 <13>never finished")
    begun = time.monotonic()
    with connect(receiver.port, "127.0.0.2") as sock:
        sock.sendall((FAIL.format(n=5) + "\n").encode())
        assert wait_until(lambda: count_of(session_factory, world.b) == 1, timeout=5)
    assert time.monotonic() - begun < 5
    assert closed_by_server(stalled, timeout=10)
    stalled.close()
    stats = receiver.stats()
    assert stats["idle_closed"] == 1 and stats["truncated"] == 0
    assert count_of(session_factory, world.a) == 0


def test_too_many_connections_are_refused(world: World, session_factory, start) -> None:
    """Past the limit, a new connection is closed at once and counted."""
    register(session_factory, world, world.a, network="127.0.0.1")
    receiver = start(max_connections=2)
    first, second = connect(receiver.port), connect(receiver.port)
    assert wait_until(lambda: receiver.stats()["active_connections"] == 2)
    third = connect(receiver.port)
    assert closed_by_server(third)
    assert receiver.stats()["refused_busy"] == 1
    for sock in (first, second, third):
        sock.close()


# --- fairness -----------------------------------------------------------------------------------

def test_a_flood_gets_backpressure_and_never_stalls_another_institution(
        world: World, session_factory, start) -> None:
    """Institution A floods as fast as TCP allows: the receiver holds a bounded number of
    its frames (its connection is not read while A's queue is full, so the sender is slowed
    to what is stored), while B's events keep being stored within seconds."""
    register(session_factory, world, world.a, network="127.0.0.1")
    register(session_factory, world, world.b, network="127.0.0.2")
    batch_lines, queue_batches = 200, 2
    receiver = start(batch_lines=batch_lines, queue_batches=queue_batches)
    stop = threading.Event()
    sent = [0]
    line = (FAIL.format(n=66) + " " + "x" * 200 + "\n").encode()

    def flood() -> None:
        chunk = line * 100
        with connect(receiver.port, "127.0.0.1") as sock:
            sock.settimeout(30)
            while not stop.is_set():
                try:
                    sock.sendall(chunk)
                except OSError:
                    return
                sent[0] += 100

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    latencies: list[float] = []
    held: list[int] = []
    try:
        assert wait_until(lambda: count_of(session_factory, world.a) > 0, timeout=20)
        with connect(receiver.port, "127.0.0.2") as sock:
            for n in range(5):
                begun = time.monotonic()
                sock.sendall((M5424.format(n=n) + f" probe-{n}\n").encode())
                assert wait_until(lambda n=n: count_of(session_factory, world.b,
                                                       f"probe-{n}") == 1, timeout=10)
                latencies.append(time.monotonic() - begun)
                stats = receiver.stats()
                held.append(stats["frames"] - stats["stored"])
    finally:
        stop.set()
        flooder.join(60)
    assert max(latencies) < 5, latencies
    # Frames decoded but not yet stored: the queue, the batch being stored, the one waiting
    # to be handed over, and one read's worth; never the flood itself.
    bound = (queue_batches + 2) * batch_lines + 65536 // len(line) + 1
    assert max(held) <= bound, (held, bound)
    # The sender was held to about what was stored: the rest sits in socket buffers.
    stored_a = count_of(session_factory, world.a)
    assert 0 < stored_a <= sent[0]
    assert (sent[0] - stored_a) * len(line) < 64 * 1024 * 1024


# --- shutdown -----------------------------------------------------------------------------------

def test_clean_shutdown_stores_what_was_received(world: World, session_factory,
                                                 start) -> None:
    """Frames received but not yet due for storing are stored when the receiver stops."""
    register(session_factory, world, world.a, network="127.0.0.1")
    receiver = start(flush_interval=3600.0, batch_lines=100_000)
    sock = connect(receiver.port)
    sock.sendall(b"".join(octet(FAIL.format(n=n % 250)) for n in range(300)))
    assert wait_until(lambda: receiver.stats()["frames"] == 300)
    assert count_of(session_factory, world.a) == 0
    receiver.stop()
    sock.close()
    assert count_of(session_factory, world.a) == 300


# --- senders service ----------------------------------------------------------------------------

def test_resolution_prefers_certificate_then_longest_prefix() -> None:
    """The most specific registered sender wins."""
    def entry(i: int, network: str = "", cert: str = "") -> sources.SourceEntry:
        return sources.SourceEntry(i, i * 10, None, ipaddress.ip_network(network)
                                   if network else None, cert)

    table = [entry(1, "10.0.0.0/8"), entry(2, "10.1.0.0/16"), entry(3, cert="ab" * 32),
             entry(4, "2001:db8::/32")]
    assert sources.resolve(table, "10.1.2.3", None).id == 2  # type: ignore[union-attr]
    assert sources.resolve(table, "10.9.2.3", None).id == 1  # type: ignore[union-attr]
    assert sources.resolve(table, "10.1.2.3", "ab" * 32).id == 3  # type: ignore[union-attr]
    assert sources.resolve(table, "::ffff:10.9.0.1", None).id == 1  # type: ignore[union-attr]
    assert sources.resolve(table, "2001:db8::1", None).id == 4  # type: ignore[union-attr]
    assert sources.resolve(table, "192.0.2.1", None) is None
    assert sources.resolve(table, None, None) is None


# --- the command ------------------------------------------------------------------------------

def test_serve_command_runs_tls_from_settings_and_stops_cleanly(
        world: World, session_factory, settings, engine, tmp_path: Path) -> None:
    """``lakana detection syslog serve`` as a real process: TLS from the settings, client
    certificates required, events stored, SIGTERM stores what was received, counters
    written for ``syslog stats``."""
    pki = make_pki(tmp_path / "pki")
    register(session_factory, world, world.a, system_id=world.a_system,
             cert_sha256=pki.client_sha256)
    env = {**os.environ, "LAKANA_HOME": str(settings.home),
           "LAKANA_DATABASE_URL": settings.effective_database_url,
           "LAKANA_SECRET_KEY": "x" * 32, "LAKANA_SYSLOG_TLS_CERT": str(pki.server_cert),
           "LAKANA_SYSLOG_TLS_KEY": str(pki.server_key),
           "LAKANA_SYSLOG_TLS_CLIENT_CA": str(pki.ca)}
    lakana = shutil.which("lakana", path=str(Path(sys.executable).parent)) or "lakana"
    proc = subprocess.Popen([lakana, "detection", "syslog", "serve", "--host", "127.0.0.1",
                             "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        for _ in range(200):
            line = proc.stderr.readline()
            found = re.search(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "the receiver did not start"
        context = _client_context(pki, pki.client_cert, pki.client_key)
        with connect(port, context=context) as sock:
            sock.sendall(b"".join(octet(FAIL.format(n=n)) for n in range(10)))
            assert wait_until(lambda: count_of(session_factory, world.a) == 10)
            sock.sendall(octet(FAIL.format(n=11)))
            time.sleep(0.3)  # read by then, but not yet due for storing (0.5 s)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count_of(session_factory, world.a) == 11
    assert {e.system_id for e in events_of(session_factory, world.a)} == {world.a_system}
    stats = json.loads((settings.home / "syslog-receiver.json").read_text())
    assert stats["stored"] == 11 and stats["refused_senders"] == 0
