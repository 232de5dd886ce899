"""Answer services: answers, evidence files, auditor overrides, the assessment workflow
(draft → submitted → reviewed → approved, reopen with a reason) and the basic score.

Every answer is reached through its assessment, so the assessment's scope applies: a focal
point of institution A gets "not found" for an answer of institution B. Answers carry a
version: a stale edit is refused with 409, never silently overwritten.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns.models import Answer, AnswerEvidence, Assessment
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, OverrideIn
from lakana.compliance.campaigns.service import (
    _not_found,
    check_version,
    flush,
    get_assessment,
    users_with_role,
)
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.permissions import ActionPermission
from lakana.core import audit
from lakana.core.auth.rbac import Actor, Role, restrict
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid
from lakana.core.files import service as files
from lakana.core.notifications.service import notify

#: Evidence types: documents, screenshots, archives, exports.
EVIDENCE_TYPES: frozenset[str] = frozenset({
    "application/pdf", "image/png", "image/jpeg", "application/zip", "text/csv",
    "text/plain", "application/json"})
#: The largest evidence file (the platform's upload limit applies when lower).
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
#: What each move needs, whatever the state (checked before the state, so that someone
#: without the permission gets 403 rather than learning the state).
ACTION_PERMISSIONS: dict[str, str] = {"submit": P.ANSWER_WRITE, "review": P.ASSESSMENT_REVIEW,
                                      "approve": P.ASSESSMENT_APPROVE,
                                      "reopen": P.ASSESSMENT_REVIEW}
#: The moves of an assessment and what they do.
TRANSITION_DOCS: dict[str, str] = {
    "submit": "The focal point submits a fully answered draft (agency officers are told).",
    "review": "An auditor or agency officer marks a submitted assessment reviewed.",
    "approve": "An agency officer approves a reviewed assessment.",
    "reopen": "Back to draft, with a reason.",
}
#: Allowed moves: state → {transition: (new state, permission)}.
TRANSITIONS: dict[str, dict[str, tuple[str, str]]] = {
    "draft": {"submit": ("submitted", P.ANSWER_WRITE)},
    "submitted": {"review": ("reviewed", P.ASSESSMENT_REVIEW),
                  "reopen": ("draft", P.ASSESSMENT_REVIEW)},
    "reviewed": {"approve": ("approved", P.ASSESSMENT_APPROVE),
                 "reopen": ("draft", P.ASSESSMENT_REVIEW)},
    "approved": {"reopen": ("draft", P.ASSESSMENT_APPROVE)},
}


def answer_state(answer: Answer) -> dict[str, object]:
    """The ledgered state of an answer."""
    return {"control_id": answer.control_id, "status": answer.status,
            "maturity": answer.maturity, "comment": answer.comment,
            "justification": answer.justification,
            "override_status": answer.override_status,
            "override_maturity": answer.override_maturity,
            "override_reason": answer.override_reason,
            "evidence": [e.sha256 for e in answer.evidence]}


def list_answers(*, session: Session, actor: Actor, assessment_id: int) -> list[Answer]:
    """The answers of an assessment, in the profile's order."""
    assessment = get_assessment(session=session, actor=actor, assessment_id=assessment_id)
    return list(session.scalars(select(Answer).where(Answer.assessment_id == assessment.id)
                                .order_by(Answer.position)).unique())


def get_answer(*, session: Session, actor: Actor, answer_id: int,
               permission: str = P.ASSESSMENT_READ) -> tuple[Answer, Assessment]:
    """One answer and its assessment (404 when absent or of another institution)."""
    answer = session.get(Answer, answer_id)
    if answer is None:
        actor.require(permission)
        raise _not_found("answer")
    assessment = get_assessment(session=session, actor=actor,
                                assessment_id=answer.assessment_id, permission=permission)
    return answer, assessment


def _ensure_editable(assessment: Assessment) -> None:
    if assessment.campaign.status != "open":
        raise Conflict("The campaign is not open: answers cannot change.")
    if assessment.status != "draft":
        raise Conflict("This assessment has been submitted: reopen it to change answers.")


def _check_rating(status: AnswerStatus, maturity: int | None, justification: str) -> None:
    if status is AnswerStatus.NOT_APPLICABLE and not justification.strip():
        raise Invalid("A requirement marked not applicable needs a justification.")
    if status is not AnswerStatus.NOT_APPLICABLE and maturity is None:
        raise Invalid("Give a maturity level from 0 to 5.")


