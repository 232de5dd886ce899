"""Observables of cases: add (one or a paste of many), remove, list, search, and the cases
that share an indicator or an affected system.

An indicator is stored once (:class:`Observable`, unique by kind and SHA-256 of its value)
and linked to every case where it appeared (:class:`CaseObservable`, with that case's TLP
label, IOC flag and comment). Who sees what:

* A sighting (a link) is seen by whoever sees its case (:mod:`lakana.csirt.access`), except
  a TLP:RED one, seen by the national roles and the people named on the case (assignee,
  reporter) or who added it.
* Beyond the cases they see, institution roles learn only **how many** other cases hold
  the indicator under TLP:CLEAR or TLP:GREEN (community-shareable labels) outside a TLP:RED
  case, and nothing at all about AMBER, AMBER+STRICT or RED sightings.

Services never commit; every change is ledgered and put on the case's timeline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg, gettext, ngettext, use_language
from lakana.csirt import access, observables, timeline
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.models import Case, CaseObservable, Observable
from lakana.csirt.observables import LineError, Parsed
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.tlp import Tlp

OBSERVABLE = Msg("indicator")
COMMENT_MAX = 2000
#: Labels whose sightings other institutions may count (never their cases).
SHAREABLE = (Tlp.CLEAR.value, Tlp.GREEN.value)
#: How many shared indicators a related case names before "and N more".
REASONS_NAMED = 3


# --- what the services return ----------------------------------------------------------

@dataclass(frozen=True)
class CaseObservableView:
    """An indicator as it appears on a case's page (value raw, ``display`` defanged)."""

    id: int
    case_id: int
    observable_id: int
    kind: str
    value: str
    display: str
    tlp: str
    is_ioc: bool
    comment: str
    added_by: str
    added_at: dt.datetime
    #: In how many cases the actor may know the indicator appeared (this one included).
    sightings: int


@dataclass(frozen=True)
class Sighting:
    """One visible case where an indicator appeared."""

    case_observable_id: int
    case_id: int
    reference: str
    title: str
    status: str
    severity: str
    institution_id: int | None
    case_tlp: str
    tlp: str
    is_ioc: bool
    comment: str
    added_by: str
    added_at: dt.datetime


@dataclass(frozen=True)
class ObservableDetail:
    """An indicator with the cases the actor sees and a count of other shareable ones."""

    id: int
    kind: str
    value: str
    display: str
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    sightings: list[Sighting]
    #: Other cases holding it as TLP:CLEAR/GREEN, not visible to the actor (count only).
    shared_elsewhere: int


@dataclass(frozen=True)
class ObservableHit:
    """A search result."""

    id: int
    kind: str
    value: str
    display: str
    last_seen: dt.datetime
    sightings: int


@dataclass(frozen=True)
class RelatedCase:
    """A case related to another: sharing indicators or the affected system."""

    case_id: int
    reference: str
    title: str
    status: str
    severity: str
    #: Why, already translated for the actor ("Shared indicator 10.0.0[.]1", "Same system").
    reasons: list[str]
    #: How many indicators (visible to the actor) the two cases share.
    shared: int
    same_system: bool


@dataclass(frozen=True)
class NewObservable:
    """One indicator to add (the API's ``items``)."""

    value: str
    kind: str | None = None
    tlp: str | None = None
    is_ioc: bool = True
    comment: str = ""


@dataclass(frozen=True)
class Added:
    """An accepted indicator: the link (new, or already there) and the line it came from.

    ``visible`` is false for a link already there that the actor may not see (TLP:RED):
    callers then show only what the actor sent.
    """

    line: int
    parsed: Parsed
    item: CaseObservable
    created: bool
    visible: bool


@dataclass(frozen=True)
class AddResult:
    """What a paste gave: the accepted indicators and the refused lines."""

    accepted: list[Added]
    rejected: list[LineError]

    @property
    def created(self) -> int:
        """How many links were new."""
        return sum(1 for a in self.accepted if a.created)


# --- helpers ----------------------------------------------------------------------------

