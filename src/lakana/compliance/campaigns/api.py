"""JSON API of assessment campaigns (mounted under ``/api/v1``).

Objects are addressed by integer ids (``campaign_id``, ``assessment_id``, ``answer_id``);
changes carry the ``version`` read (409 when stale). Evidence is uploaded as multipart
``file`` and downloaded by its SHA-256.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.schemas import (
    AnswerIn,
    AnswerOut,
    AssessmentOut,
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    EvidenceOut,
    OverrideIn,
    ProgressOut,
    SystemAssessmentCreate,
    VersionIn,
)
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.files import service as files

router = APIRouter(prefix="/compliance", tags=["compliance-campaigns"])


def assessment_out(session: Session, assessment: Assessment,
                   system_names: dict[int, str] | None = None) -> AssessmentOut:
    """An assessment with its system's name, progress, days remaining and basic score."""
    done, total = service.progress(session=session, assessment_ids=[assessment.id]).get(
        assessment.id, (0, 0))
    answers = list(session.scalars(
        select(Answer).where(Answer.assessment_id == assessment.id)).unique())
    data = AssessmentOut.model_validate(assessment)
    if assessment.system_id is not None:
        data.system_name = (system_names or {}).get(assessment.system_id)
    data.progress = ProgressOut(answered=done, total=total,
                                percent=round(100 * done / total) if total else 0,
                                days_remaining=service.days_remaining(assessment.campaign),
                                score=answer_service.score(answers))
    return data


# --- campaigns ----------------------------------------------------------------------------

@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(session: DbSession, actor: CurrentActor) -> list[Any]:
    """Campaigns the actor may see, newest first."""
    return list(service.list_campaigns(session=session, actor=actor))


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(data: CampaignCreate, session: DbSession, actor: CurrentActor) -> Any:
    """Create a draft campaign (explicit institutions and/or whole subtrees)."""
    return service.create_campaign(session=session, actor=actor, data=data)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """One campaign."""
    return service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
def update_campaign(campaign_id: int, data: CampaignUpdate, session: DbSession,
                    actor: CurrentActor) -> Any:
    """Rename a campaign or move its deadline (409 on a stale version)."""
    return service.update_campaign(session=session, actor=actor, campaign_id=campaign_id,
                                   data=data)


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: int, session: DbSession, actor: CurrentActor,
                    version: Annotated[int | None, Query()] = None) -> Response:
    """Delete a draft campaign (``?version=``)."""
    service.delete_campaign(session=session, actor=actor, campaign_id=campaign_id,
                            version=version)
    return Response(status_code=204)


@router.post("/campaigns/{campaign_id}/launch", response_model=CampaignOut)
def launch_campaign(campaign_id: int, data: VersionIn, session: DbSession,
                    actor: CurrentActor) -> Any:
    """Open the campaign: one assessment per target, answers carried over, focal points told."""
    return service.launch_campaign(session=session, actor=actor, campaign_id=campaign_id,
                                   version=data.version)


@router.post("/campaigns/{campaign_id}/close", response_model=CampaignOut)
def close_campaign(campaign_id: int, data: VersionIn, session: DbSession,
                   actor: CurrentActor) -> Any:
    """Close an open campaign."""
    return service.close_campaign(session=session, actor=actor, campaign_id=campaign_id,
                                  version=data.version)


@router.post("/campaigns/{campaign_id}/assessments", response_model=AssessmentOut,
             status_code=201)
def create_system_assessment(campaign_id: int, data: SystemAssessmentCreate, session: DbSession,
                             actor: CurrentActor) -> AssessmentOut:
    """Assess one information system of a target institution in an open campaign (the
    agency, or the institution's focal point); 409 when it already has an assessment."""
    created = service.create_system_assessment(
        session=session, actor=actor, campaign_id=campaign_id,
        institution_id=data.institution_id, system_id=data.system_id)
    return assessment_out(session, created, service.system_names(
        session=session, actor=actor, assessments=[created]))


# --- assessments --------------------------------------------------------------------------