def update_answer(*, session: Session, actor: Actor, answer_id: int, data: AnswerIn) -> Answer:
    """Answer a requirement (focal point, draft assessment only); 409 on a stale version."""
    answer, assessment = get_answer(session=session, actor=actor, answer_id=answer_id,
                                    permission=P.ANSWER_WRITE)
    _ensure_editable(assessment)
    check_version(answer.version, data.version)
    _check_rating(data.status, data.maturity, data.justification)
    before = answer_state(answer)
    answer.status = data.status.value
    answer.maturity = None if data.status is AnswerStatus.NOT_APPLICABLE else data.maturity
    answer.comment, answer.justification = data.comment.strip(), data.justification.strip()
    answer.carried_over = False
    answer.answered_by, answer.answered_at = actor.name[:254], utcnow()
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.answer.update",
                 object_type="answer", object_id=answer.id, object_repr=answer.control_id,
                 before=before, after=answer_state(answer),
                 institution_id=assessment.institution_id)
    return answer


def override_answer(*, session: Session, actor: Actor, answer_id: int,
                    data: OverrideIn) -> Answer:
    """Record an auditor's rating beside the institution's (both kept), with a reason."""
    answer, assessment = get_answer(session=session, actor=actor, answer_id=answer_id,
                                    permission=P.ASSESSMENT_REVIEW)
    if assessment.status not in ("submitted", "reviewed"):
        raise Conflict("Ratings can be overridden only on a submitted assessment.")
    check_version(answer.version, data.version)
    _check_rating(data.status, data.maturity, data.reason)
    before = answer_state(answer)
    answer.override_status = data.status.value
    answer.override_maturity = (None if data.status is AnswerStatus.NOT_APPLICABLE
                                else data.maturity)
    answer.override_reason = data.reason.strip()
    answer.overridden_by, answer.overridden_at = actor.name[:254], utcnow()
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.answer.override",
                 object_type="answer", object_id=answer.id, object_repr=answer.control_id,
                 before=before, after=answer_state(answer),
                 institution_id=assessment.institution_id)
    return answer


def add_evidence(*, session: Session, actor: Actor, settings: Settings, answer_id: int,
                 data: bytes | BinaryIO, name: str, declared_type: str | None = None,
                 allowed: Collection[str] = EVIDENCE_TYPES) -> AnswerEvidence:
    """Store a file (size and type checked by content) and link it to the answer."""
    answer, assessment = get_answer(session=session, actor=actor, answer_id=answer_id,
                                    permission=P.ANSWER_WRITE)
    _ensure_editable(assessment)
    stored = files.store(session=session, actor=actor, settings=settings, data=data, name=name,
                         declared_type=declared_type, allowed=allowed,
                         max_bytes=min(settings.max_upload_bytes, EVIDENCE_MAX_BYTES))
    existing = next((e for e in answer.evidence if e.sha256 == stored.sha256), None)
    if existing is not None:
        return existing
    link = AnswerEvidence(file_id=stored.id, sha256=stored.sha256,
                          name=files.clean_name(name), media_type=stored.media_type,
                          size=stored.size, added_by=actor.name[:254])
    answer.evidence.append(link)
    answer.version += 1  # the evidence is part of the answer: a reader's copy is now stale
    flush(session)
    audit.record(session=session, actor=actor, action="compliance.answer.evidence.add",
                 object_type="answer", object_id=answer.id, object_repr=answer.control_id,
                 details={"sha256": stored.sha256, "name": link.name, "size": stored.size},
                 institution_id=assessment.institution_id)
    return link


def get_evidence(*, session: Session, actor: Actor, evidence_id: int) -> AnswerEvidence:
    """One evidence link of an answer the actor may see (404 otherwise)."""
    found = session.get(AnswerEvidence, evidence_id)
    if found is None:
        actor.require(P.ASSESSMENT_READ)
        raise _not_found("file")
    get_answer(session=session, actor=actor, answer_id=found.answer_id)
    return found


