"""The open-ports check against fake services on loopback high ports."""

from __future__ import annotations

import asyncio
import json
import time

from lakana.monitoring.exposure.checks.base import CheckReport, Severity, Target, TargetKind
from lakana.monitoring.exposure.checks.ports import STANDARD_PORTS, OpenPortsCheck
from tests.exposure.servers import (
    LOOPBACK,
    RawServer,
    Route,
    WebServer,
    fake_redis,
    free_port,
    loopback_context,
    silent,
    ssh_banner,
)

TARGET = Target(TargetKind.IP, LOOPBACK, LOOPBACK)


def _ports(**open_ports: int) -> dict[str, int]:
    """Every service on a closed port (never the real standard ones), except ``open_ports``."""
    return {name: open_ports.get(name) or free_port() for name in STANDARD_PORTS}


def _run(ports: dict[str, int], *hosts: str) -> CheckReport:
    context = loopback_context(*hosts, ports=ports, timeout=0.5)
    return asyncio.run(OpenPortsCheck().run(TARGET, context))


def _by_subject(report: CheckReport) -> dict[str, str]:
    return {o.subject: o.issue_id for o in report.observations}


def test_open_redis_ssh_and_silent_rdp_are_reported() -> None:
    # Given a Redis without password, an SSH server, and a silent port standing for RDP
    with RawServer(fake_redis()) as redis, RawServer(ssh_banner) as ssh, \
            RawServer(silent) as rdp:
        # When the check runs
        report = _run(_ports(redis=redis.port, ssh=ssh.port, rdp=rdp.port))
    # Then Redis is critical, SSH low with its banner, RDP high
    assert _by_subject(report) == {f"redis:{redis.port}": "ports.redis",
                                   f"ssh:{ssh.port}": "ports.ssh",
                                   f"rdp:{rdp.port}": "ports.rdp"}
    issues = OpenPortsCheck.issues
    assert issues["ports.redis"].severity is Severity.CRITICAL
    assert issues["ports.ssh"].severity is Severity.LOW
    ssh_obs = next(o for o in report.observations if o.issue_id == "ports.ssh")
    assert ssh_obs.evidence["banner"].startswith("SSH-2.0-OpenSSH_9.2p1")
    assert ssh_obs.evidence["address"] == LOOPBACK and ssh_obs.evidence["port"] == ssh.port
    redis_obs = next(o for o in report.observations if o.issue_id == "ports.redis")
    assert "redis_version:7.0.11" in redis_obs.evidence["banner"]


def test_redis_with_password_is_an_open_database_port_not_critical() -> None:
    with RawServer(fake_redis(password=True)) as redis:
        report = _run(_ports(redis=redis.port))
    assert _by_subject(report) == {f"redis:{redis.port}": "ports.database"}


def test_elasticsearch_and_docker_without_auth_are_critical() -> None:
    # Given HTTP services answering like Elasticsearch and the Docker API
    es_body = json.dumps({"name": "n1", "cluster_name": "gov",
                          "tagline": "You Know, for Search"}).encode()
    docker_body = json.dumps({"ApiVersion": "1.43", "Version": "24.0.5"}).encode()
    with WebServer({"/": Route(200, (("Content-Type", "application/json"),), es_body)}) as es, \
            WebServer({"/version": Route(200, body=docker_body)}) as docker:
        report = _run(_ports(elasticsearch=es.port, docker=docker.port))
    assert _by_subject(report) == {f"elasticsearch:{es.port}": "ports.elasticsearch",
                                   f"docker:{docker.port}": "ports.docker"}


def test_elasticsearch_behind_authentication_is_high() -> None:
    with WebServer({"/": Route(401, (("WWW-Authenticate", "Basic"),
                                     ("X-elastic-product", "Elasticsearch")))}) as es:
        report = _run(_ports(elasticsearch=es.port))
    assert _by_subject(report) == {f"elasticsearch:{es.port}": "ports.database"}


def test_closed_ports_report_nothing() -> None:
    # Given every service on a closed port
    started = time.monotonic()
    report = _run(_ports())
    # Then no observation, no error, quickly
    assert report.error is None and report.observations == ()
    assert report.facts["open"] == []
    assert time.monotonic() - started < 5


def test_out_of_scope_host_is_refused_before_any_connection() -> None:
    # Given a Redis on 127.0.0.1 and an allow-list holding only 127.0.0.2
    with RawServer(fake_redis()) as redis:
        report = _run(_ports(redis=redis.port), "127.0.0.2")
        time.sleep(0.2)
        # Then the check refuses and the server saw nothing
        assert report.error and "out of scope" in report.error
        assert redis.accepted == 0


def test_mongodb_listing_databases_without_auth_is_critical() -> None:
    # Given a MongoDB-like server that answers listDatabases (the probe is a well-formed OP_MSG)
    received: list[bytes] = []

    def mongo(conn: object, stop: object) -> None:
        import socket
        assert isinstance(conn, socket.socket)
        received.append(conn.recv(4096))
        conn.sendall(b"\x00" * 16 + b"databases\x00...totalSize\x00")

    with RawServer(mongo) as server:  # type: ignore[arg-type]
        report = _run(_ports(mongodb=server.port))
    message = received[0]
    assert int.from_bytes(message[:4], "little") == len(message)
    assert int.from_bytes(message[12:16], "little") == 2013
    assert _by_subject(report) == {f"mongodb:{server.port}": "ports.mongodb"}
