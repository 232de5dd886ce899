"""Scores across campaigns over time: national, per domain and per institution.

Only launched campaigns count (open or closed), ordered by year then launch. The figures
follow the campaign scores' rules exactly (:mod:`lakana.compliance.scoring.service`: its
point and counting expressions and its tier-weighted mean are reused, not rewritten), but
come from **one** grouped query over every campaign (campaign × institution × domain code),
limited to the actor's scope by :func:`~lakana.core.auth.rbac.restrict`.

Domains are followed by their code, which stays the same across catalog versions. Every
point names its campaign (``campaign_id``) so that a figure can be traced back.

Institution roles get their own institution's series only: a national figure computed over
their scope would be their own score under another name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.campaigns.models import Answer, Assessment, Campaign
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.models import Domain, Requirement
from lakana.compliance.scoring import service as scoring

# The scoring rules themselves (effective points, what counts, percentages, tier-weighted
# mean), shared so that a trend point never drifts from the campaign's own score.
from lakana.compliance.scoring.service import counted_expr, pct, points_expr, tier_mean
from lakana.core.auth.rbac import Actor, restrict
from lakana.registry import service as registry_service

#: Campaign statuses whose scores count in trends.
LAUNCHED: tuple[str, ...] = ("open", "closed")


class CampaignRef(BaseModel):
    """A campaign on the time axis."""

    campaign_id: int
    name: str
    year: int
    status: str


class TrendPoint(BaseModel):
    """One score in one campaign (None when nothing counts there)."""

    campaign_id: int
    year: int
    score: float | None
    answers: int


class DomainTrend(BaseModel):
    """The scores of one domain (by code) across campaigns."""

    code: str
    title: str
    points: list[TrendPoint]


class InstitutionTrend(BaseModel):
    """One institution's overall and per-domain scores across campaigns."""

    institution_id: int
    acronym: str
    name: str
    overall: list[TrendPoint]
    domains: list[DomainTrend]


class Trends(BaseModel):
    """Scores over time: national and per domain (agency), and one institution's."""

    campaigns: list[CampaignRef]
    national: list[TrendPoint]
    domains: list[DomainTrend]
    institution: InstitutionTrend | None


def launched_campaigns(*, session: Session, actor: Actor) -> list[Campaign]:
    """The open and closed campaigns the actor may see, oldest first (year, launch, id)."""
    found = [c for c in campaign_service.list_campaigns(session=session, actor=actor)
             if c.status in LAUNCHED]
    return sorted(found, key=lambda c: (c.year, c.launched_at or c.created_at, c.id))


#: (campaign, institution, domain code) → [weighted points, weighted maximum, answers]
_Cells = dict[tuple[int, int, str], list[float]]


def _cells(session: Session, actor: Actor, campaign_ids: list[int]) -> _Cells:
    """Every counted answer of the campaigns, grouped — one query for all campaigns."""
    if not campaign_ids:
        return {}
    weight = Requirement.weight
    stmt: Any = (select(Assessment.campaign_id, Assessment.institution_id, Domain.code,
                   func.sum(weight * points_expr()), func.sum(weight * 5), func.count())
            .select_from(Answer)
            .join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .join(Domain, Domain.id == Requirement.domain_id)
            .where(Assessment.campaign_id.in_(campaign_ids), counted_expr()))
    stmt = restrict(stmt, actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)
    stmt = stmt.group_by(Assessment.campaign_id, Assessment.institution_id, Domain.code)
    return {(int(c), int(i), str(code)): [float(p or 0), float(m or 0), int(n)]
            for c, i, code, p, m, n in session.execute(stmt)}


def _domain_titles(session: Session, codes: set[str], language: str) -> list[tuple[str, str]]:
    """``(code, title)`` of each domain code, titled and ordered by its newest version."""
    if not codes:
        return []
    rows = session.execute(select(Domain.code, Domain.title_fr, Domain.title_en,
                                  Domain.position).where(Domain.code.in_(codes))
                           .order_by(Domain.id))
    newest = {code: (title_en if language == "en" else title_fr, position)
              for code, title_fr, title_en, position in rows}
    return [(code, title) for code, (title, _pos) in
            sorted(newest.items(), key=lambda item: (item[1][1], item[0]))]


def _point(campaign: Campaign, acc: list[float] | None) -> TrendPoint:
    points, maximum, answers = acc or (0.0, 0.0, 0)
    return TrendPoint(campaign_id=campaign.id, year=campaign.year,
                      score=pct(points, maximum), answers=int(answers))


def _add(acc: list[float], values: list[float]) -> None:
    for index, value in enumerate(values):
        acc[index] += value


@dataclass
class _Pooled:
    """The cells summed per (campaign, institution) and per (campaign, domain code)."""

    per_inst: dict[tuple[int, int], list[float]]
    per_domain: dict[tuple[int, str], list[float]]
    per_inst_domain: _Cells


