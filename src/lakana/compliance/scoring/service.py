"""Scores of a campaign, computed on read (no table of their own).

Rules, in the order they apply:

* **Effective rating**: the auditor's override wins (``override_status`` over ``status``,
  ``override_maturity`` over ``maturity``), as :class:`~lakana.compliance.campaigns.models.Answer`.
* **Institution's own assessment only**: answers of system-level assessments are not pooled
  into their institution's figures (one weak system would otherwise drag the whole
  institution, and more systems would weigh more).
* **Requirement**: effective maturity / 5 × 100; *not implemented* counts as 0; *not
  applicable* and unanswered answers are excluded (they count in no figure).
* **Domain, CSF function, institution**: average of the answers' points weighted by the
  requirement's weight, pooled over every answer in the actor's scope. A CSF function is the
  first two letters of each of the requirement's ``csf_refs`` (GV, ID, PR, DE, RS, RC); a
  requirement mapped to two functions counts in both.
* **Ministry**: a root institution of the hierarchy (no parent) with all its descendants.
  Its score is the mean of the scores of those bodies (the ministry included), each weighted
  by its criticality tier — tier 1 × 3, tier 2 × 2, tier 3 × 1 — so a critical body weighs
  more than a small one whatever its number of answers.
* **National**: the same tier-weighted mean over every scored institution.

Every figure carries ``answers``, the number of answers it is computed from; heatmap cells
carry the assessment to drill down to. The heatmap is one grouped SQL query (institution ×
domain), limited by :func:`~lakana.core.auth.rbac.restrict` to the actor's institution for
institution roles; the national and per-domain figures are derived from its cells. Kept per
process, it is checked against stamps that database triggers change on every write
(:mod:`lakana.compliance.scoring.models`): after a write to some institutions' answers or
assessments, only their cells are read again (the same query limited to them) and the
national and per-domain figures are derived again from all the cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.campaigns.schemas import AnswerStatus
from lakana.compliance.models import Domain, Requirement
from lakana.compliance.scoring.cache import StampedCache, current_stamp, row_stamps
from lakana.compliance.scoring.models import EVERY_ROW
from lakana.core.auth.rbac import Actor, restrict
from lakana.registry import service as registry_service
from lakana.registry.permissions import RegistryPermission
from lakana.registry.service import InstitutionSummary

#: Weight of an institution in ministry and national scores, by criticality tier.
TIER_WEIGHTS: dict[int, int] = {1: 3, 2: 2, 3: 1}
#: The NIST CSF 2.0 functions, in their usual order.
CSF_FUNCTIONS: tuple[str, ...] = ("GV", "ID", "PR", "DE", "RS", "RC")


class Figure(BaseModel):
    """A score (0–100, None when nothing counts) and the number of answers behind it."""

    score: float | None
    answers: int


class DomainFigure(Figure):
    """The score of one domain."""

    domain_id: int
    code: str
    title: str


class CsfFigure(Figure):
    """The score of one CSF function."""

    function: str


class RequirementFigure(Figure):
    """The score of one requirement."""

    requirement_id: int
    control_id: str


class InstitutionFigure(Figure):
    """The score of one institution."""

    institution_id: int
    acronym: str
    name: str
    tier: int


class Scores(BaseModel):
    """The campaign's national, per-domain and per-CSF-function scores."""

    campaign_id: int
    national: Figure
    domains: list[DomainFigure]
    csf_functions: list[CsfFigure]
    requirements: list[RequirementFigure]
    institutions: list[InstitutionFigure]
    ministries: list[InstitutionFigure]


# Cells and rows are plain slotted dataclasses, not Pydantic models: a national heatmap holds
# thousands of them, built from values already typed, and validating each one cost more than
# the grouped query itself. Pydantic still serializes them in API responses.
@dataclass(slots=True)
class Cell:
    """One heatmap cell: an institution's score in a domain, and its assessment."""

    score: float | None
    answers: int
    domain_id: int
    assessment_id: int