def value_hash(value: str) -> str:
    """The SHA-256 (hex) of a normalized value: the unique key with the kind."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _named(case: Case) -> set[int | None]:
    return {case.assignee_id, case.reporter_user_id}


def item_visible(actor: Actor, case: Case, item: CaseObservable) -> bool:
    """Whether ``actor``, who sees ``case``, sees this sighting (only TLP:RED narrows)."""
    if actor.is_national:
        return True
    if actor.user_id is not None and item.added_by and item.added_by == actor.name:
        return True
    return tlp_labels.can_see(actor, item.tlp, named_user_ids=_named(case))


def _item_clause(actor: Actor, item: Any = CaseObservable) -> ColumnElement[bool]:
    """SQL twin of :func:`item_visible` (``Case`` must be joined to ``item``'s case)."""
    if actor.is_national:
        return true()
    if actor.user_id is None:
        return item.tlp != Tlp.RED.value  # type: ignore[no-any-return]
    return or_(item.tlp != Tlp.RED.value, Case.assignee_id == actor.user_id,
               Case.reporter_user_id == actor.user_id, item.added_by == actor.name)


def _shared_clause() -> ColumnElement[bool]:
    """Sightings other institutions may count: CLEAR/GREEN, outside TLP:RED cases."""
    return and_(CaseObservable.tlp.in_(SHAREABLE), Case.tlp != Tlp.RED.value)


def _restricted(stmt: Any, actor: Actor) -> Select[Any]:
    """``stmt`` (selecting from :class:`Case`) limited to the cases the actor sees."""
    return access.restrict_cases(cast("Select[Any]", stmt), actor)


def _visible_sightings_stmt(actor: Actor) -> Select[Any]:
    """(observable id, case id) of the sightings the actor sees."""
    stmt = select(CaseObservable.observable_id, CaseObservable.case_id).join(
        Case, Case.id == CaseObservable.case_id)
    return _restricted(stmt, actor).where(_item_clause(actor))


def _shared_sightings_stmt() -> Select[Any]:
    return cast("Select[Any]", select(CaseObservable.observable_id, CaseObservable.case_id).join(
        Case, Case.id == CaseObservable.case_id).where(_shared_clause()))


def _sighting_counts(session: Session, actor: Actor, ids: Iterable[int]) -> dict[int, int]:
    """For each observable id, in how many cases the actor may know it appeared."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    if actor.is_national:
        actor.require(CsirtPermission.CASE_READ)
        rows = session.execute(select(CaseObservable.observable_id, func.count())
                               .where(CaseObservable.observable_id.in_(wanted))
                               .group_by(CaseObservable.observable_id)).all()
        return {int(obs): int(count) for obs, count in rows}
    both = union(_visible_sightings_stmt(actor).where(CaseObservable.observable_id.in_(wanted)),
                 _shared_sightings_stmt().where(CaseObservable.observable_id.in_(wanted)))
    counts: dict[int, int] = defaultdict(int)
    for obs, _case in session.execute(both).all():  # union already removed duplicates
        counts[int(obs)] += 1
    return dict(counts)


def _upsert(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Observable]:
    """The shared rows of ``keys`` (kind, value), inserting the missing ones.

    ``INSERT … ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL) makes two requests adding the
    same new indicator at once meet on one row instead of failing on the unique index.
    """
    if not keys:
        return {}
    hashes = sorted({value_hash(v) for _, v in keys})
    wanted = set(keys)

    def load() -> dict[tuple[str, str], Observable]:
        found: dict[tuple[str, str], Observable] = {}
        for start in range(0, len(hashes), 500):
            for row in session.scalars(select(Observable).where(
                    Observable.value_hash.in_(hashes[start:start + 500]))):
                if (row.kind, row.value) in wanted:
                    found[(row.kind, row.value)] = row
        return found

    found = load()
    missing = sorted(wanted - set(found))
    if missing:
        now = utcnow()
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(Observable).values([
            {"kind": kind, "value": value, "value_hash": value_hash(value), "first_seen": now,
             "last_seen": now} for kind, value in missing]).on_conflict_do_nothing(
            index_elements=["kind", "value_hash"]))
        found = load()
    return found


def _check_comment(comment: str | None) -> str:
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise Invalid("The comment is too long (%(length)s characters, at most %(max)s).",
                      length=len(text), max=COMMENT_MAX)
    return text


def _state(item: CaseObservable, parsed: Parsed | None = None) -> dict[str, Any]:
    """The ledgered state of a link (the value is only digested by the ledger)."""
    obs = item.observable if parsed is None else None
    return {"case_id": item.case_id, "observable_id": item.observable_id,
            "kind": parsed.kind if parsed else obs.kind if obs else None,
            "value": parsed.value if parsed else obs.value if obs else None,
            "tlp": item.tlp, "is_ioc": item.is_ioc, "comment": item.comment}


# --- adding and removing ----------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    line: int
    parsed: Parsed
    tlp: str
    is_ioc: bool
    comment: str


def obs_id(added: Added) -> int:
    """The shared indicator's id of an accepted line."""
    return added.item.observable_id


