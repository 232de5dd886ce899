"""The contract of an exposure check: one plugin per file, frozen results (sslyze's model).

A check declares the issues it can report (its catalogue: ID, severity, explanation, advice,
related baseline requirements) and, run on one :class:`Target`, returns a :class:`CheckReport`:
the issues observed with their evidence, and JSON facts for the views (grade, versions...).
A check never opens a connection itself without :meth:`ScopeGuard.allow` (the helpers in
``lakana.monitoring.exposure.net`` do it for it); it never raises for a network failure of
the target: it reports ``error`` instead. Texts are English gettext msgids; the French is in
the domain's catalog.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class Severity(StrEnum):
    """How bad an issue is; drives the due date and the exposure score."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER: tuple[Severity, ...] = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM,
                                        Severity.LOW, Severity.INFO)


class TargetKind(StrEnum):
    """The registry's endpoint kinds."""

    URL = "url"
    DOMAIN = "domain"
    IP = "ip"


@dataclass(frozen=True)
class Target:
    """One registered endpoint, parsed. ``host`` is a DNS name or an IP address literal;
    ``port`` and ``scheme`` are set for URLs only (default port filled in)."""

    kind: TargetKind
    value: str
    host: str
    port: int | None = None
    scheme: str | None = None
    path: str = "/"
    endpoint_id: int | None = None
    system_id: int | None = None
    institution_id: int | None = None

    @property
    def is_ip(self) -> bool:
        """Whether ``host`` is an IP address literal."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def label(self) -> str:
        """``kind:value`` as stored on findings and results."""
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True)
class Issue:
    """An entry of a check's catalogue."""

    id: str
    title: str
    severity: Severity
    explanation: str
    advice: str
    #: IDs of the national baseline requirements this issue is evidence against.
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """An issue seen on a target. ``subject`` tells apart several occurrences of one issue
    (a path, a port, a cookie name) and is part of the finding's fingerprint; ``params``
    fill the issue's title placeholders; ``severity`` overrides the catalogue's when set."""

    issue_id: str
    subject: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    severity: Severity | None = None


@dataclass(frozen=True)
class CheckReport:
    """The outcome of one check on one target."""

    check_id: str
    observations: tuple[Observation, ...] = ()
    #: JSON-serialisable facts for the views (``{"score": 45, "grade": "D+"}``...).
    facts: Mapping[str, Any] = field(default_factory=dict)
    #: Set when the check could not run (unreachable, refused, timeout); not a finding.
    error: str | None = None


class OutOfScope(Exception):
    """A connection to an address that is not on the scan's allow-list was attempted."""


class ScopeGuard(Protocol):
    """The allow-list every connection goes through (see ``scope.py``)."""

    def allow(self, host: str, port: int) -> None:
        """Raise :class:`OutOfScope` unless ``host:port`` may be contacted."""

    def allow_address(self, host: str, address: str, port: int) -> None:
        """Raise :class:`OutOfScope` unless the resolved ``address`` of an allowed ``host``
        may be contacted (private and loopback addresses only when the settings say so)."""


class VulnerabilityIndex(Protocol):
    """Offline lookups in the imported feeds (see ``feeds.py``)."""

    def lookup(self, product: str, version: str) -> list[Mapping[str, Any]]:
        """Known vulnerabilities of ``product`` at ``version`` (dicts with ``cve_id``,
        ``known_exploited``, ``cvss_score``, ``title``)."""


@dataclass(frozen=True)
class CheckContext:
    """What a check may use: the guard, limits, the resolver and the feeds."""

    guard: ScopeGuard
    #: Seconds allowed per network operation (connect, TLS handshake, one response).
    timeout: float = 10.0
    #: Resolvers as ``(ip, port)``; empty: the system's.
    nameservers: tuple[tuple[str, int], ...] = ()
    #: Service name -> port, overriding the standard ports (tests use high ports).
    ports: Mapping[str, int] = field(default_factory=dict)
    vulnerabilities: VulnerabilityIndex | None = None
    #: Largest response body read, in bytes.
    max_body: int = 256 * 1024


class Check(ABC):
    """An exposure check plugin."""

    id: ClassVar[str]
    title: ClassVar[str]
    #: The target kinds this check runs on.
    applies_to: ClassVar[frozenset[TargetKind]]
    #: The issues it can report, by ID.
    issues: ClassVar[Mapping[str, Issue]]

    @abstractmethod
    async def run(self, target: Target, context: CheckContext) -> CheckReport:
        """Examine ``target``; never raise for the target's own failures."""


def catalogue(*issues: Issue) -> dict[str, Issue]:
    """Build a check's ``issues`` map from its entries (IDs must be unique)."""
    result: dict[str, Issue] = {}
    for issue in issues:
        if issue.id in result:
            raise ValueError(f"duplicate issue id {issue.id}")
        result[issue.id] = issue
    return result
