"""What the institution and national reports show, gathered once for the HTML pages, the
PDFs and the CLI.

Scope as everywhere: every read goes through the campaign, scoring, registry, remediation
and risk services or through :func:`~lakana.core.auth.rbac.restrict`. The national report
spans every institution: only agency roles read it (institution roles get 403). Downloads
of institution data are ledgered (:func:`ledger_download`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.campaigns.models import Answer, Assessment, Campaign
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.models import Requirement
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.permissions import ActionPermission
from lakana.compliance.remediation.schemas import ACTIVE
from lakana.compliance.reports import peers as peer_service
from lakana.compliance.reports import trends as trend_service
from lakana.compliance.risks import service as risk_service
from lakana.compliance.risks.permissions import RiskPermission
from lakana.compliance.risks.schemas import RiskQuery
from lakana.compliance.scoring import service as scoring
from lakana.core import audit
from lakana.core.auth.rbac import Actor, restrict
from lakana.core.db import utcnow
from lakana.core.errors import Forbidden, NotFound
from lakana.core.i18n import Msg
from lakana.registry import service as registry_service

#: Effective answer statuses that are gaps.
GAP_STATUSES: tuple[str, ...] = ("not_implemented", "partial")
#: How many risks and national gaps a report lists.
TOP = 10


def require_national(actor: Actor) -> None:
    """Refuse institution roles: a national report covers every institution."""
    if not actor.is_national:
        raise Forbidden("National reports cover every institution: only the agency may "
                        "read them.")


def ledger_download(*, session: Session, actor: Actor, object_type: str, object_id: int,
                    object_repr: str, institution_id: int | None, fmt: str) -> None:
    """Ledger a download of compliance data (an export or a printable report)."""
    audit.record(session=session, actor=actor, action="compliance.report.download",
                 object_type=object_type, object_id=object_id, object_repr=object_repr,
                 institution_id=institution_id, details={"format": fmt})


def _effective_status() -> Any:
    return func.coalesce(Answer.override_status, Answer.status)


@dataclass(frozen=True)
class Gap:
    """An answer not (or partially) implemented, with its requirement's weight."""

    answer_id: int
    assessment_id: int
    control_id: str
    title: str
    domain: str
    weight: int
    status: str
    maturity: int | None


def gaps(*, session: Session, actor: Actor, campaign_id: int, institution_id: int
         ) -> list[Gap]:
    """An institution's gaps in a campaign, heaviest requirement first."""
    stmt = (select(Answer).join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.campaign_id == campaign_id,
                   Assessment.institution_id == institution_id,
                   _effective_status().in_(GAP_STATUSES))
            .order_by(Requirement.weight.desc(), Answer.position, Answer.id))
    stmt = restrict(stmt, actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)
    return [Gap(answer_id=a.id, assessment_id=a.assessment_id, control_id=a.control_id,
                title=a.requirement.text("title", actor.language),
                domain=a.requirement.domain_code, weight=a.requirement.weight,
                status=a.effective_status or "", maturity=a.effective_maturity)
            for a in session.scalars(stmt).unique()]


@dataclass(frozen=True)
class NationalGap:
    """A requirement and how many institutions have a gap on it."""

    control_id: str
    title: str
    weight: int
    institutions: int


def national_gaps(*, session: Session, actor: Actor, campaign_id: int, limit: int = TOP
                  ) -> list[NationalGap]:
    """The requirements with the most gaps nationally, weighted by requirement."""
    count = func.count(func.distinct(Assessment.institution_id))
    stmt: Any = (select(Requirement.control_id, Requirement.title_fr, Requirement.title_en,
                   Requirement.weight, count)
            .select_from(Answer).join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.campaign_id == campaign_id,
                   _effective_status().in_(GAP_STATUSES))
            .group_by(Requirement.id, Requirement.control_id, Requirement.title_fr,
                      Requirement.title_en, Requirement.weight)
            .order_by((count * Requirement.weight).desc(), Requirement.control_id)
            .limit(limit))
    stmt = restrict(stmt, actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)
    return [NationalGap(control_id=c, title=en if actor.language == "en" else fr,
                        weight=int(w), institutions=int(n))
            for c, fr, en, w, n in session.execute(stmt)]


def active_actions(*, session: Session, actor: Actor, institution_id: int) -> list[Action]:
    """An institution's open and in-progress remediation actions, by due date."""
    if not actor.can(ActionPermission.ACTION_READ):
        return []
    stmt = restrict(select(Action), actor=actor, permission=ActionPermission.ACTION_READ,
                    scope=Action.institution_id)
    stmt = stmt.where(Action.institution_id == institution_id, Action.status.in_(ACTIVE))
    return list(session.scalars(stmt.order_by(Action.due_date.is_(None), Action.due_date,
                                              Action.id)))


