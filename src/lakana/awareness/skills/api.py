"""JSON API of the skills register (mounted under ``/api/v1``).

Optimistic concurrency as elsewhere: ``GET`` answers an ``ETag`` with the version; ``PATCH``
needs it back in ``version`` or ``If-Match``; a stale one gets 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from lakana.awareness.skills import service
from lakana.awareness.skills.models import RoleHolder
from lakana.awareness.skills.permissions import SkillsPermission
from lakana.awareness.skills.profiles import framework
from lakana.awareness.skills.schemas import (
    CertificationCreate,
    CertificationOut,
    HolderCreate,
    HolderOut,
    HolderQuery,
    HolderUpdate,
    InstitutionStaffing,
    NationalStaffing,
    ProfileOut,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.concurrency import parse_if_match
from lakana.core.i18n import current_language
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/awareness/skills", tags=["awareness: skills"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def holder_out(holder: RoleHolder, names: dict[int, str], day: dt.date) -> HolderOut:
    """A role holder with its institution's acronym, profile title and certifications'
    states on ``day``."""
    out = HolderOut.model_validate(holder)
    out.institution_acronym = names.get(holder.institution_id, "")
    out.profile_title = service.profile_title(holder.profile_id)
    out.active = service.is_active(holder, day)
    out.certifications = [
        CertificationOut.model_validate(c).model_copy(
            update={"state": service.certification_state(c, day)})
        for c in holder.certifications]
    return out


@router.get("/profiles", response_model=list[ProfileOut])
def list_profiles(actor: CurrentActor) -> list[ProfileOut]:
    """The twelve ECSF role profiles and how many holders each criticality tier requires."""
    actor.require(SkillsPermission.SKILLS_READ)
    fw, language = framework(), current_language()
    return [ProfileOut(id=p.id, title=p.title(language), mission=p.mission(language),
                       required_by_tier={tier: fw.required(tier).get(p.id, 0)
                                         for tier in (1, 2, 3)})
            for p in fw.profiles]


@router.get("/holders", response_model=Page[HolderOut])
def list_holders(session: DbSession, actor: CurrentActor,
                 query: Annotated[HolderQuery, Query()]) -> Page[HolderOut]:
    """Role holders the caller may see, in post today unless ``include_past``; filters
    ``institution_id, profile_id, q``."""
    rows, total = service.list_holders(session=session, actor=actor, query=query)
    names, day = service.institution_acronyms(session=session), service.today()
    return Page[HolderOut](items=[holder_out(h, names, day) for h in rows], total=total,
                           limit=query.limit, offset=query.offset)


@router.post("/holders", response_model=HolderOut, status_code=201)
def create_holder(body: HolderCreate, session: DbSession, actor: CurrentActor,
                  response: Response) -> HolderOut:
    """Name a person in a role of an institution."""
    holder = service.create_holder(session=session, actor=actor, data=body)
    response.headers["ETag"] = f'"{holder.version}"'
    return holder_out(holder, service.institution_acronyms(session=session), service.today())


@router.get("/holders/export", response_class=Response)
def export_holders(session: DbSession, actor: CurrentActor,
                   institution_id: int | None = None) -> Response:
    """The register (one institution's, or every visible one) as CSV, UTF-8 with BOM."""
    text = service.export_csv(session=session, actor=actor, institution_id=institution_id)
    filename = f"skills-{institution_id or 'all'}.csv"
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/holders/{holder_id}", response_model=HolderOut)
def get_holder(holder_id: int, session: DbSession, actor: CurrentActor,
               response: Response) -> HolderOut:
    """One role holder with their certifications."""
    holder = service.get_holder(session=session, actor=actor, holder_id=holder_id)
    response.headers["ETag"] = f'"{holder.version}"'
    return holder_out(holder, service.institution_acronyms(session=session), service.today())


@router.patch("/holders/{holder_id}", response_model=HolderOut)
def update_holder(holder_id: int, body: HolderUpdate, session: DbSession, actor: CurrentActor,
                  response: Response, if_match: IfMatch = None) -> HolderOut:
    """Change a role holder (an end date when they leave); send the version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    holder = service.update_holder(session=session, actor=actor, holder_id=holder_id,
                                   data=body)
    response.headers["ETag"] = f'"{holder.version}"'
    return holder_out(holder, service.institution_acronyms(session=session), service.today())


@router.delete("/holders/{holder_id}", status_code=204)
def delete_holder(holder_id: int, session: DbSession, actor: CurrentActor,
                  if_match: IfMatch = None) -> None:
    """Remove a role holder entered by mistake."""
    service.delete_holder(session=session, actor=actor, holder_id=holder_id,
                          version=parse_if_match(if_match))


@router.post("/holders/{holder_id}/certifications", response_model=CertificationOut,
             status_code=201)
def add_certification(holder_id: int, body: CertificationCreate, session: DbSession,
                      actor: CurrentActor) -> CertificationOut:
    """Record a certification of a role holder."""
    cert = service.add_certification(session=session, actor=actor, holder_id=holder_id,
                                     data=body)
    return CertificationOut.model_validate(cert).model_copy(
        update={"state": service.certification_state(cert, service.today())})


@router.delete("/certifications/{certification_id}", status_code=204)
def delete_certification(certification_id: int, session: DbSession,
                         actor: CurrentActor) -> None:
    """Remove a certification."""
    service.delete_certification(session=session, actor=actor,
                                 certification_id=certification_id)


@router.get("/staffing", response_model=NationalStaffing)
def national_staffing(session: DbSession, actor: CurrentActor,
                      as_of: dt.date | None = None) -> NationalStaffing:
    """The talent gap over every institution the caller sees, per profile and institution."""
    return service.national_staffing(session=session, actor=actor, day=as_of)


@router.get("/staffing/{institution_id}", response_model=InstitutionStaffing)
def institution_staffing(institution_id: int, session: DbSession, actor: CurrentActor,
                         as_of: dt.date | None = None) -> InstitutionStaffing:
    """One institution's staffing against what its criticality tier requires."""
    return service.institution_staffing(session=session, actor=actor,
                                        institution_id=institution_id, day=as_of)
