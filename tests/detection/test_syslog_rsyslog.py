"""The real rsyslog of Debian forwarding to the receiver, with the configurations of
docs/detection-syslog.md read from the document itself: RFC 5424 octet-counted, RFC 3164
LF-framed, and TLS with a client certificate (OpenSSL driver).

rsyslogd runs unprivileged in the foreground with its own configuration and work directory
(never the system's); the test feeds it through an imtcp input and checks the events land
in the database, attributed to the registered sender's institution and system.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.detection.syslog.server import BackgroundReceiver, tls_context
from tests.detection import service_fixtures
from tests.detection.service_fixtures import World
from tests.detection.test_syslog_server import (
    count_of,
    events_of,
    make_pki,
    register,
    start,
    wait_until,
)

world = service_fixtures.world
start = start  # the receiver fixture

RSYSLOGD = shutil.which("rsyslogd") or next(
    (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if Path(p).exists()), None)
# On CI (.ci/run installs rsyslog) a missing rsyslogd is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    RSYSLOGD is None and not os.environ.get("CI"),
    reason="rsyslogd is not installed (apt-get install rsyslog rsyslog-openssl): the "
           "real-shipper test cannot run")

DOC = Path(__file__).resolve().parents[2] / "docs" / "detection-syslog.md"
#: What the documentation's examples name, replaced by the test's receiver and files.
DOC_TARGET, DOC_PORT, DOC_CERTS = 'target="lakana.example.ml"', 'port="6514"', \
    "/etc/rsyslog.d/lakana/"


def doc_snippet(name: str) -> str:
    """The configuration block marked ``<!-- tested: name -->`` in the documentation."""
    found = re.search(rf"<!-- tested: {re.escape(name)} -->\s*```[a-z]*\n(.*?)```",
                      DOC.read_text(), re.DOTALL)
    assert found, f"no tested block {name} in {DOC}"
    return found.group(1)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def rsyslogd(folder: Path, snippet: str, receiver_port: int, certs: Path | None = None
             ) -> Iterator[int]:
    """Run rsyslogd with an imtcp input and the documented forwarding ``snippet`` pointed at
    the receiver; yields the input's port. Stopped (SIGTERM) at the end."""
    assert RSYSLOGD is not None
    work = folder / "work"
    work.mkdir(parents=True)
    for marker in (DOC_TARGET, DOC_PORT):
        assert marker in snippet, marker
    forward = snippet.replace(DOC_TARGET, 'target="127.0.0.1"').replace(
        DOC_PORT, f'port="{receiver_port}"')
    if certs is not None:
        assert DOC_CERTS in forward
        forward = forward.replace(DOC_CERTS, f"{certs}/")
    in_port = free_port()
    conf = folder / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{work}")\n'
                    'module(load="imtcp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{in_port}")\n'
                    + forward)
    log = folder / "rsyslogd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i",
                                 str(folder / "rsyslogd.pid")], stdout=out,
                                stderr=subprocess.STDOUT, cwd=folder)
    try:
        def listening() -> bool:
            assert proc.poll() is None, f"rsyslogd exited: {log.read_text()[-3000:]}"
            try:
                socket.create_connection(("127.0.0.1", in_port), timeout=1).close()
                return True
            except OSError:
                return False
        assert wait_until(listening, timeout=20), log.read_text()[-3000:]
        yield in_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def send_to_rsyslog(port: int, tag: str, count: int) -> None:
    """RFC 3164 sshd lines into rsyslog's input, one per line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(
            f"<38>Nov 23 04:00:{n % 60:02d} web1 sshd[4{n}]: Failed password for invalid "
            f"user {tag}{n} from 203.0.113.{n + 1} port 22 ssh2\n".encode()
            for n in range(count)))


@pytest.mark.parametrize("name", ["rsyslog-plain", "rsyslog-lf", "rsyslog-tls"])
def test_rsyslog_forwards_with_the_documented_configuration(
        name: str, world: World, session_factory: sessionmaker[Session],
        start: Callable[..., BackgroundReceiver], tmp_path: Path) -> None:
    """Events sent through rsyslog land with the sender's institution and system."""
    certs = None
    if name == "rsyslog-tls":
        pki = make_pki(tmp_path / "pki")
        certs = tmp_path / "pki"
        # Identified by its certificate, whatever its address.
        register(session_factory, world, world.b, system_id=world.b_system,
                 cert_sha256=pki.client_sha256)
        receiver = start(ssl=tls_context(pki.server_cert, pki.server_key, pki.ca))
        owner, system = world.b, world.b_system
    else:
        register(session_factory, world, world.a, system_id=world.a_system,
                 network="127.0.0.1/32")
        receiver = start()
        owner, system = world.a, world.a_system
    tag = name.replace("-", "")
    with rsyslogd(tmp_path / "rsyslog", doc_snippet(name), receiver.port, certs) as port:
        send_to_rsyslog(port, tag, 20)
        arrived = wait_until(lambda: count_of(session_factory, owner, tag) == 20, timeout=30)
        assert arrived, (count_of(session_factory, owner, tag), receiver.stats(),
                         (tmp_path / "rsyslog" / "rsyslogd.log").read_text()[-3000:])
    events = [e for e in events_of(session_factory, owner) if tag in e.message]
    assert {e.system_id for e in events} == {system}
    assert {e.channel for e in events} == {"syslog"}
    assert {e.dataset for e in events} == {"sshd"}, {e.fields.get("log.original")
                                                     for e in events}
    assert sorted(e.fields["source.ip"] for e in events) == sorted(
        f"203.0.113.{n + 1}" for n in range(20))
    assert {e.fields.get("host.name") for e in events} == {"web1"}
    stats = receiver.stats()
    assert stats["refused_senders"] == 0
    # The framing the configuration asks for is the one that arrived.
    if name == "rsyslog-lf":
        assert stats["octet_counted"] == 0
    else:
        assert stats["octet_counted"] >= 20
    other = world.a if owner == world.b else world.b
    assert count_of(session_factory, other) == 0