def today() -> dt.date:
    """The report date (UTC)."""
    return utcnow().date()


def assessments_of(*, session: Session, actor: Actor, institution_id: int,
                   campaign_id: int | None = None) -> list[Assessment]:
    """An institution's assessments (of one campaign) in the actor's scope: the
    institution's own first, then those of its systems."""
    stmt = restrict(select(Assessment), actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)
    stmt = stmt.where(Assessment.institution_id == institution_id)
    if campaign_id is not None:
        stmt = stmt.where(Assessment.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(Assessment.system_id.is_not(None),
                                              Assessment.id)).unique())


def assessed_campaigns(*, session: Session, actor: Actor, institution_id: int
                       ) -> list[Campaign]:
    """The launched campaigns that assessed ``institution_id``, oldest first."""
    assessed = {a.campaign_id for a in assessments_of(session=session, actor=actor,
                                                      institution_id=institution_id)}
    return [c for c in trend_service.launched_campaigns(session=session, actor=actor)
            if c.id in assessed]


@dataclass
class DomainRow:
    """One domain of an institution's report."""

    code: str
    title: str
    score: float | None
    answers: int
    assessment_id: int | None


@dataclass
class InstitutionReport:
    """Everything an institution's report shows."""

    institution: Any
    parent: Any
    campaign: Campaign
    date: dt.date
    overall: scoring.Figure
    domains: list[DomainRow]
    assessments: list[Assessment]
    trends: trend_service.Trends
    chart: trend_service.Chart | None
    peers: peer_service.PeerComparison
    gaps: list[Gap]
    actions: list[Action]
    overdue: int
    risks: list[Any]


def institution_report(*, session: Session, actor: Actor, campaign_id: int,
                       institution_id: int) -> InstitutionReport:
    """An institution's report for a campaign (404 when either is out of scope, or when the
    campaign did not assess the institution)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    inst = registry_service.get_institution(session=session, actor=actor,
                                            institution_id=institution_id)
    assessments = assessments_of(session=session, actor=actor, institution_id=inst.id,
                                 campaign_id=campaign.id)
    if not assessments:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("assessment"))
    heat = scoring.heatmap(session=session, actor=actor, campaign_id=campaign.id)
    row = next((r for r in heat.rows if r.institution_id == inst.id), None)
    domains = []
    for index, domain in enumerate(heat.domains):
        cell = row.cells[index] if row else None
        domains.append(DomainRow(
            code=domain.code, title=domain.title, score=cell.score if cell else None,
            answers=cell.answers if cell else 0,
            assessment_id=cell.assessment_id if cell else assessments[0].id))
    series = trend_service.trends(session=session, actor=actor, institution_id=inst.id)
    actions = active_actions(session=session, actor=actor, institution_id=inst.id)
    risks: list[Any] = []
    if actor.can(RiskPermission.RISK_READ):
        risks, _total = risk_service.list_risks(session=session, actor=actor, query=RiskQuery(
            institution_id=inst.id, sort="-residual", limit=TOP))
        risks = [r for r in risks if r.status != "closed"]
    parent = inst.parent if inst.parent is not None and actor.is_national else None
    date = today()
    return InstitutionReport(
        institution=inst, parent=parent, campaign=campaign, date=date,
        overall=row.total if row else scoring.Figure(score=None, answers=0), domains=domains,
        assessments=assessments, trends=series,
        chart=(trend_service.chart(series.institution.overall, series.campaigns)
               if series.institution else None),
        peers=peer_service.compare(session=session, actor=actor, campaign_id=campaign.id,
                            institution_id=inst.id),
        gaps=gaps(session=session, actor=actor, campaign_id=campaign.id,
                  institution_id=inst.id),
        actions=actions, overdue=sum(1 for a in actions if a.is_overdue(date)), risks=risks)


@dataclass
class NationalReport:
    """Everything the national report shows."""

    campaign: Campaign
    date: dt.date
    scores: scoring.Scores
    heatmap: scoring.Heatmap
    trends: trend_service.Trends
    chart: trend_service.Chart
    gaps: list[NationalGap]


def national_report(*, session: Session, actor: Actor, campaign_id: int) -> NationalReport:
    """The national report of a campaign (agency roles only)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    require_national(actor)
    series = trend_service.trends(session=session, actor=actor)
    return NationalReport(
        campaign=campaign, date=today(),
        scores=scoring.scores(session=session, actor=actor, campaign_id=campaign.id),
        heatmap=scoring.heatmap(session=session, actor=actor, campaign_id=campaign.id),
        trends=series, chart=trend_service.chart(series.national, series.campaigns),
        gaps=national_gaps(session=session, actor=actor, campaign_id=campaign.id))