def _attach(session: Session, actor: Actor, case: Case, entries: list[_Entry]) -> list[Added]:
    """Link every entry to ``case`` (idempotent), then ledger and put it on the timeline."""
    shared = _upsert(session, [(e.parsed.kind, e.parsed.value) for e in entries])
    ids = sorted({o.id for o in shared.values()})
    existing = {row.observable_id: row for row in session.scalars(select(CaseObservable).where(
        CaseObservable.case_id == case.id, CaseObservable.observable_id.in_(ids)))} if ids else {}
    now = utcnow()
    added: list[Added] = []
    for entry in entries:
        obs = shared[(entry.parsed.kind, entry.parsed.value)]
        if obs.id in existing:
            item = existing[obs.id]
            added.append(Added(line=entry.line, parsed=entry.parsed, item=item, created=False,
                               visible=item_visible(actor, case, item)))
            continue
        item = CaseObservable(case_id=case.id, observable_id=obs.id, tlp=entry.tlp,
                              is_ioc=entry.is_ioc, comment=entry.comment,
                              added_by=actor.name, added_at=now)
        item.observable = obs
        session.add(item)
        existing[obs.id] = item
        obs.last_seen = now
        added.append(Added(line=entry.line, parsed=entry.parsed, item=item, created=True,
                           visible=True))
    try:
        session.flush()
    except IntegrityError:  # the same indicator was linked by a concurrent request
        raise Conflict("Someone added the same indicator to this case meanwhile: reload the "
                       "case and try again.") from None
    created = [a for a in added if a.created]
    for new in created:
        audit.record(session=session, actor=actor, action="csirt.observable.add",
                     object_type="case_observable", object_id=new.item.id,
                     object_repr=f"{case.reference} — {new.parsed.kind} #{obs_id(new)}",
                     after=_state(new.item, new.parsed), institution_id=case.institution_id)
    if len(created) == 1:
        one = created[0]
        timeline.add_event(session, case, kind="observable", actor=actor,
                           message=N_("Indicator %(value)s added (%(kind)s)."),
                           params={"value": one.parsed.display, "kind": one.parsed.kind},
                           tlp=tlp_labels.stricter(case.tlp, one.item.tlp).value)
    elif created:
        timeline.add_event(session, case, kind="observable", actor=actor,
                           message=N_("%(count)s indicators added."),
                           params={"count": len(created)})
    return added


def add_to_case(*, session: Session, actor: Actor, case_id: int, kind: str | None,
                value: str, tlp: str | None = None, is_ioc: bool = True,
                comment: str | None = "") -> CaseObservable:
    """Add one indicator to a case (idempotent: an indicator already there is returned as
    is). The TLP label defaults to the case's."""
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_CONTRIBUTE)
    parsed = observables.parse(kind, value)
    label = tlp_labels.parse(tlp, default=Tlp(case.tlp))
    entry = _Entry(line=1, parsed=parsed, tlp=label.value, is_ioc=is_ioc,
                   comment=_check_comment(comment))
    return _attach(session, actor, case, [entry])[0].item


