"""What a scan may touch: the registry's endpoints, parsed into check targets, in scope.

Endpoints are read through :mod:`lakana.registry.service` (never its models), so the
registry's own scope rules apply: a focal point sees (and may scan) only its institution's
systems; the centre sees every institution, and scanning one institution includes the bodies
under it (directorates, agencies attached to a ministry).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.monitoring.exposure.checks.base import Target, TargetKind
from lakana.registry import service as registry

DEFAULT_PORTS = {"https": 443, "http": 80}


def parse_endpoint(kind: str, value: str, *, endpoint_id: int | None = None,
                   system_id: int | None = None, institution_id: int | None = None) -> Target:
    """A registered endpoint (``url``, ``domain`` or ``ip``) as a check target; URLs get
    their scheme, host, port (443/80 by default) and path. Raises :class:`Invalid` on a value
    that cannot be a target (the registry validates values, so only old rows can)."""
    ids: dict[str, Any] = {"endpoint_id": endpoint_id, "system_id": system_id,
                           "institution_id": institution_id}
    target_kind = TargetKind(kind)
    text = value.strip()
    if target_kind is TargetKind.URL:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
            scheme = ""
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise Invalid("This endpoint cannot be scanned: %(value)s.", value=text[:200])
        return Target(kind=target_kind, value=text, host=parts.hostname.lower(),
                      port=port or DEFAULT_PORTS[scheme], scheme=scheme,
                      path=parts.path or "/", **ids)
    host = text.lower().rstrip(".")
    if not host:
        raise Invalid("This endpoint cannot be scanned: %(value)s.", value=text[:200])
    return Target(kind=target_kind, value=host, host=host, **ids)


def _subtree(session: Session, actor: Actor, institution_id: int) -> set[int]:
    """``institution_id`` and every institution under it that the actor sees."""
    summaries = registry.institution_summaries(session=session, actor=actor)
    children: dict[int, list[int]] = {}
    for summary in summaries:
        if summary.parent_id is not None:
            children.setdefault(summary.parent_id, []).append(summary.id)
    found: set[int] = set()
    pending = [institution_id]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        pending.extend(children.get(current, ()))
    return found


def _targets_of(systems: Iterable[Any]) -> list[Target]:
    targets: list[Target] = []
    seen: set[tuple[int | None, str]] = set()
    for system in systems:
        for endpoint in system.endpoints:
            try:
                target = parse_endpoint(endpoint.kind, endpoint.value, endpoint_id=endpoint.id,
                                        system_id=system.id,
                                        institution_id=system.institution_id)
            except Invalid:
                continue  # an old, unparseable row: skipped rather than failing the scan
            key = (target.institution_id, target.label)
            if key not in seen:  # one endpoint registered twice in an institution: scan once
                seen.add(key)
                targets.append(target)
    return targets


def targets_for(*, session: Session, actor: Actor, institution_id: int | None = None,
                system_id: int | None = None) -> list[Target]:
    """The endpoints of one system, of one institution (and the bodies under it), or of
    every system the actor sees. An out-of-scope system or institution is "not found"."""
    if system_id is not None:
        system = registry.get_system(session=session, actor=actor, system_id=system_id)
        if institution_id is not None and system.institution_id != institution_id:
            raise Invalid("This system does not belong to that institution.")
        return _targets_of([system])
    systems = registry.all_systems(session=session, actor=actor)
    if institution_id is not None:
        registry.get_institution(session=session, actor=actor, institution_id=institution_id)
        wanted = _subtree(session, actor, institution_id)
        systems = [s for s in systems if s.institution_id in wanted]
    return _targets_of(systems)
