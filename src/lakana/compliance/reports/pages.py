"""HTML pages of compliance reports: an institution's compliance page, the comparison of
institutions of the same type, and the print previews of the institution and national
reports (the same templates as the PDFs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.reports import pdf, peers, service
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.web.templating import render
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionKind

router = APIRouter(prefix="/compliance")


@router.get("/institutions/{institution_id}")
def institution_page(request: Request, institution_id: int, session: DbSession,
                     actor: CurrentActor, campaign_id: int | None = None) -> Response:
    """An institution's compliance: its latest (or chosen) campaign's scores by domain,
    trend, position among peers, open actions, and links to exports and reports."""
    inst = registry_service.get_institution(session=session, actor=actor,
                                            institution_id=institution_id)
    campaigns = service.assessed_campaigns(session=session, actor=actor,
                                           institution_id=inst.id)
    chosen = next((c for c in campaigns if c.id == campaign_id), None) or (
        campaigns[-1] if campaigns else None)
    report = (service.institution_report(session=session, actor=actor, campaign_id=chosen.id,
                                         institution_id=inst.id) if chosen else None)
    return render(request, "compliance/reports/institution.html", {
        "institution": inst, "campaigns": campaigns, "report": report, **pdf.helpers()})


@router.get("/campaigns/{campaign_id}/peers")
def peers_page(request: Request, campaign_id: int, session: DbSession, actor: CurrentActor,
               kind: InstitutionKind | None = None,
               tier: Annotated[int | None, Query(ge=1, le=3)] = None,
               institution_id: int | None = None) -> Response:
    """Institutions of the same type compared in a campaign (every institution until the
    agency picks a type; anonymised statistics for institution roles)."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    comparison = peers.compare(session=session, actor=actor, campaign_id=campaign.id,
                               institution_id=institution_id,
                               kind=kind.value if kind else None, tier=tier)
    return render(request, "compliance/reports/peers.html", {
        "campaign": campaign, "comparison": comparison,
        "kinds": [k.value for k in InstitutionKind], **pdf.helpers()})


@router.get("/campaigns/{campaign_id}/report")
def national_report_page(request: Request, campaign_id: int, session: DbSession,
                         actor: CurrentActor) -> Response:
    """The national report of a campaign, as a printable page (agency roles)."""
    report = service.national_report(session=session, actor=actor, campaign_id=campaign_id)
    return render(request, "compliance/reports/national_report.html",
                  pdf.national_context(report))


@router.get("/campaigns/{campaign_id}/institutions/{institution_id}/report")
def institution_report_page(request: Request, campaign_id: int, institution_id: int,
                            session: DbSession, actor: CurrentActor) -> Response:
    """An institution's report for a campaign, as a printable page."""
    report = service.institution_report(session=session, actor=actor, campaign_id=campaign_id,
                                        institution_id=institution_id)
    return render(request, "compliance/reports/institution_report.html",
                  pdf.institution_context(report))
