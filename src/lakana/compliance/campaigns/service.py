"""Campaign services: create and launch campaigns, assessments and their workflow.

Scope: assessments (and their answers) are scoped by the assessed institution: every list
goes through :func:`restrict`, every single object through :func:`ensure_in_scope`, so a
focal point of institution A gets "not found" for anything of institution B. Campaigns are
visible to the agency and, for institution roles, only when they target the institution.
Launching freezes the profile's resolved requirement set. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lakana.compliance import service as catalog_service
from lakana.compliance.campaigns.models import (
    Answer,
    AnswerEvidence,
    Assessment,
    Campaign,
    CampaignRequirement,
    CampaignTarget,
)
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.campaigns.schemas import CampaignCreate, CampaignUpdate
from lakana.compliance.models import ProfileRequirement, Requirement
from lakana.core import audit
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role, ensure_in_scope, restrict
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.notifications.service import notify
from lakana.registry import service as registry_service

MAX_DEPTH = 50


# --- helpers ------------------------------------------------------------------------------

def check_version(current: int, sent: int | None) -> None:
    """Refuse a missing (422) or stale (409) version."""
    if sent is None:
        raise Invalid("Send the version you read (field version, or the If-Match header) "
                      "so that concurrent changes are detected.")
    if sent != current:
        raise Conflict("This record was changed by someone else meanwhile (version %(current)s, "
                       "yours is %(sent)s): reload it and apply your change again.",
                       current=current, sent=sent)


def flush(session: Session) -> None:
    """Flush, turning a concurrent update into 409."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("This record was changed by someone else meanwhile: reload it and "
                       "apply your change again.") from None


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


def campaign_state(campaign: Campaign) -> dict[str, Any]:
    """The ledgered state of a campaign."""
    return {"name": campaign.name, "year": campaign.year, "profile_id": campaign.profile_id,
            "deadline": campaign.deadline.isoformat(), "status": campaign.status,
            "targets": sorted(campaign.target_ids)}


# --- campaigns ----------------------------------------------------------------------------

def _campaigns_stmt(actor: Actor) -> Select[Any]:
    actor.require(P.CAMPAIGN_READ)
    stmt = select(Campaign)
    if not actor.is_national:
        targeted = select(CampaignTarget.campaign_id).where(
            CampaignTarget.institution_id == (actor.institution_id or -1))
        stmt = stmt.where(Campaign.id.in_(targeted))
    return stmt


def list_campaigns(*, session: Session, actor: Actor) -> list[Campaign]:
    """Campaigns the actor may see, newest first."""
    stmt = _campaigns_stmt(actor).order_by(Campaign.year.desc(), Campaign.id.desc())
    return list(session.scalars(stmt).unique())


def get_campaign(*, session: Session, actor: Actor, campaign_id: int,
                 permission: str = P.CAMPAIGN_READ) -> Campaign:
    """One campaign (404 when absent or, for institution roles, not targeting them)."""
    found: Campaign | None = session.scalar(_campaigns_stmt(actor)
                                            .where(Campaign.id == campaign_id))
    if found is None:
        raise _not_found("campaign")
    actor.require(permission)
    return found


def require_campaign(*, session: Session, actor: Actor, campaign_id: int) -> None:
    """Like :func:`get_campaign`, without loading the campaign: one Core query for hot
    read paths (the national heatmap) that need the check, not the object."""
    stmt = _campaigns_stmt(actor).with_only_columns(Campaign.id).where(Campaign.id == campaign_id)
    if session.connection().execute(stmt).first() is None:
        raise _not_found("campaign")


def subtree_ids(*, session: Session, actor: Actor, institution_id: int) -> list[int]:
    """An institution and every body under it (through the registry's services)."""
    registry_service.get_institution(session=session, actor=actor, institution_id=institution_id)
    found, frontier = [institution_id], [institution_id]
    for _depth in range(MAX_DEPTH):
        nxt = [c.id for parent in frontier
               for c in registry_service.children(session=session, actor=actor,
                                                  institution_id=parent)
               if c.id not in found]
        if not nxt:
            break
        found += nxt
        frontier = nxt
    return found


def resolve_targets(*, session: Session, actor: Actor, institution_ids: list[int],
                    subtree_ids_: list[int]) -> list[int]:
    """The target institutions: the explicit ones plus each subtree, without duplicates."""
    targets: list[int] = []
    for inst_id in institution_ids:
        registry_service.get_institution(session=session, actor=actor, institution_id=inst_id)
        if inst_id not in targets:
            targets.append(inst_id)
    for root in subtree_ids_:
        for inst_id in subtree_ids(session=session, actor=actor, institution_id=root):
            if inst_id not in targets:
                targets.append(inst_id)
    if not targets:
        raise Invalid("Choose at least one institution to assess.")
    return targets


