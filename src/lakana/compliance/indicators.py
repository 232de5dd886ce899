"""The baseline compliance figures the national strategy follows (see
:mod:`lakana.core.indicators`).

An institution is *assessed* in a period when its own assessment (institution level, not one
of its systems) was **approved** — the last step of the review, the only one the agency
vouches for — between 1 January of the period's last year and the period's end: a year
counts its approvals, a quarter the approvals of its year so far (campaigns are yearly, so a
quarter's figure follows progress towards the year's target). Its score is that of its latest
such assessment, computed by the campaign scores' own rules
(:mod:`lakana.compliance.scoring.service`: effective points, what counts, the
criticality-tier-weighted national mean), over one query for every assessment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.models import Requirement
from lakana.compliance.scoring.service import (
    InstitutionFigure,
    counted_expr,
    pct,
    points_expr,
    tier_mean,
)
from lakana.core.auth.rbac import Actor, restrict
from lakana.core.i18n import N_
from lakana.core.indicators import IndicatorSource, Measurement, Period
from lakana.registry import service as registry_service
from lakana.registry.service import InstitutionSummary

NO_INSTITUTION = N_("No institution is registered.")
NO_ASSESSMENT = N_("No institution's assessment was approved in the period.")
NO_SCORE = N_("The assessments approved in the period have no rated answer.")


def _window_start(period: Period) -> dt.datetime:
    """1 January of the period's last year (or the period's start, if earlier)."""
    start = min(period.start, dt.date(period.end.year, 1, 1))
    return dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)


def _latest_approved(session: Session, actor: Actor, period: Period,
                     institutions: dict[int, InstitutionSummary]) -> dict[int, int]:
    """The latest approved institution-level assessment of each registered institution in
    the window: ``{institution_id: assessment_id}``."""
    columns: Any = select(Assessment.institution_id, Assessment.id, Assessment.approved_at)
    stmt = restrict(columns, actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id).where(
        Assessment.status == "approved", Assessment.system_id.is_(None),
        Assessment.approved_at >= _window_start(period), Assessment.approved_at < period.until)
    latest: dict[int, tuple[Any, int]] = {}
    for institution_id, assessment_id, approved_at in session.execute(stmt):
        if institution_id not in institutions:
            continue
        seen = latest.get(institution_id)
        if seen is None or (approved_at, assessment_id) > seen:
            latest[institution_id] = (approved_at, assessment_id)
    return {inst: ident for inst, (_when, ident) in latest.items()}


def _scores(session: Session, assessment_ids: list[int]) -> dict[int, tuple[float | None, int]]:
    """``{assessment_id: (score, answers counted)}`` by the campaign scores' rules."""
    found: dict[int, tuple[float | None, int]] = {}
    weight = Requirement.weight
    for start in range(0, len(assessment_ids), 500):
        stmt = (select(Answer.assessment_id, func.sum(weight * points_expr()),
                       func.sum(weight * 5), func.count())
                .join(Assessment, Assessment.id == Answer.assessment_id)
                .join(Requirement, Requirement.id == Answer.requirement_id)
                .where(Answer.assessment_id.in_(assessment_ids[start:start + 500]),
                       counted_expr())
                .group_by(Answer.assessment_id))
        for ident, points, maximum, count in session.execute(stmt):
            found[int(ident)] = (pct(float(points or 0), float(maximum or 0)), int(count))
    return found


def _institutions(session: Session, actor: Actor) -> dict[int, InstitutionSummary]:
    return {i.id: i for i in registry_service.institution_summaries(session=session, actor=actor)}


def assessed_share(session: Session, actor: Actor, period: Period) -> Measurement:
    """Registered institutions with an approved assessment in the window, in percent."""
    institutions = _institutions(session, actor)
    if not institutions:
        return Measurement.none(NO_INSTITUTION)
    assessed = len(_latest_approved(session, actor, period, institutions))
    return Measurement(value=round(100 * assessed / len(institutions), 1),
                       inputs={"numerator": assessed, "denominator": len(institutions)})


def average_score(session: Session, actor: Actor, period: Period) -> Measurement:
    """The tier-weighted mean score of the institutions assessed in the window."""
    institutions = _institutions(session, actor)
    if not institutions:
        return Measurement.none(NO_INSTITUTION)
    latest = _latest_approved(session, actor, period, institutions)
    if not latest:
        return Measurement.none(NO_ASSESSMENT)
    scores = _scores(session, sorted(latest.values()))
    figures = []
    for institution_id, assessment_id in latest.items():
        inst = institutions[institution_id]
        score, answers = scores.get(assessment_id, (None, 0))
        figures.append(InstitutionFigure(institution_id=inst.id, acronym=inst.acronym,
                                         name=inst.name, tier=inst.criticality_tier,
                                         score=score, answers=answers))
    mean = tier_mean(figures)
    if mean.score is None:
        return Measurement.none(NO_SCORE)
    scored = sum(1 for f in figures if f.score is not None)
    return Measurement(value=mean.score,
                       inputs={"institutions_scored": scored, "institutions_assessed": len(latest),
                               "answers": mean.answers})


SOURCES: tuple[IndicatorSource, ...] = (
    IndicatorSource(
        key="compliance.assessed_share",
        label=N_("Institutions assessed against the national baseline"),
        formula=N_("Registered institutions whose own baseline assessment was approved between "
                   "1 January of the period's year and the end of the period ÷ registered "
                   "institutions × 100."),
        unit="%", compute=assessed_share, direction="higher"),
    IndicatorSource(
        key="compliance.average_score",
        label=N_("Average baseline compliance score"),
        formula=N_("Mean of the scores (0–100) of the latest assessments approved between "
                   "1 January of the period's year and the end of the period, each "
                   "institution weighted by its criticality tier (tier 1 × 3, tier 2 × 2, "
                   "tier 3 × 1), as the campaigns' national score."),
        unit="/100", compute=average_score, direction="higher"),
)
