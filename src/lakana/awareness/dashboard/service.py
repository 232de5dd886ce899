"""The awareness overview, composed from the skills register, training and phishing
services (never their tables), over the institutions the actor may see.

Per institution: registered trainees and people trained (training coverage), required
security-role seats and those filled (role coverage), and phishing exercises with their
click and report rates. Over time: completions per quarter, and phishing click and report
rates per quarter. Percentages are whole numbers; ``None`` where there is nothing to divide.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lakana.awareness.phishing import service as phishing
from lakana.awareness.skills import service as skills
from lakana.awareness.skills.permissions import SkillsPermission
from lakana.awareness.training import service as training
from lakana.awareness.training.permissions import TrainingPermission
from lakana.core import audit
from lakana.core.auth.rbac import Actor

COLUMNS = ("acronym", "name", "tier", "trainees", "people_trained", "training_coverage",
           "seats_required", "seats_filled", "role_coverage", "phishing_exercises",
           "phishing_targets", "click_rate", "report_rate")


@dataclass
class PhishingFigures:
    """Phishing totals of an institution (or the nation): exercises, people targeted,
    clicks and reports."""

    exercises: int = 0
    targets: int = 0
    clicked: int = 0
    reported: int = 0

    @property
    def click_rate(self) -> int | None:
        """Targets who clicked, in percent."""
        return percent(self.clicked, self.targets)

    @property
    def report_rate(self) -> int | None:
        """Targets who reported the message, in percent."""
        return percent(self.reported, self.targets)


@dataclass
class OverviewRow:
    """One institution's awareness figures (``institution_id`` ``None`` for the nation)."""

    institution_id: int | None
    acronym: str
    name: str
    tier: int | None
    trainees: int
    people_trained: int
    training_coverage: int | None
    seats_required: int
    seats_filled: int
    role_coverage: int | None
    phishing: PhishingFigures = field(default_factory=PhishingFigures)

    def cells(self) -> list[str | int | float | None]:
        """The row's values in the order of :data:`COLUMNS`."""
        return [self.acronym, self.name, self.tier, self.trainees, self.people_trained,
                self.training_coverage, self.seats_required, self.seats_filled,
                self.role_coverage, self.phishing.exercises, self.phishing.targets,
                self.phishing.click_rate, self.phishing.report_rate]


@dataclass
class QuarterPoint:
    """One quarter of the trends: completions, and phishing targets, clicks and reports."""

    quarter: str
    completions: int = 0
    phishing: PhishingFigures = field(default_factory=PhishingFigures)


@dataclass
class Overview:
    """The awareness overview: rows per institution, the nation's row and quarterly trends."""

    as_of: dt.date
    institutions: list[OverviewRow]
    total: OverviewRow
    quarters: list[QuarterPoint]


def percent(part: int, whole: int) -> int | None:
    """``part`` of ``whole`` in whole percent, ``None`` when ``whole`` is 0."""
    return part * 100 // whole if whole else None


def quarter_of(day: dt.date) -> str:
    """``"2026-T4"``: the year and quarter of ``day`` (as training's completions)."""
    return f"{day.year}-T{(day.month - 1) // 3 + 1}"


def _add(figures: PhishingFigures, totals: phishing.ExerciseTotals) -> None:
    figures.exercises += 1
    figures.targets += totals.sent
    figures.clicked += totals.clicked
    figures.reported += totals.reported


def _phishing(session: Session, actor: Actor
              ) -> tuple[dict[int, PhishingFigures], dict[str, PhishingFigures]]:
    """Phishing totals of the sent exercises the actor sees, per institution and per
    quarter of sending (people mailed are the base of the rates)."""
    by_institution: dict[int, PhishingFigures] = defaultdict(PhishingFigures)
    by_quarter: dict[str, PhishingFigures] = defaultdict(PhishingFigures)
    for totals in phishing.exercise_totals(session=session, actor=actor):
        _add(by_institution[totals.institution_id], totals)
        _add(by_quarter[quarter_of(totals.day)], totals)
    return by_institution, by_quarter


def overview(*, session: Session, actor: Actor, day: dt.date | None = None) -> Overview:
    """The overview over every institution the actor sees (an institution's staff: theirs)."""
    actor.require(SkillsPermission.SKILLS_READ)
    actor.require(TrainingPermission.TRAINING_READ)
    staffing = skills.national_staffing(session=session, actor=actor, day=day)
    completion = {r.institution_id: r
                  for r in training.completion_table(session=session, actor=actor).institutions}
    by_institution, by_quarter = _phishing(session, actor)
    rows: list[OverviewRow] = []
    for staff in staffing.institutions:
        trained = completion.get(staff.institution_id)
        rows.append(OverviewRow(
            institution_id=staff.institution_id, acronym=staff.acronym, name=staff.name,
            tier=staff.tier, trainees=trained.trainees if trained else 0,
            people_trained=trained.people_trained if trained else 0,
            training_coverage=trained.coverage if trained else None,
            seats_required=staff.required, seats_filled=staff.filled,
            role_coverage=staff.coverage,
            phishing=by_institution.get(staff.institution_id, PhishingFigures())))
    rows.sort(key=lambda r: r.acronym)
    total_phishing = PhishingFigures(
        exercises=sum(r.phishing.exercises for r in rows),
        targets=sum(r.phishing.targets for r in rows),
        clicked=sum(r.phishing.clicked for r in rows),
        reported=sum(r.phishing.reported for r in rows))
    trainees = sum(r.trainees for r in rows)
    trained_people = sum(r.people_trained for r in rows)
    total = OverviewRow(
        institution_id=None, acronym="", name="", tier=None, trainees=trainees,
        people_trained=trained_people, training_coverage=percent(trained_people, trainees),
        seats_required=staffing.required, seats_filled=staffing.filled,
        role_coverage=staffing.coverage, phishing=total_phishing)
    completions = training.completions_by_quarter(session=session, actor=actor)
    quarters = [QuarterPoint(quarter=q, completions=completions.get(q, 0),
                             phishing=by_quarter.get(q, PhishingFigures()))
                for q in sorted(set(completions) | set(by_quarter))]
    return Overview(as_of=staffing.as_of, institutions=rows, total=total, quarters=quarters)


def ledger_export(*, session: Session, actor: Actor, fmt: str) -> None:
    """Ledger a download of the overview (it names institutions' gaps)."""
    audit.record(session=session, actor=actor, action="awareness.dashboard.download",
                 object_type="awareness_dashboard", object_id=None,
                 object_repr="awareness overview", institution_id=actor.institution_id,
                 details={"format": fmt})