def create_campaign(*, session: Session, actor: Actor, data: CampaignCreate) -> Campaign:
    """Create a draft campaign on a profile with its target institutions."""
    actor.require(P.CAMPAIGN_MANAGE)
    catalog_service.get_profile(session=session, actor=actor, profile_id=data.profile_id)
    targets = resolve_targets(session=session, actor=actor, institution_ids=data.institution_ids,
                              subtree_ids_=data.subtree_ids)
    campaign = Campaign(name=data.name.strip(), year=data.year, profile_id=data.profile_id,
                        deadline=data.deadline, status="draft", created_by=actor.name[:254],
                        targets=[CampaignTarget(institution_id=i) for i in targets])
    session.add(campaign)
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.campaign.create",
                 object_type="campaign", object_id=campaign.id, object_repr=campaign.name,
                 after=campaign_state(campaign))
    return campaign


def update_campaign(*, session: Session, actor: Actor, campaign_id: int,
                    data: CampaignUpdate) -> Campaign:
    """Rename a campaign or move its deadline (not once closed); 409 on a stale version."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id,
                            permission=P.CAMPAIGN_MANAGE)
    check_version(campaign.version, data.version)
    if campaign.status == "closed":
        raise Conflict("This campaign is closed: it can no longer change.")
    before = campaign_state(campaign)
    if data.name is not None:
        campaign.name = data.name.strip()
    if data.deadline is not None:
        campaign.deadline = data.deadline
    after = campaign_state(campaign)
    if after != before:
        flush(session)
        audit.record(session=session, actor=actor, action="compliance.campaign.update",
                     object_type="campaign", object_id=campaign.id, object_repr=campaign.name,
                     before=before, after=after)
    return campaign


def delete_campaign(*, session: Session, actor: Actor, campaign_id: int,
                    version: int | None) -> None:
    """Delete a draft campaign (a launched one is kept for the record)."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id,
                            permission=P.CAMPAIGN_MANAGE)
    check_version(campaign.version, version)
    if campaign.status != "draft":
        raise Conflict("Only a draft campaign can be deleted; close it instead.")
    before = campaign_state(campaign)
    session.delete(campaign)
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.campaign.delete",
                 object_type="campaign", object_id=campaign_id, object_repr=before["name"],
                 before=before)


def _previous_answers(session: Session, campaign: Campaign, institution_id: int,
                      system_id: int | None = None) -> dict[str, Answer]:
    """Answers of the latest approved (else submitted or reviewed) assessment of the same
    institution and system (None: the institution itself) in another campaign, by control id."""
    same_system = (Assessment.system_id.is_(None) if system_id is None
                   else Assessment.system_id == system_id)
    for statuses in (("approved",), ("reviewed", "submitted")):
        previous = session.scalar(
            select(Assessment).join(Campaign, Assessment.campaign_id == Campaign.id)
            .where(Assessment.institution_id == institution_id,
                   Assessment.campaign_id != campaign.id, same_system,
                   Assessment.status.in_(statuses))
            .order_by(Campaign.launched_at.desc(), Assessment.id.desc()).limit(1))
        if previous is not None:
            rows = session.scalars(select(Answer).where(
                Answer.assessment_id == previous.id, Answer.status.is_not(None))).unique()
            return {a.control_id: a for a in rows}
    return {}


def _carried(previous: Answer | None, answer: Answer) -> Answer:
    """Copy the previous effective rating (the one the agency accepted) as a draft."""
    if previous is None:
        return answer
    answer.status = previous.effective_status
    answer.maturity = previous.effective_maturity
    answer.comment, answer.justification = previous.comment, previous.justification
    answer.carried_over = True
    answer.answered_by, answer.answered_at = previous.answered_by, previous.answered_at
    answer.evidence = [AnswerEvidence(file_id=e.file_id, sha256=e.sha256, name=e.name,
                                      media_type=e.media_type, size=e.size,
                                      added_by=e.added_by, added_at=e.added_at)
                       for e in previous.evidence]
    return answer


def _new_assessment(session: Session, campaign: Campaign,
                    frozen: list[tuple[int, int, str]], institution_id: int,
                    system_id: int | None = None) -> Assessment:
    """A draft assessment with one answer per frozen requirement ``(requirement id, position,
    control id)``, each carried over from the same institution's (or system's) last one."""
    previous = _previous_answers(session, campaign, institution_id, system_id)
    assessment = Assessment(campaign_id=campaign.id, institution_id=institution_id,
                            system_id=system_id, status="draft")
    session.add(assessment)
    session.flush()
    session.add_all(_carried(previous.get(control_id),
                             Answer(assessment_id=assessment.id, requirement_id=requirement_id,
                                    position=position))
                    for requirement_id, position, control_id in frozen)
    return assessment


