"""The senders the syslog receiver accepts (:class:`SyslogSource`): register, list, remove,
and resolve a connection's peer address and TLS client certificate to one of them.

A source names a network (CIDR; one address is a /32 or /128) and/or the sha256 of a TLS
client certificate, of an institution and optionally one of its systems. Resolution: among
the sources whose network contains the peer address (or that name no network) and whose
certificate is the one presented (or that name none), a certificate match wins, then the
longest prefix. No match: the connection is refused.

Permissions: reading the list is :attr:`P.READ`, scoped (an institution sees its own
senders); adding and removing is :attr:`P.SOURCES_MANAGE` (the CSIRT). Every change is
audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict, system_actor
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.monitoring.detection.models import SyslogSource
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.registry import service as registry_service

__all__ = [
    "Network", "SourceEntry", "SyslogSourceIn", "SyslogSourceOut", "add_source",
    "cert_fingerprint", "delete_source", "get_source", "list_sources", "load_entries",
    "normalize_fingerprint", "normalize_network", "resolve",
]

SOURCE = Msg("syslog sender")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SyslogSourceIn(BaseModel):
    """A sender to register: its institution, optionally a system, a name, and a network
    and/or a certificate fingerprint (at least one)."""

    institution_id: int = Field(ge=1)
    system_id: int | None = Field(default=None, ge=1)
    name: str = Field(default="", max_length=200)
    network: str = Field(default="", max_length=50)
    cert_sha256: str = Field(default="", max_length=200)

    @field_validator("system_id", mode="before")
    @classmethod
    def _blank_system(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("name", "network", "cert_sha256", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else ("" if value is None else value)


class SyslogSourceOut(BaseModel):
    """A registered sender as lists and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    system_id: int | None
    name: str
    network: str
    cert_sha256: str
    created_by: str
    created_at: dt.datetime


