"""Statutory deadlines of a case, defined as data (``data/regulations.json``).

A *regulation* applies to a case when its ``applies_when`` conditions hold; each of its
*clocks* then runs on the case: it starts from one of the case's timestamps and is due
``hours`` later. A clock is *met* automatically from a case timestamp (``acknowledged``,
``contained``, ``closed``, ``dpa_notified``) or by hand (``manual``: a focal point or an
analyst marks it, with a note).

Decisions worth knowing:

* :func:`start_for_case` is idempotent and is called again after every change of the case
  (triage, transitions): a clock whose regulation now applies is added (personal data turned
  on later adds the APDP clock); an **unmet** clock whose regulation no longer applies is
  *withdrawn* (deleted, with a timeline event and a ledger entry saying so), while a **met**
  clock is kept as history. A case closed as not an incident (false positive, duplicate, out
  of scope) has no statutory clock left running.
* An unmet clock follows its starting time: when the detection time is corrected, its due
  date moves (and it may warn again). A met clock is frozen.
* A case without a detection time counts from when it was reported.
* States are computed against ``now`` (a parameter, so tests freeze time): ``running``,
  ``met``, ``met_late`` and ``overdue``. An automatic clock counts as met from its case
  timestamp even before :func:`sync_automatic` wrote it down.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import record
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.csirt import access, timeline
from lakana.csirt.models import Case, CaseAttachment, CaseClock
from lakana.csirt.permissions import CsirtPermission

DATA = Path(__file__).parent / "data" / "regulations.json"
CLOCK = Msg("statutory deadline")

STARTS_FROM = ("reported_at", "detected_at", "acknowledged_at")
#: How an automatic clock is met: the case timestamp that meets it.
AUTOMATIC = {"acknowledged": "acknowledged_at", "contained": "contained_at",
             "closed": "closed_at", "dpa_notified": "dpa_notified_at"}
#: Clocks a person may mark met (``dpa_notified`` too: the institution may notify itself).
MARKABLE = frozenset({"manual", "dpa_notified"})
MET_WHEN = (*AUTOMATIC, "manual")
NOTIFY = ("assignee", "analysts", "institution")
CONDITIONS: dict[str, type] = {"source": list, "severity": list, "personal_data": bool,
                               "biometric_data": bool, "has_institution": bool}
#: Closure reasons meaning "this was no incident": no statutory clock runs on such a case.
NOT_AN_INCIDENT = frozenset({"false_positive", "duplicate", "out_of_scope"})

_REGULATION_KEYS = {"id", "title_fr", "title_en", "source", "applies_when", "clocks"}
_CLOCK_KEYS = {"id", "title_fr", "title_en", "starts_from", "hours", "met_when", "notify"}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
_SYSTEM = system_actor("csirt.clocks", source="system")


class RegulationError(ValueError):
    """The regulations file is malformed (raised when it is loaded, with the place)."""


@dataclass(frozen=True)
class ClockRule:
    """One deadline of a regulation."""

    id: str
    title_fr: str
    title_en: str
    starts_from: str
    hours: int
    met_when: str
    notify: tuple[str, ...]

    def title(self, language: str) -> str:
        """The clock's title in ``language``."""
        return self.title_fr if language == "fr" else self.title_en

    @property
    def markable(self) -> bool:
        """Whether a person may mark it met."""
        return self.met_when in MARKABLE


@dataclass(frozen=True)
class Regulation:
    """A regulation: when it applies and the clocks it runs."""

    id: str
    title_fr: str
    title_en: str
    source: str
    applies_when: Mapping[str, Any]
    clocks: tuple[ClockRule, ...]

    def title(self, language: str) -> str:
        """The regulation's title in ``language``."""
        return self.title_fr if language == "fr" else self.title_en


@dataclass(frozen=True)
class ClockView:
    """A clock as shown on a case page or a list: titles, dates, state, delay in words."""

    id: int
    case_id: int
    regulation: str
    clock: str
    title: str
    regulation_title: str
    source: str
    starts_at: dt.datetime
    due_at: dt.datetime
    met_at: dt.datetime | None
    met_by: str | None
    met_note: str
    #: running, met, met_late or overdue.
    state: str
    #: "reste 5 h", "en retard de 2 j", "atteint avec 3 h de retard"…
    delay: str
    markable: bool
    overdue_notified_at: dt.datetime | None


@dataclass(frozen=True)
class OverdueClock:
    """An overdue clock with its case, for dashboards."""

    clock: ClockView
    case_id: int
    reference: str
    case_title: str
    institution_id: int | None