def add_many(*, session: Session, actor: Actor, case_id: int, text: str | None = None,
             items: list[NewObservable] | None = None, kind: str | None = None,
             tlp: str | None = None, is_ioc: bool = True, comment: str | None = "") -> AddResult:
    """Add a paste (``text``, one indicator a line) or a list of ``items`` to a case.

    Valid indicators are added, refused ones reported with their line (or position in
    ``items``, from 1); ``kind``, ``tlp``, ``is_ioc`` and ``comment`` apply to a paste's
    lines. Raises :class:`Invalid` only when nothing was given or nothing is valid.
    """
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_CONTRIBUTE)
    default_label = tlp_labels.parse(tlp, default=Tlp(case.tlp))
    note = _check_comment(comment)
    entries: list[_Entry] = []
    rejected: list[LineError] = []
    if text is not None and text.strip():
        result = observables.parse_many(text, kind)
        rejected.extend(result.errors)
        entries = [_Entry(line=p.line, parsed=p.parsed, tlp=default_label.value,
                          is_ioc=is_ioc, comment=note) for p in result.items]
    for number, new in enumerate(items or [], 1):
        try:
            entries.append(_Entry(line=number, parsed=observables.parse(new.kind, new.value),
                                  tlp=tlp_labels.parse(new.tlp, default=default_label).value,
                                  is_ioc=new.is_ioc, comment=_check_comment(new.comment)))
        except Invalid as exc:
            rejected.append(LineError(line=number, text=str(new.value)[:observables.MAX_LENGTH],
                                      error=exc))
    if len(entries) + len(rejected) > observables.MAX_ITEMS:
        raise Invalid("Too many indicators in one request (%(count)s, at most %(max)s).",
                      count=len(entries) + len(rejected), max=observables.MAX_ITEMS)
    if not entries and not rejected:
        raise Invalid("Give at least one indicator.")
    if not entries:
        raise Invalid("No indicator was accepted: %(count)s refused.", count=len(rejected),
                      errors=[rejection(e) for e in rejected])
    return AddResult(accepted=_attach(session, actor, case, entries), rejected=rejected)


def rejection(error: LineError) -> dict[str, Any]:
    """A refused line as a problem document's ``errors`` item (message translated later)."""
    return {"line": error.line, "value": observables.shown(error.text),
            "message": error.error.message, "params": dict(error.error.params)}


def get_case_observable(*, session: Session, actor: Actor, case_observable_id: int,
                        permission: str = CsirtPermission.CASE_READ
                        ) -> tuple[Case, CaseObservable]:
    """A link and its case, if the actor sees both (404 otherwise)."""
    item = session.get(CaseObservable, case_observable_id)
    if item is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=OBSERVABLE)
    case = access.get_case(session, actor, item.case_id)
    if not item_visible(actor, case, item):
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=OBSERVABLE)
    actor.require(permission)  # after visibility: a hidden link is missing, not forbidden
    return case, item


def remove_from_case(*, session: Session, actor: Actor, case_observable_id: int) -> Case:
    """Take an indicator off a case (the shared indicator stays for the other cases and the
    history); returns the case."""
    case, item = get_case_observable(session=session, actor=actor,
                                     case_observable_id=case_observable_id,
                                     permission=CsirtPermission.CASE_MANAGE)
    before = _state(item)
    display = observables.defang(item.observable.kind, item.observable.value)
    label = tlp_labels.stricter(case.tlp, item.tlp).value
    session.delete(item)
    session.flush()
    audit.record(session=session, actor=actor, action="csirt.observable.remove",
                 object_type="case_observable", object_id=case_observable_id,
                 object_repr=f"{case.reference} — {before['kind']} #{before['observable_id']}",
                 before=before, institution_id=case.institution_id)
    timeline.add_event(session, case, kind="observable", actor=actor,
                       message=N_("Indicator %(value)s removed."), params={"value": display},
                       tlp=label)
    return case


# --- reading ----------------------------------------------------------------------------

def for_case(*, session: Session, actor: Actor, case: Case) -> list[CaseObservableView]:
    """The indicators of ``case`` the actor sees, oldest first, each with its number of
    sightings (as far as the actor may know)."""
    if not access.can_see_case(actor, case):
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=access.CASE)
    actor.require(CsirtPermission.CASE_READ)
    rows = [row for row in session.scalars(
        select(CaseObservable).where(CaseObservable.case_id == case.id)
        .order_by(CaseObservable.added_at, CaseObservable.id)) if item_visible(actor, case, row)]
    counts = _sighting_counts(session, actor, (r.observable_id for r in rows))
    return [CaseObservableView(
        id=r.id, case_id=r.case_id, observable_id=r.observable_id, kind=r.observable.kind,
        value=r.observable.value, display=observables.defang(r.observable.kind,
                                                             r.observable.value),
        tlp=r.tlp, is_ioc=r.is_ioc, comment=r.comment, added_by=r.added_by,
        added_at=r.added_at, sightings=counts.get(r.observable_id, 1)) for r in rows]


