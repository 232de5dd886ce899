"""Sharing groups: the circles of trust (partner CERTs) the centre shares intelligence with.

Groups live in the core because membership is a property of accounts; what is shared with a
group (cases, indicators) is decided by the domains. Only the platform administrator and the
CLI create groups and change members.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.models import SharingGroup, SharingGroupMember, User
from lakana.core.auth.rbac import Actor, CorePermission, Role
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import Msg

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
GROUP = Msg("sharing group")


def _check_name(name: str) -> str:
    cleaned = name.strip().lower()
    if not _NAME.fullmatch(cleaned):
        raise Invalid("A sharing group's name has 2 to 60 characters: lower-case letters, digits, "
                      "'.', '_' or '-' (%(name)s).", name=name[:80])
    return cleaned


def create_group(*, session: Session, actor: Actor, name: str,
                 description: str = "") -> SharingGroup:
    """Create a sharing group; its name must be new."""
    actor.require(CorePermission.USER_WRITE)
    cleaned = _check_name(name)
    if session.scalar(select(SharingGroup.id).where(SharingGroup.name == cleaned)) is not None:
        raise Conflict("A sharing group named %(name)s already exists.", name=cleaned)
    group = SharingGroup(name=cleaned, description=description.strip()[:2000],
                         created_by=actor.name)
    session.add(group)
    session.flush()
    audit.record(session=session, actor=actor, action="core.sharing_group.create",
                 object_type="sharing_group", object_id=group.id, object_repr=group.name,
                 after={"name": group.name, "description": group.description})
    return group


def list_groups(*, session: Session) -> list[SharingGroup]:
    """Every sharing group, by name."""
    return list(session.scalars(select(SharingGroup).order_by(SharingGroup.name)))


def get_group_by_name(*, session: Session, name: str) -> SharingGroup:
    """The group called ``name`` (404 if none)."""
    group = session.scalar(select(SharingGroup).where(
        SharingGroup.name == name.strip().lower()))
    if group is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=GROUP)
    return group


def add_member(*, session: Session, actor: Actor, group: SharingGroup, user: User) -> None:
    """Put ``user`` in ``group`` (idempotent). Only partner accounts join sharing groups."""
    actor.require(CorePermission.USER_WRITE)
    if user.role != Role.PARTNER.value:
        raise Invalid("Only partner accounts belong to sharing groups.")
    if session.get(SharingGroupMember, (group.id, user.id)) is not None:
        return
    session.add(SharingGroupMember(group_id=group.id, user_id=user.id))
    session.flush()
    audit.record(session=session, actor=actor, action="core.sharing_group.add_member",
                 object_type="sharing_group", object_id=group.id, object_repr=group.name,
                 after={"user": user.email})


def remove_member(*, session: Session, actor: Actor, group: SharingGroup, user: User) -> None:
    """Take ``user`` out of ``group`` (idempotent)."""
    actor.require(CorePermission.USER_WRITE)
    member = session.get(SharingGroupMember, (group.id, user.id))
    if member is None:
        return
    session.delete(member)
    session.flush()
    audit.record(session=session, actor=actor, action="core.sharing_group.remove_member",
                 object_type="sharing_group", object_id=group.id, object_repr=group.name,
                 before={"user": user.email})


def group_ids_of(*, session: Session, user_id: int | None) -> set[int]:
    """The ids of the groups ``user_id`` belongs to (none for the system actor)."""
    if user_id is None:
        return set()
    return set(session.scalars(select(SharingGroupMember.group_id)
                               .where(SharingGroupMember.user_id == user_id)))


def members(*, session: Session, group_id: int) -> list[User]:
    """The accounts in a group, by e-mail."""
    return list(session.scalars(
        select(User).join(SharingGroupMember, SharingGroupMember.user_id == User.id)
        .where(SharingGroupMember.group_id == group_id).order_by(User.email)))
