"""Comparison of institutions of the same type (registry ``kind``, optionally the same
criticality tier) in one campaign.

* **Agency roles** see every peer: overall and per-domain scores, rank, and the group's
  median, mean and quartiles per domain.
* **Institution roles** see their own scores against *anonymised* statistics of the group
  (count, median, mean, quartiles) and their rank ("3rd of 12") — never another institution's
  name or individual score. With fewer than :data:`MIN_PEERS` other scored institutions in
  the group, the statistics are withheld (they would give away the others' scores).

The group is every institution of the type with a score in the campaign, the compared one
included; ranks are competition ranks (equal scores share a rank). The figures come from
:func:`lakana.compliance.scoring.service.heatmap`. For an institution role they are computed
over the whole campaign (an internal, national read) and only aggregates leave this module.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.scoring import service as scoring
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.i18n import _
from lakana.registry import service as registry_service

#: Fewer other scored institutions than this in a group and institution roles see no
#: statistics.
MIN_PEERS = 3


class Stat(BaseModel):
    """Anonymised statistics of a group's scores (None when withheld or empty)."""

    count: int
    median: float | None = None
    mean: float | None = None
    q1: float | None = None
    q3: float | None = None


class DomainStat(Stat):
    """The group's statistics in one domain, with the compared institution's own score."""

    code: str
    title: str
    own: float | None = None


class PeerRow(BaseModel):
    """One institution of the group (agency roles only; or the compared institution)."""

    institution_id: int
    acronym: str
    name: str
    tier: int
    score: float | None
    answers: int
    rank: int | None
    domains: list[float | None]


class PeerComparison(BaseModel):
    """A campaign's comparison of institutions of one type."""

    campaign_id: int
    #: None: every type (agency roles only).
    kind: str | None
    tier: int | None
    institution_id: int | None
    anonymised: bool
    group_size: int
    domains: list[scoring.DomainFigure]
    overall: Stat
    domain_stats: list[DomainStat]
    rows: list[PeerRow]
    own: PeerRow | None
    rank: int | None
    notice: str | None


def _stat(values: list[float]) -> Stat:
    if not values:
        return Stat(count=0)
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Stat(count=len(values), median=round(statistics.median(values), 1),
                mean=round(statistics.fmean(values), 1), q1=round(q1, 1), q3=round(q3, 1))


def _ranks(rows: list[PeerRow]) -> None:
    """Competition ranks by overall score, best first (rows must be sorted)."""
    previous: float | None = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        if row.score != previous:
            rank, previous = position, row.score
        row.rank = rank


@dataclass
class _Group:
    """The scored institutions of one type in a campaign, best first."""

    domains: list[scoring.DomainFigure]
    rows: list[PeerRow]


def _group(session: Session, campaign_id: int, kind: str | None, tier: int | None
           ) -> _Group:
    # Peer statistics span institutions the actor may not see: read them as the system,
    # and let only aggregates out (see the module's docstring).
    reader = system_actor("peer statistics", "internal")
    heat = scoring.heatmap(session=session, actor=reader, campaign_id=campaign_id)
    registry = {i.id: i for i in registry_service.all_institutions(session=session,
                                                                   actor=reader)}
    rows = []
    for row in heat.rows:
        inst = registry.get(row.institution_id)
        if inst is None or (kind and inst.kind != kind) or row.total.score is None:
            continue
        if tier is not None and inst.criticality_tier != tier:
            continue
        rows.append(PeerRow(institution_id=inst.id, acronym=inst.acronym, name=inst.name,
                            tier=inst.criticality_tier, score=row.total.score,
                            answers=row.total.answers, rank=None,
                            domains=[None if c is None else c.score for c in row.cells]))
    rows.sort(key=lambda r: (-(r.score or 0), r.acronym))
    _ranks(rows)
    return _Group(heat.domains, rows)


def _domain_stats(group: _Group, own: PeerRow | None, anonymised: bool) -> list[DomainStat]:
    """Per-domain statistics; for institution roles a domain where fewer than
    :data:`MIN_PEERS` other institutions have a score shows only its count."""
    result = []
    for index, domain in enumerate(group.domains):
        values = [s for r in group.rows if (s := r.domains[index]) is not None]
        mine = own.domains[index] if own else None
        others = len(values) - (1 if mine is not None else 0)
        stat = Stat(count=len(values)) if anonymised and others < MIN_PEERS else _stat(values)
        result.append(DomainStat(code=domain.code, title=domain.title, own=mine,
                                 **stat.model_dump()))
    return result


def compare(*, session: Session, actor: Actor, campaign_id: int,
            institution_id: int | None = None, kind: str | None = None,
            tier: int | None = None, same_tier: bool = False) -> PeerComparison:
    """Compare ``institution_id`` (an institution role's own by default) with the other
    institutions of its type — or, for agency roles, every institution of ``kind`` (of
    every type when neither is given) — in ``campaign_id``; ``tier`` (or ``same_tier``)
    narrows the group to one criticality tier."""
    campaign_service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if institution_id is None and not actor.is_national:
        institution_id = actor.institution_id if actor.institution_id is not None else -1
    if institution_id is not None:
        subject = registry_service.get_institution(session=session, actor=actor,
                                                   institution_id=institution_id)
        kind = subject.kind
        if same_tier:
            tier = subject.criticality_tier
    group = _group(session, campaign_id, kind, tier)
    own = next((r for r in group.rows if r.institution_id == institution_id), None)
    others = len(group.rows) - (1 if own else 0)
    anonymised = not actor.is_national
    withheld = anonymised and others < MIN_PEERS
    notice = None
    if withheld:
        notice = _("Fewer than %(count)s other institutions of this type have a score in "
                   "this campaign: peer statistics are withheld so that no institution's "
                   "score can be deduced.", count=MIN_PEERS)
        if own is not None:
            own = own.model_copy(update={"rank": None})
    scores = [r.score for r in group.rows if r.score is not None]
    return PeerComparison(
        campaign_id=campaign_id, kind=kind, tier=tier, institution_id=institution_id,
        anonymised=anonymised, group_size=len(group.rows), domains=group.domains,
        overall=Stat(count=len(group.rows)) if withheld else _stat(scores),
        domain_stats=[] if withheld else _domain_stats(group, own, anonymised),
        rows=[] if anonymised else group.rows, own=own,
        rank=own.rank if own else None, notice=notice)


def ordinal(rank: int, language: str) -> str:
    """``1st``, ``2nd``… in English; ``1er``, ``2e``… in French."""
    if language == "fr":
        return "1er" if rank == 1 else f"{rank}e"
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10,
                                                                                "th")
    return f"{rank}{suffix}"