# --- loading ---------------------------------------------------------------------------

def _fail(where: str, message: str) -> RegulationError:
    return RegulationError(f"regulations: {where}: {message}")


def _check_keys(item: Any, allowed: set[str], where: str) -> None:
    if not isinstance(item, dict):
        raise _fail(where, "expected an object")
    unknown = set(item) - allowed
    missing = allowed - set(item)
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}")
    if missing:
        raise _fail(where, f"missing key(s) {sorted(missing)}")
    for key in ("id", "title_fr", "title_en"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise _fail(where, f"{key} must be a non-empty text")
    if not _ID.match(item["id"]):
        raise _fail(where, f"id {item['id']!r} must be lower-case letters, digits and dashes")


def _check_conditions(conditions: Any, where: str) -> dict[str, Any]:
    if not isinstance(conditions, dict):
        raise _fail(where, "applies_when must be an object")
    for key, value in conditions.items():
        if key not in CONDITIONS:
            raise _fail(where, f"unknown condition {key!r} (known: {sorted(CONDITIONS)})")
        expected = CONDITIONS[key]
        if expected is list:
            ok = isinstance(value, list) and bool(value) and all(isinstance(v, str)
                                                                 for v in value)
        else:
            ok = isinstance(value, bool)
        if not ok:
            kind = "a non-empty list of texts" if expected is list else "true or false"
            raise _fail(where, f"condition {key!r} must be {kind}")
    return dict(conditions)


def _parse_clock(item: Any, where: str) -> ClockRule:
    _check_keys(item, _CLOCK_KEYS, where)
    if item["starts_from"] not in STARTS_FROM:
        raise _fail(where, f"starts_from must be one of {list(STARTS_FROM)}")
    if item["met_when"] not in MET_WHEN:
        raise _fail(where, f"met_when must be one of {list(MET_WHEN)}")
    hours = item["hours"]
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 < hours <= 24 * 366:
        raise _fail(where, "hours must be a whole number between 1 and 8784")
    notify = item["notify"]
    if not isinstance(notify, list) or any(n not in NOTIFY for n in notify):
        raise _fail(where, f"notify must be a list of {list(NOTIFY)}")
    return ClockRule(id=item["id"], title_fr=item["title_fr"], title_en=item["title_en"],
                     starts_from=item["starts_from"], hours=hours, met_when=item["met_when"],
                     notify=tuple(dict.fromkeys(notify)))


def parse_regulations(document: Any) -> tuple[Regulation, ...]:
    """Validate a regulations document (already decoded) and return its regulations."""
    if not isinstance(document, dict) or not isinstance(document.get("regulations"), list):
        raise _fail("document", "expected an object with a list 'regulations'")
    found: list[Regulation] = []
    seen: set[str] = set()
    for index, item in enumerate(document["regulations"]):
        where = f"regulations[{index}]"
        _check_keys(item, _REGULATION_KEYS, where)
        where = f"regulation {item['id']!r}"
        if item["id"] in seen:
            raise _fail(where, "duplicate id")
        seen.add(item["id"])
        if not isinstance(item["source"], str) or not item["source"].strip():
            raise _fail(where, "source must name the legal text (or say it is a default)")
        conditions = _check_conditions(item["applies_when"], where)
        if not isinstance(item["clocks"], list) or not item["clocks"]:
            raise _fail(where, "clocks must be a non-empty list")
        rules = tuple(_parse_clock(c, f"{where}, clock {i}") for i, c in enumerate(item["clocks"]))
        if len({r.id for r in rules}) != len(rules):
            raise _fail(where, "duplicate clock id")
        found.append(Regulation(id=item["id"], title_fr=item["title_fr"],
                                title_en=item["title_en"], source=item["source"],
                                applies_when=conditions, clocks=rules))
    return tuple(found)


@lru_cache(maxsize=4)
def _load_file(path: Path) -> tuple[Regulation, ...]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(str(path), f"cannot be read as JSON ({exc})") from exc
    return parse_regulations(document)


def load_regulations(path: Path | None = None) -> tuple[Regulation, ...]:
    """The regulations of ``path`` (the shipped file by default), validated and cached.

    Raises :class:`RegulationError` naming the faulty regulation, clock and key.
    """
    return _load_file(path or DATA)


def _rules(regulations: Sequence[Regulation] | None = None) -> dict[tuple[str, str],
                                                                     tuple[Regulation, ClockRule]]:
    return {(reg.id, rule.id): (reg, rule) for reg in (regulations or load_regulations())
            for rule in reg.clocks}


# --- which clocks run ------------------------------------------------------------------

def applies(regulation: Regulation, case: Case) -> bool:
    """Whether ``regulation``'s conditions hold for ``case``."""
    if case.status == "closed" and case.closure_reason in NOT_AN_INCIDENT:
        return False
    facts: dict[str, Any] = {
        "source": case.source, "severity": case.severity,
        "personal_data": bool(case.personal_data), "biometric_data": bool(case.biometric_data),
        "has_institution": case.institution_id is not None}
    for key, wanted in regulation.applies_when.items():
        value = facts[key]
        if isinstance(wanted, list) and value not in wanted:
            return False
        if isinstance(wanted, bool) and value is not wanted:
            return False
    return True


def _start(case: Case, rule: ClockRule) -> dt.datetime | None:
    value: dt.datetime | None = getattr(case, rule.starts_from)
    if value is None and rule.starts_from == "detected_at":
        value = case.reported_at  # no detection time: count from the report
    return as_utc(value) if value is not None else None


def _case_clocks(case: Case) -> list[CaseClock]:
    # Through the relationship, so that the case's collection stays true within the session.
    return sorted(case.clocks, key=lambda c: (as_utc(c.due_at), c.id or 0))


def start_for_case(session: Session, case: Case, *, actor: Actor | None = None,
                   now: dt.datetime | None = None,
                   regulations: Sequence[Regulation] | None = None) -> list[CaseClock]:
    """Start the clocks whose regulation applies to ``case`` (idempotent); return the case's
    clocks after the call.

    Call it when a case is reported and again after each change (triage, transitions): new
    clocks start, unmet ones follow their starting time or are withdrawn when their
    regulation stops applying, automatic ones are met (see the module's notes).
    """
    who = actor or _SYSTEM
    if case.id is None:
        session.add(case)
        session.flush()
    existing = {(c.regulation, c.clock): c for c in _case_clocks(case)}
    wanted: set[tuple[str, str]] = set()
    started: list[str] = []
    moment = as_utc(now or utcnow())
    for regulation in regulations or load_regulations():
        if not applies(regulation, case):
            continue
        for rule in regulation.clocks:
            begin = _start(case, rule)
            if begin is None:
                continue  # e.g. counts from the acknowledgement, not there yet
            key = (regulation.id, rule.id)
            wanted.add(key)
            due = begin + dt.timedelta(hours=rule.hours)
            found = existing.get(key)
            if found is None:
                found = CaseClock(regulation=regulation.id, clock=rule.id, starts_at=begin,
                                  due_at=due, met_note="")
                case.clocks.append(found)
                existing[key] = found
                started.append(rule.title_en)
                timeline.add_event(session, case, kind="clock", actor=who,
                                   message=N_("Statutory deadline started: %(clock)s, due "
                                              "%(due)s."),
                                   params={"clock": rule.title_fr, "clock_en": rule.title_en,
                                           "due": as_utc(due).isoformat(timespec="minutes")})
            elif found.met_at is None and as_utc(found.starts_at) != begin:
                found.starts_at, found.due_at = begin, due
                if due > moment:
                    found.overdue_notified_at = None  # no longer late: may warn again later
    withdrawn = [c for k, c in existing.items() if k not in wanted and c.met_at is None]
    for clock in withdrawn:
        _withdraw(session, case, clock, who)
        del existing[(clock.regulation, clock.clock)]
    session.flush()
    if started or withdrawn:
        record(session=session, actor=who, action="csirt.clock.start", object_type="csirt.case",
               object_id=case.id, object_repr=case.reference or f"#{case.id}",
               institution_id=case.institution_id,
               details={"started": started,
                        "withdrawn": [f"{c.regulation}/{c.clock}" for c in withdrawn]})
    sync_automatic(session, case, actor=who)
    return _case_clocks(case)


def _withdraw(session: Session, case: Case, clock: CaseClock, actor: Actor) -> None:
    rule = _rules().get((clock.regulation, clock.clock))
    timeline.add_event(session, case, kind="clock", actor=actor,
                       message=N_("Statutory deadline withdrawn (no longer applies): "
                                  "%(clock)s."),
                       params={"clock": rule[1].title_fr if rule else clock.clock,
                               "clock_en": rule[1].title_en if rule else clock.clock})
    case.clocks.remove(clock)  # delete-orphan: the row goes


def sync_automatic(session: Session, case: Case, *, actor: Actor | None = None) -> int:
    """Mark the automatic clocks of ``case`` met from its timestamps; return how many."""
    rules = _rules()
    changed = 0
    for clock in _case_clocks(case):
        found = rules.get((clock.regulation, clock.clock))
        if clock.met_at is not None or found is None or found[1].met_when not in AUTOMATIC:
            continue
        stamp: dt.datetime | None = getattr(case, AUTOMATIC[found[1].met_when])
        if stamp is None:
            continue
        clock.met_at, clock.met_by = as_utc(stamp), (actor or _SYSTEM).name[:254]
        changed += 1
        timeline.add_event(session, case, kind="clock", actor=actor or _SYSTEM,
                           message=N_("Statutory deadline met: %(clock)s."),
                           params={"clock": found[1].title_fr,
                                   "clock_en": found[1].title_en})
    if changed:
        session.flush()
    return changed


# --- marking by hand -------------------------------------------------------------------

def get_clock(*, session: Session, actor: Actor, clock_id: int,
              permission: str = CsirtPermission.CASE_READ) -> tuple[CaseClock, Case]:
    """A clock and its case, if the actor sees the case and holds ``permission``."""
    clock = session.get(CaseClock, clock_id)
    if clock is None:
        actor.require(CsirtPermission.CASE_READ)
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=CLOCK)
    case = access.get_case(session, actor, clock.case_id, permission)
    return clock, case