def users_with_role(session: Session, role: Role, institution_ids: list[int] | None = None
                    ) -> list[int]:
    """Ids of active users holding ``role`` (of the given institutions)."""
    stmt = select(User.id).where(User.role == role.value, User.is_active.is_(True))
    if institution_ids is not None:
        stmt = stmt.where(User.institution_id.in_(institution_ids))
    return list(session.scalars(stmt))


def launch_campaign(*, session: Session, actor: Actor, campaign_id: int,
                    version: int | None) -> Campaign:
    """Open a draft campaign: freeze its requirements, create one assessment per target
    (answers carried over from the last assessment), notify the focal points."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id,
                            permission=P.CAMPAIGN_MANAGE)
    check_version(campaign.version, version)
    if campaign.status != "draft":
        raise Conflict("Only a draft campaign can be launched.")
    links = list(session.scalars(select(ProfileRequirement).where(
        ProfileRequirement.profile_pk == campaign.profile_id)
        .order_by(ProfileRequirement.position)))
    if not links:
        raise Invalid("The profile of this campaign has no requirement.")
    session.add_all(CampaignRequirement(campaign_id=campaign.id, requirement_id=link.requirement_id,
                                        position=link.position) for link in links)
    controls = dict(session.execute(select(Requirement.id, Requirement.control_id).where(
        Requirement.id.in_([link.requirement_id for link in links]))).all())
    frozen = [(link.requirement_id, link.position, controls[link.requirement_id])
              for link in links]
    for inst_id in campaign.target_ids:
        _new_assessment(session, campaign, frozen, inst_id)
    campaign.status, campaign.launched_at = "open", utcnow()
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.campaign.launch",
                 object_type="campaign", object_id=campaign.id, object_repr=campaign.name,
                 after=campaign_state(campaign), details={"requirements": len(links)})
    notify(session=session,
           user_ids=users_with_role(session, Role.FOCAL_POINT, campaign.target_ids),
           title="Assessment campaign %(name)s is open",
           body="Fill in your institution's self-assessment before %(deadline)s.",
           params={"name": campaign.name, "deadline": campaign.deadline.isoformat()},
           link="/compliance/my-assessments", email=True)
    return campaign


def close_campaign(*, session: Session, actor: Actor, campaign_id: int,
                   version: int | None) -> Campaign:
    """Close an open campaign: its answers can no longer change."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id,
                            permission=P.CAMPAIGN_MANAGE)
    check_version(campaign.version, version)
    if campaign.status != "open":
        raise Conflict("Only an open campaign can be closed.")
    before = campaign_state(campaign)
    campaign.status, campaign.closed_at = "closed", utcnow()
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.campaign.close",
                 object_type="campaign", object_id=campaign.id, object_repr=campaign.name,
                 before=before, after=campaign_state(campaign))
    return campaign


# --- assessments --------------------------------------------------------------------------

def list_assessments(*, session: Session, actor: Actor, campaign_id: int | None = None,
                     status: str | None = None) -> list[Assessment]:
    """Assessments the actor may see (of one campaign, in one state), by campaign then id."""
    stmt = restrict(select(Assessment), actor=actor, permission=P.ASSESSMENT_READ,
                    scope=Assessment.institution_id)
    if campaign_id is not None:
        stmt = stmt.where(Assessment.campaign_id == campaign_id)
    if status is not None:
        stmt = stmt.where(Assessment.status == status)
    return list(session.scalars(stmt.order_by(Assessment.campaign_id.desc(), Assessment.id))
                .unique())


def get_assessment(*, session: Session, actor: Actor, assessment_id: int,
                   permission: str = P.ASSESSMENT_READ) -> Assessment:
    """One assessment (404 when absent or of another institution)."""
    found = session.get(Assessment, assessment_id)
    ensure_in_scope(actor, found.institution_id if found else -1, permission,
                    what=Msg("assessment"))
    if found is None:
        raise _not_found("assessment")
    return found


def frozen_requirements(session: Session, campaign_id: int) -> list[tuple[int, int, str]]:
    """The campaign's frozen requirement set: ``(requirement id, position, control id)``."""
    rows = session.execute(
        select(CampaignRequirement.requirement_id, CampaignRequirement.position,
               Requirement.control_id)
        .join(Requirement, Requirement.id == CampaignRequirement.requirement_id)
        .where(CampaignRequirement.campaign_id == campaign_id)
        .order_by(CampaignRequirement.position, CampaignRequirement.id))
    return [(int(r), int(p), str(c)) for r, p, c in rows]