@dataclass(slots=True)
class HeatmapRow:
    """One heatmap row: an institution, its cells by domain, its overall figure."""

    institution_id: int
    acronym: str
    name: str
    total: Figure
    cells: list[Cell | None]


class Heatmap(BaseModel):
    """The institutions × domains matrix of a campaign."""

    campaign_id: int
    national: Figure
    domains: list[DomainFigure]
    rows: list[HeatmapRow]


def pct(points: float, maximum: float) -> float | None:
    """``points`` out of ``maximum`` as a percentage with one decimal (None when nothing
    counts)."""
    return round(100 * points / maximum, 1) if maximum else None


def points_expr() -> ColumnElement[Any]:
    """The effective points (0–5) of an answer: override first, not implemented = 0."""
    status = func.coalesce(Answer.override_status, Answer.status)
    maturity = func.coalesce(Answer.override_maturity, Answer.maturity, 0)
    return case((status == AnswerStatus.NOT_IMPLEMENTED.value, literal(0)), else_=maturity)


def counted_expr() -> ColumnElement[bool]:
    """Whether an answer counts in institution figures: answered, applicable, and from the
    institution's own assessment (a system's assessment is scored on its own, never pooled
    into its institution's score)."""
    status = func.coalesce(Answer.override_status, Answer.status)
    return (status.is_not(None) & (status != AnswerStatus.NOT_APPLICABLE.value)
            & Assessment.system_id.is_(None))


def _scoped(actor: Actor, campaign_id: int, *columns: Any) -> Any:
    """``select(columns)`` over the campaign's counted answers, in the actor's scope."""
    stmt = (select(*columns).select_from(Answer)
            .join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.campaign_id == campaign_id, counted_expr()))
    return restrict(stmt, actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)


def _cells(session: Session, actor: Actor, campaign_id: int,
           institution_ids: Collection[int] | None = None) -> Sequence[Any]:
    """(institution, domain, weighted points, weighted maximum, answers, assessment) — one
    grouped query, over every institution in scope or only ``institution_ids``."""
    weight = Requirement.weight
    stmt = _scoped(actor, campaign_id, Assessment.institution_id, Requirement.domain_id,
                   func.sum(weight * points_expr()), func.sum(weight * 5), func.count(),
                   func.min(Assessment.id)
                   ).group_by(Assessment.institution_id, Requirement.domain_id)
    if institution_ids is not None:
        stmt = stmt.where(Assessment.institution_id.in_(sorted(institution_ids)))
    # Core execution on the session's connection: plain rows, without the ORM's result
    # machinery (the rows are numbers; nothing here is an entity).
    return session.connection().execute(stmt).fetchall()


def _domains(session: Session, domain_ids: Collection[int],
             language: str) -> list[tuple[int, str, str]]:
    if not domain_ids:
        return []
    rows = session.execute(select(Domain.id, Domain.code, Domain.title_fr, Domain.title_en)
                           .where(Domain.id.in_(domain_ids))
                           .order_by(Domain.position, Domain.id))
    return [(r[0], r[1], r[2] if language == "fr" else r[3]) for r in rows]


def tier_mean(figures: list[InstitutionFigure]) -> Figure:
    """The criticality-tier-weighted mean of institution scores."""
    scored = [f for f in figures if f.score is not None]
    total = sum(TIER_WEIGHTS.get(f.tier, 1) for f in scored)
    mean = (round(sum(TIER_WEIGHTS.get(f.tier, 1) * (f.score or 0) for f in scored) / total, 1)
            if total else None)
    return Figure(score=mean, answers=sum(f.answers for f in figures))


@dataclass(slots=True)
class _Part:
    """One institution's cells as the grouped query gave them, with the sums the other
    figures are derived from. Never changed once built: heatmaps share them."""

    cells: dict[int, Cell]
    #: (domain, weighted points, weighted maximum, answers) of each cell.
    sums: list[tuple[int, int, int, int]]
    points: int = 0
    maximum: int = 0
    answers: int = 0


