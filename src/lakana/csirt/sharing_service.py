"""Sharing cases with partner CERTs: share, re-share, unshare, and what each group may pull.

A share materialises the case's STIX objects (:mod:`lakana.csirt.stix_export`) into one
sharing group's collection (:class:`SharedObject`); a re-share after the case changed adds
only the new versions and withdraws what the case no longer carries (an observable re-labelled
AMBER+STRICT, a sighting removed). An unshare withdraws the case's objects from the group.

What leaves the platform never carries TLP:AMBER+STRICT or TLP:RED: a case under those
labels cannot be shared, objects marked with them are never materialised, and the serving
functions (:mod:`lakana.csirt.sharing_feed`) re-check the source case's *current* label on
every pull, so a case raised to RED after sharing disappears from the feed at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth import sharing
from lakana.core.auth.models import SharingGroup, SharingGroupMember, User
from lakana.core.auth.rbac import Actor
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.csirt import stix_export, timeline
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.access import get_case
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.sharing_models import CaseShare, SharedObject
from lakana.csirt.tlp import NEVER_SHARED

GROUP = Msg("sharing group")
SHARE = Msg("share")
#: Namespace of the TAXII collection ids (one per sharing group; fixed forever).
COLLECTION_NAMESPACE = uuid.UUID("3b8f6e0a-2c4d-5e7f-8a9b-0c1d2e3f4a5b")
#: Marking definitions that never leave the platform (defence in depth: the export already
#: leaves such objects out).
FORBIDDEN_MARKINGS = frozenset(stix_export.TLP_MARKINGS[label] for label in NEVER_SHARED)


def collection_id(group_id: int) -> str:
    """The TAXII collection id of a sharing group (a UUIDv5 of its id)."""
    return str(uuid.uuid5(COLLECTION_NAMESPACE, f"lakana-sharing-group:{group_id}"))


def parse_stamp(value: str) -> dt.datetime:
    """A STIX timestamp (``2026-01-02T03:04:05.678Z``) as an aware datetime; Invalid if not."""
    text = value.strip()
    if not text.endswith("Z") or "T" not in text:
        raise Invalid("Not a STIX timestamp: %(value)s.", value=value[:60])
    head, _, fraction = text[:-1].partition(".")
    if fraction and not fraction.isdigit():
        raise Invalid("Not a STIX timestamp: %(value)s.", value=value[:60])
    try:
        parsed = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise Invalid("Not a STIX timestamp: %(value)s.", value=value[:60]) from None
    micro = int((fraction + "000000")[:6]) if fraction else 0
    return parsed.replace(microsecond=micro, tzinfo=dt.UTC)


def stamp_micro(value: dt.datetime) -> str:
    """A STIX timestamp with microseconds (TAXII ``date_added``: exact, so that
    ``added_after`` with the last one seen never returns it again)."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- groups and collections -------------------------------------------------------------

def pullable_groups(*, session: Session, actor: Actor) -> list[SharingGroup]:
    """The groups whose collections ``actor`` may pull: a partner's own groups; every group
    for the centre (who coordinates sharing)."""
    actor.require(CsirtPermission.SHARING_PULL)
    stmt = select(SharingGroup).order_by(SharingGroup.name)
    if not actor.can(CsirtPermission.COORDINATE):
        stmt = stmt.where(SharingGroup.id.in_(
            sharing.group_ids_of(session=session, user_id=actor.user_id) or {-1}))
    return list(session.scalars(stmt))


def group_for_collection(*, session: Session, actor: Actor, collection: str) -> SharingGroup:
    """The group behind a collection id, if ``actor`` may pull it; else 404 (a partner never
    learns that another group's collection exists)."""
    if actor.can(CsirtPermission.SHARING_PULL):
        for group in pullable_groups(session=session, actor=actor):
            if collection_id(group.id) == collection:
                return group
    raise NotFound("This %(what)s does not exist or is not visible to you.",
                   what=Msg("collection"))


def _group(session: Session, group_id: int) -> SharingGroup:
    group = session.get(SharingGroup, group_id) if 0 < group_id < 2**63 else None
    if group is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=GROUP)
    return group


# --- sharing ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareResult:
    """What a share or re-share did."""

    share: CaseShare
    group: SharingGroup
    added: int
    withdrawn: int
    created: bool


def _version_of(obj: dict[str, Any]) -> str | None:
    value = obj.get("modified") or obj.get("created")
    return str(value) if value else None


def _leaves(obj: dict[str, Any]) -> bool:
    """Whether an object may leave the platform (no AMBER+STRICT or RED marking)."""
    refs = obj.get("object_marking_refs") or []
    return obj.get("id") not in FORBIDDEN_MARKINGS and not FORBIDDEN_MARKINGS.intersection(refs)