def mark_met(*, session: Session, actor: Actor, clock_id: int, note: str,
             attachment_id: int | None = None, now: dt.datetime | None = None) -> CaseClock:
    """Mark a manual clock met (a focal point or an analyst, with a note and optionally one
    of the case's attachments as proof); timeline and ledger."""
    clock, case = get_clock(session=session, actor=actor, clock_id=clock_id,
                            permission=CsirtPermission.CASE_CONTRIBUTE)
    found = _rules().get((clock.regulation, clock.clock))
    if found is None or not found[1].markable:
        raise Conflict("This deadline is met automatically from the case's progress; it "
                       "cannot be marked by hand.")
    if clock.met_at is not None:
        raise Conflict("This deadline was already marked met.")
    text = (note or "").strip()
    if not text:
        raise Invalid("Say how the deadline was met (a note is required).",
                      errors=[{"field": "note", "message": N_("This value is required.")}])
    if len(text) > 2000:
        raise Invalid("The note is too long (at most %(max)s characters).", max=2000)
    if attachment_id is not None:
        attachment = session.get(CaseAttachment, attachment_id)
        if attachment is None or attachment.case_id != case.id:
            raise Invalid("The attachment must be one of this case's files.")
    clock.met_at = as_utc(now or utcnow())
    clock.met_by = actor.name[:254]
    clock.met_note = text
    rule = found[1]
    timeline.add_event(session, case, kind="clock", actor=actor,
                       message=N_("Statutory deadline marked met: %(clock)s (%(note)s)."),
                       params={"clock": rule.title_fr, "clock_en": rule.title_en,
                               "note": text, "attachment_id": attachment_id})
    session.flush()
    record(session=session, actor=actor, action="csirt.clock.met", object_type="csirt.clock",
           object_id=clock.id, object_repr=f"{case.reference} {clock.regulation}/{clock.clock}",
           institution_id=case.institution_id,
           details={"case_id": case.id, "attachment_id": attachment_id,
                    "late": as_utc(clock.met_at) > as_utc(clock.due_at)})
    return clock