def _parts(rows: Sequence[Any]) -> dict[int, _Part]:
    """The grouped rows of :func:`_cells` by institution."""
    parts: dict[int, _Part] = {}
    for inst, domain, raw_points, raw_maximum, count, assessment_id in rows:
        # Sums of weights (integers) × maturities (integers): kept as exact integers, so
        # that totals updated by subtracting and adding parts are the totals summed afresh.
        points, maximum = int(raw_points or 0), int(raw_maximum or 0)
        part = parts.get(inst)
        if part is None:
            part = parts[inst] = _Part({}, [])
        part.cells[domain] = Cell(round(100 * points / maximum, 1) if maximum else None,
                                  count, domain, assessment_id)
        part.sums.append((domain, points, maximum, count))
        part.points += points
        part.maximum += maximum
        part.answers += count
    return parts


def _add(totals: dict[int, list[int]], part: _Part, sign: int = 1) -> None:
    """Add (``sign`` 1) or take away (-1) ``part``'s sums to the totals by domain."""
    for domain, points, maximum, count in part.sums:
        acc = totals.get(domain)
        if acc is None:
            totals[domain] = [sign * points, sign * maximum, sign * count]
        else:
            acc[0] += sign * points
            acc[1] += sign * maximum
            acc[2] += sign * count


class _Matrix:
    """The heatmap cells with the figures derived from them.

    Built from the cells by institution (``parts``), the institutions in scope, the domains
    and the totals by domain (weighted points, weighted maximum, answers); ``reuse`` lends
    the institution figures of parts it shares with an earlier matrix (a figure depends only
    on its part and its institution)."""

    def __init__(self, parts: dict[int, _Part], institutions: dict[int, InstitutionSummary],
                 domains: list[tuple[int, str, str]], totals: dict[int, list[int]],
                 reuse: _Matrix | None = None) -> None:
        self.parts, self.institutions, self.domains = parts, institutions, domains
        self.totals = totals
        self.domain_figures = [
            DomainFigure.model_construct(domain_id=d, code=code, title=title,
                                         score=pct(totals[d][0], totals[d][1]),
                                         answers=totals[d][2])
            for d, code, title in domains]
        #: institution figures by institution.
        self.figures: dict[int, InstitutionFigure] = {}
        for i, part in parts.items():
            kept = (reuse.figures.get(i) if reuse is not None and reuse.parts.get(i) is part
                    else None)
            if kept is not None:
                self.figures[i] = kept
            elif (found := institutions.get(i)) is not None:
                self.figures[i] = InstitutionFigure.model_construct(
                    institution_id=i, acronym=found.acronym, name=found.name,
                    tier=found.criticality_tier, score=pct(part.points, part.maximum),
                    answers=part.answers)
        self.institution_figures = sorted(self.figures.values(), key=lambda f: f.acronym)
        self.national = tier_mean(self.institution_figures)

    @classmethod
    def compute(cls, session: Session, actor: Actor, campaign_id: int) -> _Matrix:
        """The matrix of ``campaign_id`` in the actor's scope, computed afresh."""
        campaign_service.require_campaign(session=session, actor=actor, campaign_id=campaign_id)
        parts = _parts(_cells(session, actor, campaign_id))
        institutions = {i.id: i for i in
                        registry_service.institution_summaries(session=session, actor=actor)}
        totals: dict[int, list[int]] = {}
        for part in parts.values():
            _add(totals, part)
        return cls(parts, institutions, _domains(session, totals.keys(), actor.language),
                   totals)

    def recompute(self, session: Session, actor: Actor, campaign_id: int,
                  changed: Collection[int]) -> _Matrix:
        """This matrix with the cells of the ``changed`` institutions read again, everything
        else (institutions, domains, the other institutions' cells) reused: valid while only
        those institutions' answers and assessments were written."""
        fresh = _parts(_cells(session, actor, campaign_id, changed))
        parts = {i: p for i, p in self.parts.items() if i not in changed}
        parts.update(fresh)
        # The totals updated rather than summed again over every cell (exact: integers).
        totals = {d: list(acc) for d, acc in self.totals.items()}
        for i in changed:
            if (old := self.parts.get(i)) is not None:
                _add(totals, old, -1)
        for part in fresh.values():
            _add(totals, part)
        # Each cell counts one answer at least: a domain without answers has no cell left.
        totals = {d: acc for d, acc in totals.items() if acc[2]}
        domains = self.domains
        if totals.keys() != {d[0] for d in domains}:  # a domain got its first or lost its last
            domains = _domains(session, totals.keys(), actor.language)
        return _Matrix(parts, self.institutions, domains, totals, reuse=self)

    def heatmap(self, campaign_id: int,
                reuse: tuple[_Matrix, Heatmap] | None = None) -> Heatmap:
        """The matrix as a heatmap; ``reuse`` lends the rows of an earlier matrix's heatmap
        for the parts both share (same objects: pages keep their markup by row)."""
        domain_ids = [d[0] for d in self.domains]
        previous: dict[int, HeatmapRow] = {}
        if reuse is not None and reuse[0].domains == self.domains:
            previous = {row.institution_id: row for row in reuse[1].rows
                        if reuse[0].parts.get(row.institution_id) is
                        self.parts.get(row.institution_id)}
        rows = []
        for figure in self.institution_figures:
            row = previous.get(figure.institution_id)
            if row is None:
                found = self.parts[figure.institution_id].cells
                row = HeatmapRow(institution_id=figure.institution_id, acronym=figure.acronym,
                                 name=figure.name, cells=[found.get(d) for d in domain_ids],
                                 total=Figure.model_construct(score=figure.score,
                                                              answers=figure.answers))
            rows.append(row)
        return Heatmap.model_construct(campaign_id=campaign_id, national=self.national,
                                       domains=self.domain_figures, rows=rows)