def _materialize(session: Session, group_id: int, case_id: int | None,
                 objects: list[dict[str, Any]], now: dt.datetime) -> int:
    """Add the versions of ``objects`` the group's collection lacks; return how many."""
    ids = {str(obj["id"]) for obj in objects}
    existing: dict[str, list[tuple[str, dt.datetime, dict[str, Any]]]] = {}
    for row in session.execute(
            select(SharedObject.stix_id, SharedObject.version, SharedObject.version_at,
                   SharedObject.payload)
            .where(SharedObject.group_id == group_id, SharedObject.stix_id.in_(ids))):
        existing.setdefault(row.stix_id, []).append((row.version, as_utc(row.version_at),
                                                     row.payload))
    added = 0
    for obj in objects:
        if not _leaves(obj):
            continue
        stix_id = str(obj["id"])
        versions = existing.setdefault(stix_id, [])
        version = _version_of(obj)
        if version is not None:
            if any(v == version for v, _, _ in versions):
                continue
            version_at = parse_stamp(version)
        else:
            # A cyber-observable has no ``modified``: its version is when it was added, and
            # an identical payload is not added twice.
            if versions and max(versions, key=lambda v: v[1])[2] == obj:
                continue
            version_at = now
            while any(v == stix_export.stamp(version_at) for v, _, _ in versions):
                version_at += dt.timedelta(milliseconds=1)
            version = stix_export.stamp(version_at)
        session.add(SharedObject(group_id=group_id, stix_id=stix_id,
                                 stix_type=str(obj.get("type", stix_id.partition("--")[0])),
                                 spec_version=str(obj.get("spec_version", "2.1")),
                                 version=version, version_at=version_at, date_added=now,
                                 case_id=case_id, payload=obj))
        versions.append((version, version_at, obj))
        added += 1
    return added


def _withdraw_missing(session: Session, group_id: int, case_id: int, keep: set[str]) -> int:
    """Delete the case's objects in the group that the case no longer carries."""
    stmt = delete(SharedObject).where(SharedObject.group_id == group_id,
                                      SharedObject.case_id == case_id)
    if keep:
        stmt = stmt.where(SharedObject.stix_id.not_in(keep))
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def _refuse_unshareable(case: Case) -> None:
    if not tlp_labels.shareable(case.tlp):
        raise Invalid("Case %(reference)s is %(label)s: TLP:RED and TLP:AMBER+STRICT cases never "
                      "leave the platform. Lower its label at triage first if the people who "
                      "gave the information agree.",
                      reference=case.reference or case.id, label=f"TLP:{case.tlp.upper()}")


def share_case(*, session: Session, actor: Actor, case_id: int, group_id: int) -> ShareResult:
    """Share a case with a sharing group, or re-share it (only new versions are added).

    Needs COORDINATE; refuses a TLP:RED or TLP:AMBER+STRICT case with a clear message.
    """
    case = get_case(session, actor, case_id, CsirtPermission.COORDINATE)
    group = _group(session, group_id)
    _refuse_unshareable(case)
    now = utcnow()
    share = session.scalar(select(CaseShare).where(CaseShare.case_id == case.id,
                                                   CaseShare.group_id == group.id))
    created = share is None
    if share is None:
        share = CaseShare(case_id=case.id, group_id=group.id, shared_by=actor.name,
                          shared_at=now, refreshed_at=now)
        session.add(share)
    else:
        share.refreshed_at = now
    objects = stix_export.case_objects(session, case)
    added = _materialize(session, group.id, None, stix_export.preamble(), now)
    added += _materialize(session, group.id, case.id, objects, now)
    withdrawn = _withdraw_missing(session, group.id, case.id,
                                  {str(o["id"]) for o in objects if _leaves(o)})
    session.flush()
    action = "share" if created else "reshare"
    audit.record(session=session, actor=actor, action=f"csirt.case.{action}",
                 object_type="csirt.case", object_id=case.id,
                 object_repr=f"{case.reference} {case.title}"[:300],
                 institution_id=case.institution_id,
                 details={"group": group.name, "objects_added": added,
                          "objects_withdrawn": withdrawn, "tlp": case.tlp})
    message = N_("Shared with the sharing group %(group)s.") if created else \
        N_("Shared again with the sharing group %(group)s (new versions only).")
    timeline.add_event(session, case, kind="sharing", actor=actor, message=message,
                       params={"group": group.name})
    return ShareResult(share=share, group=group, added=added, withdrawn=withdrawn,
                       created=created)


def get_share(*, session: Session, actor: Actor, share_id: int) -> tuple[CaseShare, Case]:
    """One share and its case, if ``actor`` sees the case (404) and coordinates (403)."""
    share = session.get(CaseShare, share_id) if 0 < share_id < 2**63 else None
    if share is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=SHARE)
    case = get_case(session, actor, share.case_id, CsirtPermission.COORDINATE)
    return share, case