def _pool(cells: _Cells) -> _Pooled:
    per_inst: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    per_domain: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for (campaign, inst, code), values in cells.items():
        _add(per_inst[campaign, inst], values)
        _add(per_domain[campaign, code], values)
    return _Pooled(per_inst, per_domain, cells)


def _national(campaigns: list[Campaign], pooled: _Pooled,
              tiers: dict[int, tuple[str, str, int]]) -> list[TrendPoint]:
    """The tier-weighted national figure of each campaign."""
    result = []
    for campaign in campaigns:
        figures = [scoring.InstitutionFigure(
            institution_id=inst, acronym=tiers[inst][0], name=tiers[inst][1],
            tier=tiers[inst][2], score=pct(acc[0], acc[1]), answers=int(acc[2]))
            for (c, inst), acc in pooled.per_inst.items() if c == campaign.id and inst in tiers]
        mean = tier_mean(figures)
        result.append(TrendPoint(campaign_id=campaign.id, year=campaign.year,
                                 score=mean.score, answers=mean.answers))
    return result


def trends(*, session: Session, actor: Actor, institution_id: int | None = None) -> Trends:
    """Scores across launched campaigns: national and per domain for agency roles, and the
    overall and per-domain series of ``institution_id`` (an institution role's own by
    default; another institution answers 404)."""
    if institution_id is None and not actor.is_national:
        institution_id = actor.institution_id if actor.institution_id is not None else -1
    subject = (registry_service.get_institution(session=session, actor=actor,
                                                institution_id=institution_id)
               if institution_id is not None else None)
    campaigns = launched_campaigns(session=session, actor=actor)
    cells = _cells(session, actor, [c.id for c in campaigns])
    titles = _domain_titles(session, {code for _c, _i, code in cells}, actor.language)
    pooled = _pool(cells)
    national: list[TrendPoint] = []
    domains: list[DomainTrend] = []
    if actor.is_national:
        tiers = {i.id: (i.acronym, i.name, i.criticality_tier)
                 for i in registry_service.all_institutions(session=session, actor=actor)}
        national = _national(campaigns, pooled, tiers)
        domains = [DomainTrend(code=code, title=title,
                               points=[_point(c, pooled.per_domain.get((c.id, code)))
                                       for c in campaigns])
                   for code, title in titles]
    institution = None
    if subject is not None:
        institution = InstitutionTrend(
            institution_id=subject.id, acronym=subject.acronym, name=subject.name,
            overall=[_point(c, pooled.per_inst.get((c.id, subject.id))) for c in campaigns],
            domains=[DomainTrend(code=code, title=title, points=[
                _point(c, pooled.per_inst_domain.get((c.id, subject.id, code)))
                for c in campaigns])
                for code, title in titles
                if any((c.id, subject.id, code) in cells for c in campaigns)])
    return Trends(campaigns=[CampaignRef(campaign_id=c.id, name=c.name, year=c.year,
                                         status=c.status) for c in campaigns],
                  national=national, domains=domains, institution=institution)


# --- chart geometry (drawn as inline SVG by the templates; no JavaScript) ------------------

@dataclass(frozen=True)
class ChartDot:
    """One plotted score."""

    x: float
    y: float
    score: float
    label: str
    campaign_id: int


@dataclass(frozen=True)
class Chart:
    """A line chart of scores 0–100 over campaigns, in SVG user units."""

    width: int
    height: int
    left: int
    bottom: int
    polyline: str
    dots: list[ChartDot]
    ticks: list[tuple[float, str]]
    grid: list[tuple[float, int]]


def chart(points: list[TrendPoint], campaigns: list[CampaignRef], *, width: int = 520,
          height: int = 180) -> Chart:
    """The geometry of a trend line: one slot per campaign, scores on a 0–100 scale."""
    left, right, top, bottom = 36, 12, 10, height - 28
    names = {c.campaign_id: c.name for c in campaigns}
    slots = max(len(points), 1)
    step = (width - left - right) / slots

    def x_of(index: int) -> float:
        return round(left + step * (index + 0.5), 1)

    def y_of(score: float) -> float:
        return round(bottom - (bottom - top) * score / 100, 1)

    dots = [ChartDot(x=x_of(i), y=y_of(p.score), score=p.score,
                     label=names.get(p.campaign_id, str(p.year)), campaign_id=p.campaign_id)
            for i, p in enumerate(points) if p.score is not None]
    return Chart(width=width, height=height, left=left, bottom=bottom,
                 polyline=" ".join(f"{d.x},{d.y}" for d in dots), dots=dots,
                 ticks=[(x_of(i), str(p.year)) for i, p in enumerate(points)],
                 grid=[(y_of(v), v) for v in (0, 25, 50, 75, 100)])