def cases_for_observable(*, session: Session, actor: Actor, observable_id: int
                         ) -> tuple[list[Sighting], int]:
    """The cases where an indicator appeared that the actor sees (newest first), and how
    many other cases hold it as TLP:CLEAR/GREEN (0 for national roles, who see them all)."""
    stmt = _restricted(select(CaseObservable, Case).join(
        Case, Case.id == CaseObservable.case_id), actor).where(
        CaseObservable.observable_id == observable_id, _item_clause(actor)).order_by(
        CaseObservable.added_at.desc(), CaseObservable.id.desc())
    sightings = [Sighting(
        case_observable_id=item.id, case_id=case.id, reference=case.reference or "",
        title=case.title, status=case.status, severity=case.severity,
        institution_id=case.institution_id, case_tlp=case.tlp, tlp=item.tlp,
        is_ioc=item.is_ioc, comment=item.comment, added_by=item.added_by,
        added_at=item.added_at) for item, case in session.execute(stmt).all()]
    if actor.is_national:
        return sightings, 0
    seen = [s.case_id for s in sightings]
    others = session.scalar(select(func.count()).select_from(CaseObservable).join(
        Case, Case.id == CaseObservable.case_id).where(
        CaseObservable.observable_id == observable_id, _shared_clause(),
        CaseObservable.case_id.not_in(seen) if seen else true())) or 0
    return sightings, int(others)


def get_observable(*, session: Session, actor: Actor, observable_id: int) -> ObservableDetail:
    """An indicator with the cases the actor sees. An institution role gets 404 for an
    indicator it sees in none of its cases and that no case shares as CLEAR/GREEN."""
    obs = session.get(Observable, observable_id)
    if obs is None:
        actor.require(CsirtPermission.CASE_READ)
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=OBSERVABLE)
    sightings, shared = cases_for_observable(session=session, actor=actor,
                                             observable_id=obs.id)
    if not actor.is_national and not sightings and not shared:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=OBSERVABLE)
    first: dt.datetime | None = obs.first_seen
    last: dt.datetime | None = obs.last_seen
    if not actor.is_national:  # the global dates would tell of sightings the actor may not know
        dates = [s.added_at for s in sightings]
        first, last = (min(dates), max(dates)) if dates else (None, None)
    return ObservableDetail(id=obs.id, kind=obs.kind, value=obs.value,
                            display=observables.defang(obs.kind, obs.value), first_seen=first,
                            last_seen=last, sightings=sightings, shared_elsewhere=shared)


def search(*, session: Session, actor: Actor, q: str | None,
           limit: int = 50) -> list[ObservableHit]:
    """Indicators the actor may know, by value: the exact normalized value (defanged input
    accepted), a prefix of the value, and for a domain its URLs and e-mail addresses."""
    text = observables.refang(q or "")
    if len(text) < 3:
        return []
    needle = text.lower()
    conditions: list[ColumnElement[bool]] = [
        func.lower(Observable.value).startswith(needle, autoescape=True)]
    try:
        parsed = observables.parse(None, text)
    except Invalid:
        parsed = None
    if parsed is not None:
        conditions.append(and_(Observable.kind == parsed.kind,
                               Observable.value_hash == value_hash(parsed.value)))
        conditions.append(Observable.value.startswith(parsed.value, autoescape=True))
        if parsed.kind == observables.Kind.DOMAIN:
            conditions.extend([
                Observable.value.contains(f"://{parsed.value}/", autoescape=True),
                Observable.value.contains(f"://{parsed.value}:", autoescape=True),
                Observable.value.endswith(f"@{parsed.value}", autoescape=True)])
    stmt = select(Observable).where(or_(*conditions))
    if actor.is_national:
        actor.require(CsirtPermission.CASE_READ)
    else:
        known = union(_visible_sightings_stmt(actor), _shared_sightings_stmt()).subquery()
        stmt = stmt.where(Observable.id.in_(select(known.c.observable_id)))
    rows = list(session.scalars(stmt.order_by(Observable.last_seen.desc(), Observable.id)
                                .limit(max(1, min(limit, 200)))))
    counts = _sighting_counts(session, actor, (r.id for r in rows))
    return [ObservableHit(id=r.id, kind=r.kind, value=r.value,
                          display=observables.defang(r.kind, r.value), last_seen=r.last_seen,
                          sightings=counts.get(r.id, 0)) for r in rows]