@dataclass(frozen=True, slots=True)
class _Cached:
    """A heatmap, the matrix it was made from and the stamps read before its figures."""

    stamp: str
    row_stamps: dict[int, str]
    matrix: _Matrix
    heatmap: Heatmap


#: Computed heatmaps by (campaign, scope, language): a few campaigns are looked at over and
#: over, and recomputing 3,600 cells cost more than the grouped query itself.
_HEATMAPS: StampedCache[_Cached] = StampedCache(size=8)


def heatmap(*, session: Session, actor: Actor, campaign_id: int) -> Heatmap:
    """The institutions × domains matrix of ``campaign_id`` in the actor's scope.

    Kept per process with the database's stamps (read first, in the same transaction, so
    that a write committed meanwhile can only make the cached figures newer than their
    stamps): served as it is while the stamp is unchanged; after a write, only the rows of
    the institutions whose answers or assessments were written are read again (all of them
    after a write to requirements, domains or institutions). Any write, by any process or
    path, changes the stamps. The result is shared between requests: callers must not
    modify it."""
    # The checks the computation makes, made before any cached figure is returned.
    campaign_service.require_campaign(session=session, actor=actor, campaign_id=campaign_id)
    actor.require(P.ASSESSMENT_READ)
    actor.require(RegistryPermission.INSTITUTION_READ)
    stamp = current_stamp(session)
    if stamp is None:
        return compute_heatmap(session=session, actor=actor, campaign_id=campaign_id)
    scope = None if actor.is_national else actor.institution_id
    key = (campaign_id, actor.is_national, scope, actor.language)
    cached = _HEATMAPS.get(key)
    if cached is not None and cached.stamp == stamp:
        return cached.heatmap
    rows = row_stamps(session, None if actor.is_national else [scope or EVERY_ROW])
    changed = _changed(cached, rows)
    if cached is None or changed is None:
        matrix = _Matrix.compute(session, actor, campaign_id)
        heat = matrix.heatmap(campaign_id)
    elif not changed:  # nothing in scope changed (or was read already): newer stamps only
        matrix, heat = cached.matrix, cached.heatmap
    else:
        matrix = cached.matrix.recompute(session, actor, campaign_id, changed)
        heat = matrix.heatmap(campaign_id, reuse=(cached.matrix, cached.heatmap))
    _HEATMAPS.put(key, _Cached(stamp, rows, matrix, heat))
    return heat


