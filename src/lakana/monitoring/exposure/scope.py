"""The scan allow-list: a scan touches only the hosts of registered endpoints.

A host is in scope when it is the host of a registered endpoint, or a name under a registered
domain (the institution owns its subdomains: ``mail.sante.gov.ml`` for ``sante.gov.ml``).
Every port of an in-scope host may be contacted. Resolved addresses must be public, unless
the settings allow private ones (a demo, the tests, an internal network).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from lakana.monitoring.exposure.checks.base import OutOfScope, Target


def _normalise(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass
class AllowList:
    """The hosts one scan may contact (implements the checks' ``ScopeGuard``)."""

    hosts: set[str] = field(default_factory=set)
    #: Registered domain names: their subdomains are in scope too.
    domains: set[str] = field(default_factory=set)
    allow_private: bool = False

    @classmethod
    def for_targets(cls, targets: Iterable[Target], *, allow_private: bool) -> AllowList:
        """The allow-list of a scan over ``targets``."""
        allow = cls(allow_private=allow_private)
        for target in targets:
            host = _normalise(target.host)
            allow.hosts.add(host)
            if target.kind.value == "domain" and not _is_ip(host):
                allow.domains.add(host)
        return allow

    def covers(self, host: str) -> bool:
        """Whether ``host`` (a name or an IP literal) is in scope."""
        host = _normalise(host)
        if host in self.hosts:
            return True
        if _is_ip(host):
            return False
        return any(host.endswith("." + domain) for domain in self.domains)

    def allow(self, host: str, port: int) -> None:
        """Raise :class:`OutOfScope` unless ``host:port`` may be contacted."""
        if not 0 < port < 65536:
            raise OutOfScope(f"invalid port {port}")
        if not self.covers(host):
            raise OutOfScope(f"{_normalise(host)} is not a registered endpoint")
        if _is_ip(_normalise(host)):
            self._check_address(_normalise(host))

    def allow_address(self, host: str, address: str, port: int) -> None:
        """Raise :class:`OutOfScope` unless ``address`` (resolved from the in-scope ``host``)
        may be contacted."""
        self.allow(host, port)
        self._check_address(_normalise(address))

    def _check_address(self, address: str) -> None:
        if not self.allow_private and not is_public_address(address):
            raise OutOfScope(f"{address} is not a public address")