def related_cases(*, session: Session, actor: Actor, case: Case,
                  limit: int = 20) -> list[RelatedCase]:
    """Cases the actor sees that share at least one indicator with ``case`` (both sightings
    visible to the actor) or its affected system, most shared indicators first.

    Two queries whatever the number of indicators; reasons are in the actor's language.
    """
    if not access.can_see_case(actor, case):
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=access.CASE)
    mine = aliased(CaseObservable)
    if actor.is_national or (actor.user_id is not None and actor.user_id in _named(case)):
        mine_visible: ColumnElement[bool] = true()
    elif actor.user_id is None:
        mine_visible = mine.tlp != Tlp.RED.value
    else:
        mine_visible = or_(mine.tlp != Tlp.RED.value, mine.added_by == actor.name)
    shared_stmt = _restricted(
        select(Case.id, Case.reference, Case.title, Case.status, Case.severity,
               Case.reported_at, Observable.kind, Observable.value)
        .select_from(CaseObservable)
        .join(Case, Case.id == CaseObservable.case_id)
        .join(Observable, Observable.id == CaseObservable.observable_id)
        .join(mine, mine.observable_id == CaseObservable.observable_id), actor).where(
        mine.case_id == case.id, CaseObservable.case_id != case.id, mine_visible,
        _item_clause(actor)).order_by(Case.id, Observable.kind, Observable.value)
    found: dict[int, dict[str, Any]] = {}
    for cid, ref, title, status, severity, reported, kind, value in session.execute(shared_stmt):
        entry = found.setdefault(cid, {"reference": ref or "", "title": title,
                                       "status": status, "severity": severity,
                                       "reported_at": reported, "indicators": [],
                                       "same_system": False})
        entry["indicators"].append(observables.defang(kind, value))
    if case.system_id is not None:
        system_stmt = _restricted(
            select(Case.id, Case.reference, Case.title, Case.status, Case.severity,
                   Case.reported_at), actor).where(Case.system_id == case.system_id,
                                                   Case.id != case.id)
        for cid, ref, title, status, severity, reported in session.execute(system_stmt):
            entry = found.setdefault(cid, {"reference": ref or "", "title": title,
                                           "status": status, "severity": severity,
                                           "reported_at": reported, "indicators": [],
                                           "same_system": False})
            entry["same_system"] = True
    ranked = sorted(found.items(), key=lambda kv: (
        -len(kv[1]["indicators"]), not kv[1]["same_system"],
        -kv[1]["reported_at"].timestamp() if kv[1]["reported_at"] else 0, kv[0]))
    with use_language(actor.language):
        return [RelatedCase(case_id=cid, reference=e["reference"], title=e["title"],
                            status=e["status"], severity=e["severity"],
                            reasons=_reasons(e["indicators"], e["same_system"]),
                            shared=len(e["indicators"]), same_system=e["same_system"])
                for cid, e in ranked[:max(1, limit)]]


def _reasons(indicators: list[str], same_system: bool) -> list[str]:
    """Why two cases are related, in the current language."""
    reasons = [gettext("Shared indicator %(value)s", value=value)
               for value in indicators[:REASONS_NAMED]]
    more = len(indicators) - REASONS_NAMED
    if more > 0:
        reasons.append(ngettext("and %(num)s more shared indicator",
                                "and %(num)s more shared indicators", more))
    if same_system:
        reasons.append(gettext("Same affected system"))
    return reasons


def count_observables(session: Session, actor: Actor) -> int:
    """How many distinct indicators the actor may know (dashboard)."""
    if actor.is_national:
        actor.require(CsirtPermission.CASE_READ)
        return session.scalar(select(func.count()).select_from(Observable)) or 0
    known = union(_visible_sightings_stmt(actor), _shared_sightings_stmt()).subquery()
    return session.scalar(select(func.count(func.distinct(known.c.observable_id)))) or 0

