"""Administrative and database ports open to the internet, by TCP connect and banner.

Each service is tried on its standard port (``context.ports`` overrides it by service name).
Services that speak first (SSH, FTP, MySQL...) are identified by their banner; the others
get a harmless probe (Redis ``INFO server``, a MongoDB ``listDatabases``, a PostgreSQL
SSLRequest, an HTTP GET for Elasticsearch and the Docker API) whose answer tells whether they
let anyone in without authentication.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from lakana.core.i18n import N_
from lakana.monitoring.exposure import net
from lakana.monitoring.exposure.checks.base import (
    Check,
    CheckContext,
    CheckReport,
    Issue,
    Observation,
    OutOfScope,
    Severity,
    Target,
    TargetKind,
    catalogue,
)

#: Service name -> standard port.
STANDARD_PORTS: Mapping[str, int] = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smb": 445, "mysql": 3306, "rdp": 3389,
    "postgresql": 5432, "redis": 6379, "docker": 2375, "elasticsearch": 9200,
    "mongodb": 27017,
}
#: Ports probed at once on one host.
PARALLEL = 8
BANNER_CHARS = 512
_NET = ("net-6", "net-4")
_DATABASES = ("mysql", "postgresql", "mongodb", "redis", "elasticsearch")
_SIMPLE = {"ssh": "ports.ssh", "telnet": "ports.telnet", "ftp": "ports.ftp", "rdp": "ports.rdp",
           "smb": "ports.smb"}
#: PostgreSQL SSLRequest: length 8, code 80877103; the server answers one byte, S or N.
_PG_SSLREQUEST = struct.pack("!II", 8, 80877103)
_REDIS_PROBE = b"INFO server\r\n"


def _mongo_probe() -> bytes:
    """An OP_MSG ``{listDatabases: 1, $db: "admin"}``: answered only without authentication."""
    elements = (b"\x10listDatabases\x00" + struct.pack("<i", 1)
                + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00")
    document = struct.pack("<i", len(elements) + 5) + elements + b"\x00"
    body = struct.pack("<I", 0) + b"\x00" + document
    return struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body


class OpenPortsCheck(Check):
    """Administrative and database services reachable from the internet."""

    id: ClassVar[str] = "ports"
    title: ClassVar[str] = N_("Open administrative and database ports")
    applies_to: ClassVar[frozenset[TargetKind]] = frozenset(
        {TargetKind.URL, TargetKind.DOMAIN, TargetKind.IP})
    issues = catalogue(
        Issue("ports.ssh", N_("SSH is reachable on port %(port)s"), Severity.LOW,
              N_("SSH open to the internet is often intended, but it is attacked by password "
                 "guessing all day long."),
              N_("If it is needed, allow keys only (no passwords) and restrict it to known "
                 "addresses or a VPN; otherwise close it."), ("net-4", "iam-9")),
        Issue("ports.telnet", N_("Telnet is open on port %(port)s"), Severity.HIGH,
              N_("Telnet sends passwords and sessions unencrypted."),
              N_("Disable Telnet and use SSH from the administration network instead."), _NET),
        Issue("ports.ftp", N_("FTP is open on port %(port)s"), Severity.HIGH,
              N_("FTP sends passwords and files unencrypted."),
              N_("Replace FTP with SFTP, or restrict it to the internal network."),
              (*_NET, "dat-2")),
        Issue("ports.rdp", N_("Remote Desktop (RDP) is open on port %(port)s"), Severity.HIGH,
              N_("RDP exposed to the internet is a leading entry point of ransomware."),
              N_("Close RDP to the internet; reach it through a VPN with multi-factor "
                 "authentication."), (*_NET, "iam-9")),
        Issue("ports.smb", N_("Windows file sharing (SMB) is open on port %(port)s"),
              Severity.HIGH,
              N_("SMB exposed to the internet has been used by worms such as WannaCry."),
              N_("Block SMB (ports 139 and 445) at the perimeter."), _NET),
        Issue("ports.database", N_("Database service %(service)s is open on port %(port)s"),
              Severity.HIGH,
              N_("A database reachable from the internet is attacked by password guessing "
                 "and through its known flaws."),
              N_("Bind the database to the internal network or restrict it by firewall to "
                 "the application servers."), _NET),
        Issue("ports.redis", N_("Redis answers without authentication on port %(port)s"),
              Severity.CRITICAL,
              N_("Anyone can read and change the data, and often take over the server."),
              N_("Close the port to the internet, bind Redis to localhost or the internal "
                 "network, and require a password (ACL)."), _NET),
        Issue("ports.mongodb", N_("MongoDB answers without authentication on port %(port)s"),
              Severity.CRITICAL,
              N_("Anyone can list, copy or delete the databases."),
              N_("Enable authorization, bind MongoDB to the internal network and close the "
                 "port to the internet."), _NET),
        Issue("ports.elasticsearch",
              N_("Elasticsearch answers without authentication on port %(port)s"),
              Severity.CRITICAL,
              N_("Anyone can search, copy or delete the indexed data."),
              N_("Enable security (authentication and TLS) and close the port to the "
                 "internet."), _NET),
        Issue("ports.docker", N_("Docker API reachable without authentication on port %(port)s"),
              Severity.CRITICAL,
              N_("The Docker API gives full control of the host to whoever reaches it."),
              N_("Never expose the Docker socket over TCP; if remote access is needed, use "
                 "TLS client certificates and a firewall."), (*_NET, "iam-9")),
        Issue("ports.service", N_("Administrative port %(port)s (%(service)s) is open"),
              Severity.HIGH,
              N_("A port used by an administrative service accepts connections from the "
                 "internet."),
              N_("Close the port at the perimeter unless it is needed, and document why."),
              _NET),
    )

    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Try each service's port on ``target``'s host and report the open ones."""
        gate = asyncio.Semaphore(PARALLEL)

        async def bounded(service: str, port: int) -> _Probe:
            async with gate:
                return await _probe(service, target.host, port, context)

        services = {name: context.ports.get(name, port) for name, port in STANDARD_PORTS.items()}
        try:
            probes = await asyncio.gather(*(bounded(s, p) for s, p in services.items()))
        except OutOfScope as exc:
            return CheckReport(self.id, error=f"out of scope: {exc}")
        observations = [_observation(probe) for probe in probes if probe.open]
        return CheckReport(self.id, observations=tuple(observations), facts={
            "open": sorted(f"{p.service}:{p.port}" for p in probes if p.open),
            "tried": len(probes)})