@router.get("/assessments", response_model=list[AssessmentOut])
def list_assessments(session: DbSession, actor: CurrentActor,
                     campaign_id: Annotated[int | None, Query()] = None,
                     status: Annotated[str | None, Query(max_length=20)] = None
                     ) -> list[AssessmentOut]:
    """Assessments the actor may see (their own institution's for institution roles)."""
    found = service.list_assessments(session=session, actor=actor, campaign_id=campaign_id,
                                     status=status)
    names = service.system_names(session=session, actor=actor, assessments=found)
    return [assessment_out(session, a, names) for a in found]


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut)
def get_assessment(assessment_id: int, session: DbSession, actor: CurrentActor
                   ) -> AssessmentOut:
    """One assessment with its progress and score."""
    found = service.get_assessment(session=session, actor=actor, assessment_id=assessment_id)
    return assessment_out(session, found, service.system_names(session=session, actor=actor,
                                                               assessments=[found]))


def _move(action: str) -> None:
    """Register ``POST /assessments/{assessment_id}/<action>``."""

    def move(assessment_id: int, data: VersionIn, session: DbSession,
             actor: CurrentActor) -> AssessmentOut:
        moved = answer_service.transition(session=session, actor=actor,
                                          assessment_id=assessment_id, action=action,
                                          version=data.version, reason=data.reason)
        return assessment_out(session, moved, service.system_names(
            session=session, actor=actor, assessments=[moved]))

    move.__name__ = f"{action}_assessment"
    move.__doc__ = answer_service.TRANSITION_DOCS[action]
    router.add_api_route(f"/assessments/{{assessment_id}}/{action}", move, methods=["POST"],
                         response_model=AssessmentOut, name=move.__name__)


for _action in answer_service.TRANSITION_DOCS:
    _move(_action)


# --- answers ------------------------------------------------------------------------------

@router.get("/assessments/{assessment_id}/answers", response_model=list[AnswerOut])
def list_answers(assessment_id: int, session: DbSession, actor: CurrentActor) -> list[Any]:
    """The answers of an assessment, in the profile's order."""
    return list(answer_service.list_answers(session=session, actor=actor,
                                            assessment_id=assessment_id))


@router.get("/answers/{answer_id}", response_model=AnswerOut)
def get_answer(answer_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """One answer."""
    return answer_service.get_answer(session=session, actor=actor, answer_id=answer_id)[0]


@router.put("/answers/{answer_id}", response_model=AnswerOut)
def put_answer(answer_id: int, data: AnswerIn, session: DbSession, actor: CurrentActor) -> Any:
    """Answer a requirement (409 on a stale version, 422 for N/A without justification)."""
    return answer_service.update_answer(session=session, actor=actor, answer_id=answer_id,
                                        data=data)


@router.post("/answers/{answer_id}/override", response_model=AnswerOut)
def override_answer(answer_id: int, data: OverrideIn, session: DbSession,
                    actor: CurrentActor) -> Any:
    """An auditor's rating with a reason, kept beside the institution's."""
    return answer_service.override_answer(session=session, actor=actor, answer_id=answer_id,
                                          data=data)


@router.post("/answers/{answer_id}/evidence", response_model=EvidenceOut, status_code=201)
async def upload_evidence(request: Request, answer_id: int, session: DbSession,
                          actor: CurrentActor, file: Annotated[UploadFile, File()]) -> Any:
    """Attach an evidence file (413 over the size limit, 422 for a refused type)."""
    return await run_in_threadpool(
        answer_service.add_evidence, session=session, actor=actor,
        settings=get_settings(request), answer_id=answer_id, data=file.file,
        name=file.filename or "evidence", declared_type=file.content_type)


@router.get("/evidence/{evidence_id}")
def download_evidence(request: Request, evidence_id: int, session: DbSession,
                      actor: CurrentActor) -> Response:
    """Download an evidence file of an answer the actor may see."""
    found = answer_service.get_evidence(session=session, actor=actor, evidence_id=evidence_id)
    with files.open_file(settings=get_settings(request), sha256=found.sha256) as handle:
        content = handle.read()
    return Response(content, media_type=found.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
        "X-Content-Type-Options": "nosniff"})