def transition(*, session: Session, actor: Actor, assessment_id: int, action: str,
               version: int | None, reason: str | None = None) -> Assessment:
    """Move an assessment: ``submit``, ``review``, ``approve`` or ``reopen`` (with a reason)."""
    assessment = get_assessment(session=session, actor=actor, assessment_id=assessment_id)
    actor.require(ACTION_PERMISSIONS.get(action, P.ASSESSMENT_APPROVE))
    move = TRANSITIONS.get(assessment.status, {}).get(action)
    if move is None:
        raise Conflict("An assessment in state %(status)s cannot be %(action)s.",
                       status=assessment.status, action=action)
    target, permission = move
    actor.require(permission)
    check_version(assessment.version, version)
    if assessment.campaign.status != "open":
        raise Conflict("The campaign is not open: assessments cannot change.")
    if action == "submit":
        missing = sum(1 for a in session.scalars(select(Answer).where(
            Answer.assessment_id == assessment.id, Answer.status.is_(None))).unique())
        if missing:
            raise Invalid("%(count)s requirements are not answered yet.", count=missing)
    if action == "reopen" and not (reason or "").strip():
        raise Invalid("Give a reason for reopening the assessment.")
    before = {"status": assessment.status}
    assessment.status = target
    now, who = utcnow(), actor.name[:254]
    if action == "submit":
        assessment.submitted_at, assessment.submitted_by = now, who
    elif action == "review":
        assessment.reviewed_at, assessment.reviewed_by = now, who
    elif action == "approve":
        assessment.approved_at, assessment.approved_by = now, who
    else:
        assessment.reopen_reason = (reason or "").strip()
    flush(session)
    audit.record(session=session, actor=actor, action=f"compliance.assessment.{action}",
                 object_type="assessment", object_id=assessment.id,
                 object_repr=f"{assessment.campaign.name} #{assessment.id}", before=before,
                 after={"status": target, "reason": reason},
                 institution_id=assessment.institution_id)
    if action == "submit":
        notify(session=session, user_ids=users_with_role(session, Role.AGENCY_OFFICER),
               title="A self-assessment was submitted in %(name)s",
               params={"name": assessment.campaign.name},
               link=f"/compliance/assessments/{assessment.id}", email=True)
    return assessment


def score(answers: list[Answer]) -> float | None:
    """The weighted average of effective maturity over applicable answered requirements,
    0–100 (not applicable excluded, not implemented counts as 0); None when nothing counts."""
    weighted = total = 0
    for answer in scored_answers(answers):
        level = (0 if answer.effective_status == AnswerStatus.NOT_IMPLEMENTED
                 else answer.effective_maturity or 0)
        weighted += answer.requirement.weight * level
        total += answer.requirement.weight * 5
    return round(100 * weighted / total, 1) if total else None


def scored_answers(answers: list[Answer]) -> list[Answer]:
    """The answers a score is computed from (answered and applicable)."""
    return [a for a in answers if a.effective_status is not None
            and a.effective_status != AnswerStatus.NOT_APPLICABLE]


#: Answer statuses that are gaps a remediation action can remedy.
GAP_STATUSES = (AnswerStatus.PARTIAL.value, AnswerStatus.NOT_IMPLEMENTED.value)


@dataclass(frozen=True)
class GapAction:
    """The remediation action already opened for a gap answer."""

    id: int
    title: str
    status: str


def gap_actions(*, session: Session, actor: Actor, answer_ids: list[int]) -> dict[int, GapAction]:
    """The actions remedying these answers that the actor may see, by answer id."""
    if not answer_ids or not actor.can(ActionPermission.ACTION_READ):
        return {}
    columns = cast("Select[Any]", select(Action.answer_id, Action.id, Action.title,
                                         Action.status))
    stmt = restrict(columns, actor=actor, permission=ActionPermission.ACTION_READ,
                    scope=Action.institution_id).where(Action.answer_id.in_(answer_ids))
    return {int(answer_id): GapAction(int(ident), str(title), str(status))
            for answer_id, ident, title, status in session.execute(stmt)}


def gap_priority(*, weight: int, tier: int) -> str:
    """The priority of an action remedying a gap: the requirement's weight (1 to 3) plus the
    institution's criticality (tier 1, the most critical, counts 3; tier 3 counts 1)."""
    points = weight + (4 - min(max(tier, 1), 3))
    if points >= 6:
        return "critical"
    if points == 5:
        return "high"
    return "medium" if points >= 3 else "low"
