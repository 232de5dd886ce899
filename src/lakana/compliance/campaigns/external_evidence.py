"""Evidence written by automated sources (the exposure scanner) into self-assessments.

No new table: a scan's evidence for a requirement is a small text file of the core file
store linked to the answer as an ordinary :class:`AnswerEvidence` (the assessment page already
lists and serves evidence files), told apart by ``added_by`` == :data:`SCAN_EVIDENCE_BY`.

Rules, for the institution-level assessments of the institution that are still in draft in
an open campaign and whose requirement set holds the requirement:

* the previous scan evidence of that answer is replaced by the new one (one scan file per
  answer, the latest);
* the answer is set to "not implemented" (maturity 0) only when it is still unanswered and
  the caller says the scan found the requirement unmet; an answer a person gave (or carried
  over from last year) is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns.models import Answer, AnswerEvidence, Assessment, Campaign
from lakana.compliance.models import Requirement
from lakana.core import audit
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.files import service as files

#: ``added_by`` of evidence written by the exposure scanner (and its answers' ``answered_by``).
SCAN_EVIDENCE_BY = "exposure scan"


def _answers(session: Session, institution_id: int, requirement_ids: Iterable[str]
             ) -> list[Answer]:
    """Answers to these control ids in the institution's editable institution-level
    assessments."""
    wanted = sorted({r.strip().lower() for r in requirement_ids if r.strip()})
    if not wanted:
        return []
    stmt = (select(Answer).join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Campaign, Campaign.id == Assessment.campaign_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.institution_id == institution_id,
                   Assessment.system_id.is_(None), Assessment.status == "draft",
                   Campaign.status == "open", Requirement.control_id.in_(wanted))
            .order_by(Answer.id))
    return list(session.scalars(stmt).unique())


def record_scan_evidence(*, session: Session, settings: Settings, institution_id: int,
                         requirement_id: str, summary: str, unmet: bool,
                         actor: Actor | None = None) -> int:
    """Attach ``summary`` (plain text) as the scan evidence of requirement
    ``requirement_id`` in the institution's draft assessments; mark an unanswered one "not
    implemented" when ``unmet``. Returns how many answers were touched."""
    actor = actor or system_actor(SCAN_EVIDENCE_BY, "system")
    answers = _answers(session, institution_id, [requirement_id])
    if not answers:
        return 0
    data = summary.encode("utf-8")
    name = f"exposure-scan-{requirement_id.strip().lower()}.txt"
    stored = files.store(session=session, actor=actor, settings=settings, data=data, name=name,
                         declared_type="text/plain", allowed={"text/plain"})
    for answer in answers:
        old = [e for e in answer.evidence if e.added_by == SCAN_EVIDENCE_BY]
        if len(old) == 1 and old[0].sha256 == stored.sha256 and not (unmet and
                                                                   answer.status is None):
            continue
        for link in old:
            answer.evidence.remove(link)
        answer.evidence.append(AnswerEvidence(
            file_id=stored.id, sha256=stored.sha256, name=files.clean_name(name),
            media_type=stored.media_type, size=stored.size, added_by=SCAN_EVIDENCE_BY))
        changed = ["evidence"]
        if unmet and answer.status is None:
            answer.status, answer.maturity = "not_implemented", 0
            answer.comment = summary.splitlines()[0][:500] if summary else ""
            answer.answered_by, answer.answered_at = SCAN_EVIDENCE_BY, utcnow()
            changed.append("status")
        answer.version += 1  # the evidence is part of the answer: a reader's copy is stale
        session.flush()
        audit.record(session=session, actor=actor, action="compliance.answer.scan_evidence",
                     object_type="answer", object_id=answer.id,
                     object_repr=answer.control_id, institution_id=institution_id,
                     details={"sha256": stored.sha256, "changed": changed})
    return len(answers)


def scan_evidence(*, session: Session, answer_ids: Iterable[int]) -> dict[int, AnswerEvidence]:
    """The scan evidence of each of these answers (internal: the caller has already read the
    assessment through its scoped service). Pages show it as "from the exposure scan"."""
    ids = list(answer_ids)
    if not ids:
        return {}
    rows = session.scalars(select(AnswerEvidence).where(
        AnswerEvidence.answer_id.in_(ids), AnswerEvidence.added_by == SCAN_EVIDENCE_BY)
        .order_by(AnswerEvidence.id))
    return {row.answer_id: row for row in rows}


def has_scan_evidence(*, session: Session, institution_id: int, requirement_id: str) -> bool:
    """Whether an editable answer of the institution holds scan evidence for the
    requirement (so a later scan updates it even when nothing is open any more)."""
    return any(e.added_by == SCAN_EVIDENCE_BY
               for a in _answers(session, institution_id, [requirement_id]) for e in a.evidence)