@dataclass(frozen=True)
class _Probe:
    service: str
    port: int
    open: bool
    banner: bytes = b""
    address: str = ""
    #: Whether the service answered a request that should have needed authentication.
    unauthenticated: bool = False
    #: Whether the answer identifies the service.
    identified: bool = True


async def _probe(service: str, host: str, port: int, context: CheckContext) -> _Probe:
    if service in ("elasticsearch", "docker"):
        return await _probe_http(service, host, port, context)
    probe = {"redis": _REDIS_PROBE, "mongodb": _mongo_probe(),
             "postgresql": _PG_SSLREQUEST}.get(service)
    banner = await net.grab_banner(host, port, context, probe=probe)
    if not banner.open:
        return _Probe(service, port, False)
    data = banner.banner
    unauthenticated = False
    if service == "redis":
        unauthenticated = b"redis_version:" in data
    elif service == "mongodb":
        unauthenticated = b"databases" in data and b"totalSize" in data
    return _Probe(service, port, True, data, banner.address, unauthenticated)


async def _probe_http(service: str, host: str, port: int, context: CheckContext) -> _Probe:
    path = "/version" if service == "docker" else "/"
    authority = f"[{host}]" if ":" in host else host
    try:
        response = await net.fetch(f"http://{authority}:{port}{path}", context)
    except net.PortClosed:
        return _Probe(service, port, False)
    except net.NetError:
        # Something listens but does not speak HTTP: report the open port, unidentified.
        banner = await net.grab_banner(host, port, context)
        return _Probe(service, port, banner.open, banner.banner, banner.address,
                      identified=False)
    head = f"HTTP/1.1 {response.status} {response.reason}\r\n".encode()
    head += b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in response.headers)
    document = _json(response.body)
    if service == "docker":
        identified = "ApiVersion" in document
    else:
        identified = "cluster_name" in document or (
            response.header("x-elastic-product") == "Elasticsearch")
    unauthenticated = response.status == 200 and "cluster_name" in document \
        if service == "elasticsearch" else response.status == 200 and identified
    return _Probe(service, port, True, head + b"\r\n" + response.body, response.address,
                  unauthenticated, identified or response.status == 401)


def _json(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _observation(probe: _Probe) -> Observation:
    text = probe.banner.decode("utf-8", "replace")[:BANNER_CHARS]
    evidence = {"banner": text, "address": probe.address, "port": probe.port,
                "service": probe.service}
    params = {"port": str(probe.port), "service": probe.service}
    subject = f"{probe.service}:{probe.port}"
    if probe.service in _SIMPLE:
        return Observation(_SIMPLE[probe.service], subject, evidence, params)
    if probe.unauthenticated:
        return Observation(f"ports.{probe.service}", subject, evidence, params)
    if probe.service in _DATABASES and probe.identified:
        return Observation("ports.database", subject, evidence, params)
    return Observation("ports.service", subject, evidence, params)