# --- views -----------------------------------------------------------------------------

def human_duration(delta: dt.timedelta) -> str:
    """A duration in words in the current language: ``"45 min"``, ``"5 h"``, ``"2 j"``."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return i18n.gettext("%(count)s min", count=minutes)
    hours = minutes // 60
    if hours < 48:
        return i18n.gettext("%(count)s h", count=hours)
    return i18n.gettext("%(count)s d", count=hours // 24)


def effective_met_at(clock: CaseClock, case: Case, rule: ClockRule | None) -> dt.datetime | None:
    """When the clock was met: as recorded, or from the case's timestamp for automatic ones."""
    if clock.met_at is not None:
        return as_utc(clock.met_at)
    if rule is not None and rule.met_when in AUTOMATIC:
        stamp: dt.datetime | None = getattr(case, AUTOMATIC[rule.met_when])
        return as_utc(stamp) if stamp is not None else None
    return None


def state_of(due_at: dt.datetime, met_at: dt.datetime | None, now: dt.datetime
             ) -> tuple[str, str]:
    """The state of a clock and its delay in words (current language)."""
    due = as_utc(due_at)
    if met_at is not None:
        if met_at > due:
            return "met_late", i18n.gettext("met %(delay)s late",
                                            delay=human_duration(met_at - due))
        return "met", i18n.gettext("met on time")
    if now > due:
        return "overdue", i18n.gettext("%(delay)s overdue", delay=human_duration(now - due))
    return "running", i18n.gettext("%(delay)s left", delay=human_duration(due - now))