def normalize_network(text: str) -> str:
    """A CIDR network in canonical form (``10.1.2.3`` is ``10.1.2.3/32``; host bits are
    cleared); 422 when it is not one."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise Invalid("%(value)s is not a network address (CIDR, such as 192.0.2.0/24).",
                      value=text[:50]) from exc


def normalize_fingerprint(text: str) -> str:
    """A sha256 fingerprint as 64 lower-case hex digits (colons and spaces dropped, an
    ``sha256:`` or ``SHA256 Fingerprint=`` prefix allowed); 422 otherwise."""
    value = text.strip().lower()
    for prefix in ("sha256 fingerprint=", "sha256:"):
        value = value.removeprefix(prefix)
    value = value.replace(":", "").replace(" ", "")
    if not _HEX64.fullmatch(value):
        raise Invalid("A certificate fingerprint is the sha256 of the certificate: 64 "
                      "hexadecimal digits.")
    return value


def cert_fingerprint(der: bytes) -> str:
    """The sha256 fingerprint of a DER certificate, as stored."""
    return hashlib.sha256(der).hexdigest()


def _state(source: SyslogSource) -> dict[str, Any]:
    return {"institution_id": source.institution_id, "system_id": source.system_id,
            "name": source.name, "network": source.network, "cert_sha256": source.cert_sha256}


def _check_system(session: Session, system_id: int | None, institution_id: int) -> None:
    if system_id is None:
        return
    try:
        # Read with the system's rights: the answer is only compared, never shown.
        system = registry_service.get_system(session=session,
                                             actor=system_actor("detection", "system"),
                                             system_id=system_id)
    except NotFound:
        system = None
    if system is None or system.institution_id != institution_id:
        raise Invalid("This information system is not one of the institution's.")


def add_source(*, session: Session, actor: Actor, data: SyslogSourceIn) -> SyslogSource:
    """Register a sender (409 when the same network and certificate are already
    registered: attribution must be unambiguous)."""
    actor.require(P.SOURCES_MANAGE)
    registry_service.get_institution(session=session, actor=actor,
                                     institution_id=data.institution_id)
    ensure_in_scope(actor, data.institution_id, P.SOURCES_MANAGE, what=Msg("institution"))
    network = normalize_network(data.network) if data.network else ""
    cert = normalize_fingerprint(data.cert_sha256) if data.cert_sha256 else ""
    if not network and not cert:
        raise Invalid("Name the sender's network, its certificate fingerprint, or both.")
    _check_system(session, data.system_id, data.institution_id)
    taken = session.scalar(select(SyslogSource.id).where(SyslogSource.network == network,
                                                         SyslogSource.cert_sha256 == cert))
    if taken is not None:
        raise Conflict("This sender is already registered (#%(id)s).", id=taken)
    source = SyslogSource(institution_id=data.institution_id, system_id=data.system_id,
                          name=data.name, network=network, cert_sha256=cert,
                          created_by=actor.name[:254])
    session.add(source)
    session.flush()
    audit.record(session=session, actor=actor, action="detection.syslog_source.create",
                 object_type="detection.syslog_source", object_id=source.id,
                 object_repr=(source.name or network or cert[:16])[:300], after=_state(source),
                 institution_id=source.institution_id)
    return source


def list_sources(*, session: Session, actor: Actor, institution_id: int | None = None
                 ) -> list[SyslogSource]:
    """The senders the actor may see (an institution's staff: their own), by institution,
    then network."""
    stmt = restrict(select(SyslogSource), actor=actor, permission=P.READ,
                    scope=SyslogSource.institution_id)
    if institution_id is not None:
        stmt = stmt.where(SyslogSource.institution_id == institution_id)
    return list(session.scalars(stmt.order_by(SyslogSource.institution_id,
                                              SyslogSource.network, SyslogSource.id)))


def get_source(*, session: Session, actor: Actor, source_id: int,
               permission: str = P.READ) -> SyslogSource:
    """One sender (404 when absent or of another institution)."""
    source = session.get(SyslogSource, source_id)
    ensure_in_scope(actor, source.institution_id if source else -1, permission, what=SOURCE)
    if source is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=SOURCE)
    return source


def delete_source(*, session: Session, actor: Actor, source_id: int) -> None:
    """Remove a sender: its next connections are refused (open ones finish)."""
    source = get_source(session=session, actor=actor, source_id=source_id,
                        permission=P.SOURCES_MANAGE)
    before = _state(source)
    session.delete(source)
    session.flush()
    audit.record(session=session, actor=actor, action="detection.syslog_source.delete",
                 object_type="detection.syslog_source", object_id=source_id,
                 object_repr=(before["name"] or before["network"] or
                              before["cert_sha256"][:16])[:300],
                 before=before, institution_id=before["institution_id"])


# --- resolution (the receiver) ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SourceEntry:
    """A sender as the receiver matches it."""

    id: int
    institution_id: int
    system_id: int | None
    network: Network | None
    cert_sha256: str


def load_entries(session: Session) -> list[SourceEntry]:
    """Every registered sender, parsed for matching (internal: the receiver's table; a row
    whose network no longer parses is left out)."""
    entries: list[SourceEntry] = []
    for row in session.scalars(select(SyslogSource)):
        try:
            network = ipaddress.ip_network(row.network, strict=False) if row.network else None
        except ValueError:
            continue
        entries.append(SourceEntry(row.id, row.institution_id, row.system_id, network,
                                   row.cert_sha256))
    return entries


def resolve(entries: Sequence[SourceEntry], address: str | None,
            cert_sha256: str | None) -> SourceEntry | None:
    """The sender a connection comes from: a certificate match first, then the longest
    network prefix; None when nothing registered matches (the connection is refused)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if address:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            ip = None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    best: tuple[tuple[int, int, int], SourceEntry] | None = None
    for entry in entries:
        if entry.cert_sha256 and entry.cert_sha256 != (cert_sha256 or ""):
            continue
        if entry.network is not None:
            if ip is None or ip.version != entry.network.version or ip not in entry.network:
                continue
        rank = (1 if entry.cert_sha256 else 0,
                entry.network.prefixlen if entry.network is not None else -1, -entry.id)
        if best is None or rank > best[0]:
            best = (rank, entry)
    return best[1] if best else None
