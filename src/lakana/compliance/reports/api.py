"""JSON API and downloads of compliance reports (mounted under ``/api/v1``): trends, peer
comparison, CSV/XLSX exports and PDF reports. Downloads are ledgered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from lakana.compliance.reports import exports, pdf, peers, trends
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.i18n import DEFAULT_LANGUAGE
from lakana.registry.schemas import InstitutionKind

router = APIRouter(prefix="/compliance", tags=["compliance-reports"])

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": exports.XLSX_MEDIA_TYPE,
               "pdf": "application/pdf"}


def _download(data: bytes, filename: str, fmt: str) -> Response:
    return Response(data, media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _language(request: Request) -> str:
    return str(getattr(request.state, "language", DEFAULT_LANGUAGE))


@router.get("/trends", response_model=trends.Trends)
def get_trends(session: DbSession, actor: CurrentActor,
               institution_id: int | None = None) -> trends.Trends:
    """Scores across launched campaigns: national and per domain (agency roles), and one
    institution's overall and per-domain series (institution roles: their own)."""
    return trends.trends(session=session, actor=actor, institution_id=institution_id)


@router.get("/campaigns/{campaign_id}/peers", response_model=peers.PeerComparison)
def get_peers(campaign_id: int, session: DbSession, actor: CurrentActor,
              institution_id: int | None = None, kind: InstitutionKind | None = None,
              tier: Annotated[int | None, Query(ge=1, le=3)] = None,
              same_tier: bool = False) -> peers.PeerComparison:
    """Institutions of the same type compared: every peer for agency roles; for institution
    roles their own scores against anonymised statistics and their rank."""
    return peers.compare(session=session, actor=actor, campaign_id=campaign_id,
                         institution_id=institution_id, kind=kind.value if kind else None,
                         tier=tier, same_tier=same_tier)


@router.get("/campaigns/{campaign_id}/export.csv", response_class=Response)
def export_campaign_csv(campaign_id: int, session: DbSession, actor: CurrentActor
                        ) -> Response:
    """The campaign's scores, one row per institution, as CSV (agency roles)."""
    return _download(*exports.export(session=session, actor=actor, fmt="csv",
                                     campaign_id=campaign_id), "csv")


@router.get("/campaigns/{campaign_id}/export.xlsx", response_class=Response)
def export_campaign_xlsx(campaign_id: int, session: DbSession, actor: CurrentActor
                         ) -> Response:
    """The campaign's scores, one row per institution, as XLSX (agency roles)."""
    return _download(*exports.export(session=session, actor=actor, fmt="xlsx",
                                     campaign_id=campaign_id), "xlsx")


@router.get("/assessments/{assessment_id}/export.csv", response_class=Response)
def export_assessment_csv(assessment_id: int, session: DbSession, actor: CurrentActor
                          ) -> Response:
    """An assessment's answers, one row per requirement, as CSV."""
    return _download(*exports.export(session=session, actor=actor, fmt="csv",
                                     assessment_id=assessment_id), "csv")


@router.get("/assessments/{assessment_id}/export.xlsx", response_class=Response)
def export_assessment_xlsx(assessment_id: int, session: DbSession, actor: CurrentActor
                           ) -> Response:
    """An assessment's answers, one row per requirement, as XLSX."""
    return _download(*exports.export(session=session, actor=actor, fmt="xlsx",
                                     assessment_id=assessment_id), "xlsx")


@router.get("/campaigns/{campaign_id}/report.pdf", response_class=Response)
def national_report_pdf(request: Request, campaign_id: int, session: DbSession,
                        actor: CurrentActor) -> Response:
    """The national report of a campaign as PDF (agency roles)."""
    data, filename = pdf.national_pdf(session=session, actor=actor,
                                      env=request.app.state.jinja, campaign_id=campaign_id,
                                      language=_language(request))
    return _download(data, filename, "pdf")


@router.get("/campaigns/{campaign_id}/institutions/{institution_id}/report.pdf",
            response_class=Response)
def institution_report_pdf(request: Request, campaign_id: int, institution_id: int,
                           session: DbSession, actor: CurrentActor) -> Response:
    """An institution's report for a campaign as PDF."""
    data, filename = pdf.institution_pdf(session=session, actor=actor,
                                         env=request.app.state.jinja,
                                         campaign_id=campaign_id,
                                         institution_id=institution_id,
                                         language=_language(request))
    return _download(data, filename, "pdf")