def _changed(cached: _Cached | None, rows: dict[int, str]) -> set[int] | None:
    """The institutions whose row stamps differ from ``cached``'s, or None when everything
    must be computed again (nothing cached, a write every row depends on, or so many
    institutions changed that one full grouped query is as cheap)."""
    if cached is None or cached.row_stamps.get(EVERY_ROW) != rows.get(EVERY_ROW):
        return None
    before = cached.row_stamps
    changed = {i for i in before.keys() | rows.keys() if before.get(i) != rows.get(i)}
    return changed if 2 * len(changed) <= len(cached.matrix.institutions) else None


def compute_heatmap(*, session: Session, actor: Actor, campaign_id: int) -> Heatmap:
    """The heatmap of ``campaign_id`` computed afresh (:func:`heatmap` without its cache)."""
    return _Matrix.compute(session, actor, campaign_id).heatmap(campaign_id)


def _ministries(matrix: _Matrix) -> list[InstitutionFigure]:
    """Each root institution scored over itself and its descendants (tier-weighted)."""
    def root(inst_id: int) -> int:
        seen: set[int] = set()
        current = matrix.institutions[inst_id]
        while current.parent_id is not None and current.parent_id in matrix.institutions \
                and current.id not in seen:
            seen.add(current.id)
            current = matrix.institutions[current.parent_id]
        return current.id

    bodies: dict[int, list[InstitutionFigure]] = defaultdict(list)
    for figure in matrix.institution_figures:
        bodies[root(figure.institution_id)].append(figure)
    result = []
    for root_id, figures in bodies.items():
        inst = matrix.institutions[root_id]
        mean = tier_mean(figures)
        result.append(InstitutionFigure(institution_id=root_id, acronym=inst.acronym,
                                         name=inst.name, tier=inst.criticality_tier,
                                         score=mean.score, answers=mean.answers))
    return sorted(result, key=lambda f: f.acronym)


def scores(*, session: Session, actor: Actor, campaign_id: int) -> Scores:
    """National, per-domain, per-CSF-function, per-requirement, per-institution and
    per-ministry scores of ``campaign_id`` in the actor's scope."""
    matrix = _Matrix.compute(session, actor, campaign_id)
    stmt = _scoped(actor, campaign_id, Requirement.id, Requirement.control_id,
                   Requirement.weight, Requirement.csf_refs, func.sum(points_expr()), func.count()
                   ).group_by(Requirement.id).order_by(Requirement.position, Requirement.id)
    requirements: list[RequirementFigure] = []
    csf: dict[str, list[float]] = {f: [0.0, 0.0, 0] for f in CSF_FUNCTIONS}
    for req_id, control_id, weight, refs, points, count in session.execute(stmt):
        requirements.append(RequirementFigure(requirement_id=req_id, control_id=control_id,
                                              score=pct(float(points or 0), 5 * count),
                                              answers=count))
        for function in sorted({str(ref)[:2].upper() for ref in refs or []}):
            acc = csf.setdefault(function, [0.0, 0.0, 0])
            acc[0] += weight * float(points or 0)
            acc[1] += weight * 5 * count
            acc[2] += count
    return Scores(
        campaign_id=campaign_id, national=matrix.national, domains=matrix.domain_figures,
        csf_functions=[CsfFigure(function=f, score=pct(a[0], a[1]), answers=int(a[2]))
                       for f, a in csf.items()],
        requirements=requirements, institutions=matrix.institution_figures,
        ministries=_ministries(matrix))


def band(score: float | None) -> str:
    """The CSS class of a score: ``bad`` below 40, ``medium`` below 70, ``ok`` from 70."""
    if score is None:
        return ""
    if score < 40:
        return "bad"
    return "medium" if score < 70 else "ok"
