"""Where exposure findings leave the domain: CSIRT cases and compliance evidence.

* A critical finding that appears (new or reopened) opens a CSIRT case automatically when
  ``settings.exposure_auto_case`` is on (rule-based, source "detection", system actor); an
  analyst can do the same in one click for any finding (:func:`open_case`). A finding has at
  most one case.
* After a scan, each issue's baseline requirements (``Issue.requirements``) receive the
  institution's scan evidence through the compliance service
  (:mod:`lakana.compliance.campaigns.external_evidence`): a short text listing what is open,
  and "not implemented" on an answer still empty when something of medium severity or worse
  is open.

Case texts and evidence are stored data, written in the platform's default language (French).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import external_evidence
from lakana.core import audit, i18n
from lakana.core.auth.rbac import Actor, ensure_in_scope, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Conflict, NotFound
from lakana.core.i18n import N_, Msg
from lakana.csirt import service as csirt
from lakana.csirt.schemas import CaseReport
from lakana.monitoring.exposure import findings
from lakana.monitoring.exposure.checks.base import Issue, Severity
from lakana.monitoring.exposure.models import ExposureFinding
from lakana.monitoring.exposure.permissions import ExposurePermission as P
from lakana.monitoring.exposure.schemas import LABELS

log = logging.getLogger("lakana.exposure")

STORED_LANGUAGE = "fr"
CASE_TITLE = N_("Exposure: %(issue)s on %(target)s")
CASE_BODY = N_("The exposure scan found this weakness on %(target)s (%(severity)s): "
               "%(issue)s.\n\n%(explanation)s\n\nAdvice: %(advice)s\n\nFinding: %(link)s")
EVIDENCE_HEAD = N_("Exposure scan: %(count)s open finding(s) for requirement %(requirement)s.")
EVIDENCE_NONE = N_("Exposure scan: nothing open for requirement %(requirement)s.")
#: Severities that make a requirement "not implemented" when its answer is still empty.
UNMET = frozenset({Severity.CRITICAL.value, Severity.HIGH.value, Severity.MEDIUM.value})


def _issue(issue_id: str) -> Issue | None:
    return findings.all_issues().get(issue_id)


def finding_title(finding: ExposureFinding, issue: Issue | None) -> str:
    """The finding's title in the current language (its issue's title, parameters filled)."""
    if issue is None:
        return finding.issue_id
    params = finding.evidence.get("_params") if isinstance(finding.evidence, dict) else None
    try:
        return i18n.gettext(issue.title, **dict(params or {})) if params else \
            i18n.gettext(issue.title)
    except (KeyError, ValueError, TypeError):
        return i18n.gettext(issue.title)


def _report(finding: ExposureFinding) -> CaseReport:
    issue = _issue(finding.issue_id)
    with i18n.use_language(STORED_LANGUAGE):
        title = finding_title(finding, issue)
        body = i18n.gettext(
            CASE_BODY, target=finding.target, severity=Msg(LABELS[finding.severity]), issue=title,
            explanation=i18n.gettext(issue.explanation) if issue else "",
            advice=i18n.gettext(issue.advice) if issue else "",
            link=f"/exposure/findings/{finding.id}")
        head = i18n.gettext(CASE_TITLE, issue=title, target=finding.target)
    return CaseReport(title=head[:200], description=body[:20_000],
                      institution_id=finding.institution_id, system_id=finding.system_id,
                      taxonomy_class="vulnerable", taxonomy_type="vulnerable-system")


def _open(session: Session, actor: Actor, finding: ExposureFinding) -> str:
    case = csirt.report_case(session=session, actor=actor, data=_report(finding),
                             source="detection")
    finding.case_id, finding.case_reference = case.id, case.reference
    session.flush()
    audit.record(session=session, actor=actor, action="exposure.finding.case",
                 object_type="exposure.finding", object_id=finding.id,
                 object_repr=f"{finding.issue_id} {finding.target}"[:300],
                 institution_id=finding.institution_id,
                 details={"case": case.reference})
    return case.reference or f"#{case.id}"


def open_case(*, session: Session, actor: Actor, finding_id: int) -> str:
    """Open a CSIRT case for a finding (one click); returns the case reference. Refused
    (409) when the finding already has one."""
    finding = session.get(ExposureFinding, finding_id)
    ensure_in_scope(actor, finding.institution_id if finding else -1, P.TRIAGE,
                    what=Msg("finding"))
    if finding is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("finding"))
    if finding.case_id is not None or finding.case_reference:
        raise Conflict("A CSIRT case is already open for this finding: %(reference)s.",
                       reference=finding.case_reference or "")
    return _open(session, actor, finding)


def auto_cases(*, session: Session, finding_ids: Iterable[int]) -> list[str]:
    """Open a case for each critical, open finding among ``finding_ids`` that has none yet
    (the rule behind ``exposure_auto_case``); returns the references."""
    ids = sorted(set(finding_ids))
    if not ids:
        return []
    actor = system_actor("exposure scanner", "system")
    rows = session.scalars(select(ExposureFinding).where(
        ExposureFinding.id.in_(ids), ExposureFinding.severity == Severity.CRITICAL.value,
        ExposureFinding.status == "open", ExposureFinding.case_id.is_(None)))
    return [_open(session, actor, finding) for finding in list(rows)]


def requirement_findings(session: Session, institution_id: int
                         ) -> dict[str, list[ExposureFinding]]:
    """Open findings of an institution by the baseline requirement their issue relates to."""
    by_requirement: dict[str, list[ExposureFinding]] = defaultdict(list)
    rows = session.scalars(select(ExposureFinding).where(
        ExposureFinding.institution_id == institution_id, ExposureFinding.status == "open")
        .order_by(ExposureFinding.severity, ExposureFinding.id))
    for finding in rows:
        issue = _issue(finding.issue_id)
        for requirement in issue.requirements if issue else ():
            by_requirement[requirement.lower()].append(finding)
    return by_requirement


def _summary(requirement: str, found: list[ExposureFinding]) -> str:
    with i18n.use_language(STORED_LANGUAGE):
        if not found:
            return i18n.gettext(EVIDENCE_NONE, requirement=requirement)
        lines = [i18n.gettext(EVIDENCE_HEAD, count=len(found), requirement=requirement), ""]
        for finding in found[:200]:
            lines.append(f"- [{i18n.gettext(LABELS[finding.severity])}] {finding.target}: "
                         f"{finding_title(finding, _issue(finding.issue_id))}")
        return "\n".join(lines) + "\n"


def _known_requirements() -> set[str]:
    return {r.lower() for issue in findings.all_issues().values() for r in issue.requirements}


def record_compliance_evidence(*, session: Session, settings: Settings,
                               institution_ids: Iterable[int]) -> int:
    """Write each institution's scan evidence into its draft self-assessments, for every
    requirement with open findings, and refresh older scan evidence that is now clean.
    Returns how many answers were touched."""
    touched = 0
    for institution_id in sorted(set(institution_ids)):
        by_requirement = requirement_findings(session, institution_id)
        for requirement in sorted(_known_requirements() | set(by_requirement)):
            found = by_requirement.get(requirement, [])
            if not found and not external_evidence.has_scan_evidence(
                    session=session, institution_id=institution_id,
                    requirement_id=requirement):
                continue
            touched += external_evidence.record_scan_evidence(
                session=session, settings=settings, institution_id=institution_id,
                requirement_id=requirement, summary=_summary(requirement, found),
                unmet=any(f.severity in UNMET for f in found))
    return touched