def _view(clock: CaseClock, case: Case, language: str, now: dt.datetime,
          rules: Mapping[tuple[str, str], tuple[Regulation, ClockRule]]) -> ClockView:
    found = rules.get((clock.regulation, clock.clock))
    regulation, rule = found if found else (None, None)
    met_at = effective_met_at(clock, case, rule)
    state, delay = state_of(clock.due_at, met_at, now)
    return ClockView(
        id=clock.id, case_id=case.id, regulation=clock.regulation, clock=clock.clock,
        title=rule.title(language) if rule else clock.clock,
        regulation_title=regulation.title(language) if regulation else clock.regulation,
        source=regulation.source if regulation else "", starts_at=as_utc(clock.starts_at),
        due_at=as_utc(clock.due_at), met_at=met_at, met_by=clock.met_by or None,
        met_note=clock.met_note or "", state=state, delay=delay,
        markable=bool(rule and rule.markable) and met_at is None,
        overdue_notified_at=(as_utc(clock.overdue_notified_at)
                             if clock.overdue_notified_at else None))


def views_for_case(session: Session, case: Case, language: str, *,
                   now: dt.datetime | None = None) -> list[ClockView]:
    """The clocks of ``case`` (which the caller already may see) as views, soonest first."""
    moment = as_utc(now or utcnow())
    rules = _rules()
    with i18n.use_language(language):
        return [_view(c, case, language, moment, rules) for c in _case_clocks(case)]


def list_for_case(*, session: Session, actor: Actor, case_id: int, language: str,
                  now: dt.datetime | None = None) -> list[ClockView]:
    """The clocks of a case the actor may see."""
    case = access.get_case(session, actor, case_id)
    return views_for_case(session, case, language, now=now)


def _overdue_rows(session: Session, actor: Actor, moment: dt.datetime
                  ) -> list[tuple[CaseClock, Case]]:
    base: Select[Any] = select(CaseClock, Case).join(  # type: ignore[assignment]
        Case, Case.id == CaseClock.case_id).where(
        CaseClock.met_at.is_(None), CaseClock.due_at < as_utc(moment)).order_by(
        CaseClock.due_at, CaseClock.id)
    stmt = access.restrict_cases(base, actor)
    return [(row[0], row[1]) for row in session.execute(stmt)]


def overdue(*, session: Session, actor: Actor, language: str | None = None,
            now: dt.datetime | None = None, limit: int = 200) -> list[OverdueClock]:
    """Overdue unmet clocks of the cases the actor sees, most overdue first."""
    moment = as_utc(now or utcnow())
    lang = language or i18n.current_language()
    rules = _rules()
    found: list[OverdueClock] = []
    with i18n.use_language(lang):
        for clock, case in _overdue_rows(session, actor, moment):
            view = _view(clock, case, lang, moment, rules)
            if view.state != "overdue":
                continue  # met from the case's timestamps, not yet written down
            found.append(OverdueClock(clock=view, case_id=case.id,
                                      reference=case.reference or f"#{case.id}",
                                      case_title=case.title, institution_id=case.institution_id))
            if len(found) >= limit:
                break
    return found


def count_overdue(session: Session, actor: Actor) -> int:
    """How many overdue clocks the actor sees (the dashboard card)."""
    if not actor.can(CsirtPermission.CASE_READ):
        return 0
    return len(overdue(session=session, actor=actor, limit=10_000))


def count_unmet(session: Session, case: Case) -> int:
    """How many clocks of ``case`` are not met (for summaries)."""
    return int(session.execute(select(func.count()).select_from(CaseClock).where(
        CaseClock.case_id == case.id, CaseClock.met_at.is_(None))).scalar_one())


def rule_for(clock: CaseClock) -> tuple[Regulation, ClockRule] | None:
    """The regulation and rule of a stored clock (``None`` if the file no longer has it)."""
    return _rules().get((clock.regulation, clock.clock))