def can_add_system_assessment(actor: Actor, institution_id: int | None = None) -> bool:
    """Whether the actor may add system assessments (of ``institution_id``): the agency
    (campaign managers) anywhere, a focal point for its own institution."""
    if actor.can(P.CAMPAIGN_MANAGE):
        return True
    return actor.can(P.ANSWER_WRITE) and actor.institution_id is not None and (
        institution_id is None or institution_id == actor.institution_id)


def assessment_state(assessment: Assessment) -> dict[str, Any]:
    """The ledgered state of an assessment."""
    return {"campaign_id": assessment.campaign_id, "institution_id": assessment.institution_id,
            "system_id": assessment.system_id, "status": assessment.status}


def create_system_assessment(*, session: Session, actor: Actor, campaign_id: int,
                             institution_id: int, system_id: int) -> Assessment:
    """Add, while the campaign is open, the assessment of one information system of a
    target institution: the frozen requirements as answers, carried over from the system's
    last assessment; one per campaign and system (409 for a second one)."""
    campaign = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if not actor.can(P.CAMPAIGN_MANAGE):
        ensure_in_scope(actor, institution_id, P.ANSWER_WRITE, what=Msg("institution"))
        if actor.institution_id is None:
            raise Forbidden("You are not allowed to do this (%(permission)s).",
                            permission=str(P.ANSWER_WRITE))
    if campaign.status != "open":
        raise Conflict("Information systems can be added only while the campaign is open.")
    institution = registry_service.get_institution(session=session, actor=actor,
                                                   institution_id=institution_id)
    if institution_id not in campaign.target_ids:
        raise Invalid("The institution %(acronym)s is not assessed in this campaign.",
                      acronym=institution.acronym)
    system = registry_service.get_system(session=session, actor=actor, system_id=system_id)
    if system.institution_id != institution_id:
        raise Invalid("The information system %(name)s does not belong to %(acronym)s.",
                      name=system.name, acronym=institution.acronym)
    existing = session.scalar(select(Assessment.id).where(
        Assessment.campaign_id == campaign.id, Assessment.system_id == system_id))
    if existing is not None:
        raise Conflict("The information system %(name)s already has an assessment in this "
                       "campaign (assessment %(id)s).", name=system.name, id=existing)
    try:
        assessment = _new_assessment(session, campaign, frozen_requirements(session, campaign.id),
                                     institution_id, system_id)
    except IntegrityError:  # a concurrent request added it first (unique index)
        raise Conflict("The information system %(name)s already has an assessment in this "
                       "campaign.", name=system.name) from None
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.assessment.create",
                 object_type="assessment", object_id=assessment.id,
                 object_repr=f"{campaign.name} — {institution.acronym} — {system.name}",
                 after=assessment_state(assessment), institution_id=institution_id)
    return assessment


def assessable_systems(*, session: Session, actor: Actor, campaign: Campaign
                       ) -> list[tuple[int, str]]:
    """``(system id, "ACRONYM — system")`` of the systems the actor may add to an open
    campaign: systems of its target institutions in the actor's scope, not yet assessed."""
    if campaign.status != "open" or not can_add_system_assessment(actor):
        return []
    targets = set(campaign.target_ids)
    if not actor.can(P.CAMPAIGN_MANAGE):
        targets &= {actor.institution_id or -1}
    if not targets:
        return []
    assessed = set(session.scalars(select(Assessment.system_id).where(
        Assessment.campaign_id == campaign.id, Assessment.system_id.is_not(None))))
    acronyms = {i.id: i.acronym for i in
                registry_service.all_institutions(session=session, actor=actor)}
    return [(s.id, f"{acronyms.get(s.institution_id, s.institution_id)} — {s.name}")
            for s in registry_service.all_systems(session=session, actor=actor)
            if s.institution_id in targets and s.id not in assessed]


def system_names(*, session: Session, actor: Actor, assessments: list[Assessment]
                 ) -> dict[int, str]:
    """The names of the systems these assessments cover, by system id."""
    ids = sorted({a.system_id for a in assessments if a.system_id is not None})
    return {i: registry_service.get_system(session=session, actor=actor, system_id=i).name
            for i in ids}


def days_remaining(campaign: Campaign, today: dt.date | None = None) -> int:
    """Days left until the deadline (negative once it has passed)."""
    return (campaign.deadline - (today or dt.date.today())).days


def progress(*, session: Session, assessment_ids: list[int]) -> dict[int, tuple[int, int]]:
    """``{assessment id: (answered, total)}``."""
    rows = session.execute(
        select(Answer.assessment_id, func.count(Answer.status), func.count())
        .where(Answer.assessment_id.in_(assessment_ids)).group_by(Answer.assessment_id))
    return {a: (int(done), int(total)) for a, done, total in rows}