def refresh_share(*, session: Session, actor: Actor, share_id: int) -> ShareResult:
    """Re-share after the case changed: new versions are added, withdrawn objects removed."""
    share, case = get_share(session=session, actor=actor, share_id=share_id)
    return share_case(session=session, actor=actor, case_id=case.id, group_id=share.group_id)


def unshare(*, session: Session, actor: Actor, share_id: int) -> int:
    """Stop sharing a case with a group: its objects leave the group's collection at once.

    Returns how many object versions were withdrawn.
    """
    share, case = get_share(session=session, actor=actor, share_id=share_id)
    group = _group(session, share.group_id)
    withdrawn = _withdraw_missing(session, group.id, case.id, set())
    session.delete(share)
    session.flush()
    audit.record(session=session, actor=actor, action="csirt.case.unshare",
                 object_type="csirt.case", object_id=case.id,
                 object_repr=f"{case.reference} {case.title}"[:300],
                 institution_id=case.institution_id,
                 details={"group": group.name, "objects_withdrawn": withdrawn})
    timeline.add_event(session, case, kind="sharing", actor=actor,
                       message=N_("No longer shared with the sharing group %(group)s."),
                       params={"group": group.name})
    return withdrawn


# --- listing ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareRow:
    """A share as the sharing pages list it."""

    id: int
    case_id: int
    reference: str
    title: str
    tlp: str
    group_id: int
    group: str
    shared_by: str
    shared_at: dt.datetime
    refreshed_at: dt.datetime
    stale: bool

    @property
    def served(self) -> bool:
        """Whether the case's current label still lets it leave (else it is held back)."""
        return tlp_labels.shareable(self.tlp)


def list_shares(*, session: Session, actor: Actor, case_id: int | None = None,
                group_id: int | None = None) -> list[ShareRow]:
    """Shares, newest first (one query); the centre only (COORDINATE)."""
    actor.require(CsirtPermission.COORDINATE)
    stmt = (select(CaseShare, Case.reference, Case.title, Case.tlp, Case.updated_at,
                   SharingGroup.name)
            .join(Case, Case.id == CaseShare.case_id)
            .join(SharingGroup, SharingGroup.id == CaseShare.group_id)
            .order_by(CaseShare.shared_at.desc(), CaseShare.id.desc()))
    if case_id is not None:
        stmt = stmt.where(CaseShare.case_id == case_id)
    if group_id is not None:
        stmt = stmt.where(CaseShare.group_id == group_id)
    return [ShareRow(id=share.id, case_id=share.case_id, reference=reference or f"#{share.case_id}",
                     title=title, tlp=tlp, group_id=share.group_id, group=name,
                     shared_by=share.shared_by, shared_at=share.shared_at,
                     refreshed_at=share.refreshed_at,
                     stale=as_utc(updated_at) > as_utc(share.refreshed_at))
            for share, reference, title, tlp, updated_at, name in session.execute(stmt)]


@dataclass(frozen=True)
class GroupOverview:
    """A sharing group with its partner accounts and what is shared with it."""

    id: int
    name: str
    description: str
    collection_id: str
    members: list[User]
    shares: list[ShareRow]


def overview(*, session: Session, actor: Actor) -> list[GroupOverview]:
    """Every sharing group, its members and its shares (the centre's sharing page)."""
    actor.require(CsirtPermission.COORDINATE)
    shares = list_shares(session=session, actor=actor)
    by_group: dict[int, list[ShareRow]] = {}
    for row in shares:
        by_group.setdefault(row.group_id, []).append(row)
    members: dict[int, list[User]] = {}
    for group_id, user in session.execute(
            select(SharingGroupMember.group_id, User)
            .join(User, User.id == SharingGroupMember.user_id).order_by(User.email)):
        members.setdefault(group_id, []).append(user)
    return [GroupOverview(id=g.id, name=g.name, description=g.description,
                          collection_id=collection_id(g.id), members=members.get(g.id, []),
                          shares=by_group.get(g.id, []))
            for g in sharing.list_groups(session=session)]


def groups_for_case(*, session: Session, actor: Actor, case_id: int
                    ) -> tuple[Case, list[SharingGroup], list[ShareRow]]:
    """A case, the groups it may be shared with, and its current shares (COORDINATE)."""
    case = get_case(session, actor, case_id, CsirtPermission.COORDINATE)
    return case, sharing.list_groups(session=session), list_shares(
        session=session, actor=actor, case_id=case.id)



def count_pullable_groups(session: Session, actor: Actor) -> int:
    """How many collections ``actor`` may pull (the home page card)."""
    return len(pullable_groups(session=session, actor=actor))
