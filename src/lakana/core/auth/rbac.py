"""Roles, permissions and institution scope, enforced in services.

Permissions are strings ``"<domain>:<object>:<verb>"`` declared by each domain as a
``StrEnum``; domains grant them to roles with :func:`grant`. Scope follows NetBox's
restricted query sets: every list query goes through :func:`restrict`, and every single
object through :func:`ensure_in_scope`, so a person of institution A never learns that an
object of institution B exists (404, not 403).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from lakana.core.errors import Forbidden, NotFound
from lakana.core.i18n import N_, Msg


class Role(StrEnum):
    """What a person does on the platform."""

    PLATFORM_ADMIN = "platform_admin"
    AGENCY_OFFICER = "agency_officer"
    CSIRT_ANALYST = "csirt_analyst"
    AUDITOR = "auditor"
    FOCAL_POINT = "focal_point"
    INSTITUTION_VIEWER = "institution_viewer"
    #: A partner CERT abroad: pulls what the centre shares with its sharing groups (TAXII),
    #: sees nothing else.
    PARTNER = "partner"
    #: Biometric registry roles: they work in the registry only and read nothing else.
    ENROLMENT_AGENT = "enrolment_agent"
    ADJUDICATOR = "adjudicator"
    REGISTRY_ADMIN = "registry_admin"
    #: The data protection authority's auditor: reads the registry's oversight views.
    PROTECTION_AUDITOR = "protection_auditor"


#: Roles of the national agency: they see every institution and must use MFA.
NATIONAL_ROLES: frozenset[Role] = frozenset(
    {Role.PLATFORM_ADMIN, Role.AGENCY_OFFICER, Role.CSIRT_ANALYST, Role.AUDITOR}
)
#: Roles tied to one institution: they see and (focal point) edit only its data.
INSTITUTION_ROLES: frozenset[Role] = frozenset({Role.FOCAL_POINT, Role.INSTITUTION_VIEWER})
#: Roles of the biometric registry (kept apart from the security agency's work: none of
#: them reads incidents, assessments or logs).
REGISTRY_ROLES: frozenset[Role] = frozenset(
    {Role.ENROLMENT_AGENT, Role.ADJUDICATOR, Role.REGISTRY_ADMIN, Role.PROTECTION_AUDITOR}
)
MFA_REQUIRED_ROLES: frozenset[Role] = NATIONAL_ROLES | REGISTRY_ROLES
#: Everyone who works in the national security system (every role but ``partner`` and the
#: registry's): domains grant their read permissions to these, so a partner or registry
#: account reads nothing of them by default.
STAFF_ROLES: tuple[Role, ...] = tuple(
    role for role in Role if role is not Role.PARTNER and role not in REGISTRY_ROLES
)

ROLE_LABELS: dict[Role, str] = {
    Role.PLATFORM_ADMIN: N_("Platform administrator"),
    Role.AGENCY_OFFICER: N_("Agency officer"),
    Role.CSIRT_ANALYST: N_("CSIRT analyst"),
    Role.AUDITOR: N_("Auditor"),
    Role.FOCAL_POINT: N_("Institution focal point"),
    Role.INSTITUTION_VIEWER: N_("Institution viewer"),
    Role.PARTNER: N_("Partner CERT"),
    Role.ENROLMENT_AGENT: N_("Enrolment agent"),
    Role.ADJUDICATOR: N_("Adjudicator"),
    Role.REGISTRY_ADMIN: N_("Registry administrator"),
    Role.PROTECTION_AUDITOR: N_("Data protection auditor"),
}


class CorePermission(StrEnum):
    """Permissions on the core's own objects."""

    USER_READ = "core:user:read"
    USER_WRITE = "core:user:write"
    TOKEN_MANAGE = "core:token:manage"
    AUDIT_READ = "core:audit:read"
    AUDIT_EXPORT = "core:audit:export"
    JOB_READ = "core:job:read"
    NOTIFICATION_READ = "core:notification:read"


_grants: dict[Role, set[str]] = {role: set() for role in Role}
_all_permissions: set[str] = set()


def grant(permissions: Iterable[str], *roles: Role) -> None:
    """Give ``permissions`` to each of ``roles`` (domains call this when they plug in)."""
    perms = {str(p) for p in permissions}
    _all_permissions.update(perms)
    for role in roles:
        _grants[role].update(perms)


def declare(permissions: Iterable[str]) -> None:
    """Make permissions known (the platform administrator holds every known permission)."""
    _all_permissions.update(str(p) for p in permissions)


def all_permissions() -> frozenset[str]:
    """Every permission declared so far."""
    return frozenset(_all_permissions)


def permissions_for(role: Role) -> frozenset[str]:
    """What ``role`` may do."""
    if role is Role.PLATFORM_ADMIN:
        return frozenset(_all_permissions)
    return frozenset(_grants[role])


grant(CorePermission, Role.PLATFORM_ADMIN)
grant([CorePermission.USER_READ, CorePermission.AUDIT_READ, CorePermission.AUDIT_EXPORT,
       CorePermission.JOB_READ], Role.AUDITOR)
grant([CorePermission.NOTIFICATION_READ, CorePermission.TOKEN_MANAGE], *Role)
grant([CorePermission.USER_READ], Role.AGENCY_OFFICER)


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: a person (session or token), the CLI, or the system."""

    user_id: int | None
    name: str
    role: Role | None
    institution_id: int | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    source_ip: str | None = None
    via: str = "session"
    token_id: int | None = None
    language: str = "fr"

    @property
    def is_national(self) -> bool:
        """Whether the actor's scope is every institution."""
        return self.role is None or self.role in NATIONAL_ROLES

    def can(self, permission: str) -> bool:
        """Whether the actor holds ``permission``."""
        return str(permission) in self.permissions

    def require(self, permission: str) -> None:
        """Raise :class:`Forbidden` unless the actor holds ``permission``."""
        if not self.can(permission):
            raise Forbidden("You are not allowed to do this (%(permission)s).",
                            permission=str(permission))


def system_actor(name: str = "system", source: str = "system") -> Actor:
    """An actor with every permission, for the CLI and internal jobs."""
    return Actor(user_id=None, name=name, role=None, permissions=all_permissions(), via=source)


S = TypeVar("S", bound=Select[Any])


def restrict(stmt: S, *, actor: Actor, permission: str,
             scope: InstrumentedAttribute[Any] | InstrumentedAttribute[int | None]) -> S:
    """Check ``permission`` and limit ``stmt`` to the rows the actor may see.

    ``scope`` is the column holding the owning institution's id.
    """
    actor.require(permission)
    if actor.is_national:
        return stmt
    if actor.institution_id is None:
        return stmt.where(scope.is_(None) & scope.is_not(None))
    return stmt.where(scope == actor.institution_id)


def in_scope(actor: Actor, institution_id: int | None) -> bool:
    """Whether an object owned by ``institution_id`` is visible to the actor."""
    return actor.is_national or (
        actor.institution_id is not None and institution_id == actor.institution_id
    )


def ensure_in_scope(actor: Actor, institution_id: int | None, permission: str,
                    *, what: str = Msg("object")) -> None:
    """Raise :class:`NotFound` if the object is out of scope, :class:`Forbidden` if unpermitted.

    Scope is checked first so that an outsider cannot learn that the object exists.
    """
    if not in_scope(actor, institution_id):
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=what if isinstance(what, Msg) else Msg(what))
    actor.require(permission)
