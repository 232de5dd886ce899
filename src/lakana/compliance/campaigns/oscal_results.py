"""OSCAL assessment results (OSCAL 1.2.3) of campaign self-assessments.

One ``result`` per assessment: the requirements assessed (``reviewed-controls``), one
``finding`` per answered requirement with the effective rating (the auditor's override when
there is one, the institution's own rating kept beside it in Lakana's namespace ``NS``), and
one ``observation`` per answer with a comment or evidence files. Every UUID is derived from
Lakana's ids (UUID v5) and every date from the data, so exporting the same data twice gives
the same document; its ``version`` is a digest of its results.

Access goes through the campaign services: an actor sees only the assessments in their scope.
Texts are written in the current language.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer, Assessment, Campaign
from lakana.compliance.oscal import NS
from lakana.compliance.oscal_schema import OSCAL_VERSION
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict
from lakana.core.i18n import N_, current_language, gettext, translate
from lakana.registry import service as registry_service

#: The namespace of the UUIDs of Lakana's assessment results.
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{NS}/assessment-results")
#: Where an evidence file is downloaded (relative to the site).
EVIDENCE_HREF = "/api/v1/compliance/evidence/{id}"
#: Lakana status → OSCAL objective status (state, reason).
OBJECTIVE_STATUS = {"implemented": ("satisfied", "pass"),
                    "partial": ("not-satisfied", "fail"),
                    "not_implemented": ("not-satisfied", "fail"),
                    "not_applicable": ("satisfied", "other")}
#: Lakana status → OSCAL implementation state, where OSCAL has one.
IMPLEMENTATION_STATE = {"implemented": "implemented", "partial": "partial",
                        "not_applicable": "not-applicable"}
STATUS_TEXTS = {"implemented": N_("implemented"), "partial": N_("partially implemented"),
                "not_implemented": N_("not implemented"),
                "not_applicable": N_("not applicable")}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, ":".join(str(p) for p in parts)))


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without a time zone (SQLite gives naive UTC values back, PostgreSQL aware ones)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _when(value: dt.datetime) -> str:
    """An OSCAL date-time (UTC, seconds); naive values are UTC as stored."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value)}


def _line(text: str) -> str:
    """One line without outer spaces (OSCAL property values and titles)."""
    return " ".join(text.split())


def _answer_props(answer: Answer) -> list[dict[str, str]]:
    props = [_prop("status", answer.effective_status)]
    if answer.effective_maturity is not None:
        props.append(_prop("maturity", answer.effective_maturity))
    props.append(_prop("overridden", "true" if answer.is_overridden else "false"))
    if answer.is_overridden:
        props.append(_prop("self-status", answer.status or "unanswered"))
        if answer.maturity is not None:
            props.append(_prop("self-maturity", answer.maturity))
        if answer.override_reason and _line(answer.override_reason):
            props.append(_prop("override-reason", _line(answer.override_reason)))
    if answer.carried_over:
        props.append(_prop("carried-over", "true"))
    return props


def _observation(answer: Answer, fallback: dt.datetime) -> dict[str, Any] | None:
    if not answer.comment.strip() and not answer.evidence:
        return None
    dates = [answer.answered_at, *(e.added_at for e in answer.evidence)]
    collected = max((_naive(d) for d in dates if d), default=None)
    observation: dict[str, Any] = {
        "uuid": _uuid("answer", answer.id, "observation"),
        "title": _line(gettext(N_("Self-assessment of %(control)s"),
                               control=answer.control_id)),
        "description": answer.comment.strip() or gettext(N_("Evidence given by the "
                                                            "institution.")),
        "methods": ["EXAMINE" if answer.evidence else "UNKNOWN"],
        "types": ["control-objective"],
        "collected": _when(collected or fallback)}
    if answer.evidence:
        observation["relevant-evidence"] = [{
            "href": EVIDENCE_HREF.format(id=e.id), "description": e.name,
            "props": [_prop("sha256", e.sha256), _prop("media-type", e.media_type),
                      _prop("size", e.size)]} for e in answer.evidence]
    return observation


def _finding(answer: Answer, observation: dict[str, Any] | None) -> dict[str, Any]:
    status = answer.effective_status or "not_implemented"
    state, reason = OBJECTIVE_STATUS[status]
    text = translate(STATUS_TEXTS[status])
    if answer.effective_maturity is not None:
        description = gettext(N_("%(control)s is %(status)s (maturity %(maturity)s of 5)."),
                              control=answer.control_id, status=text,
                              maturity=answer.effective_maturity)
    else:
        description = gettext(N_("%(control)s is %(status)s."), control=answer.control_id,
                              status=text)
    objective: dict[str, Any] = {"state": state, "reason": reason}
    if answer.justification.strip():
        objective["remarks"] = answer.justification.strip()
    target: dict[str, Any] = {"type": "objective-id", "target-id": answer.control_id,
                              "status": objective}
    if status in IMPLEMENTATION_STATE:
        target["implementation-status"] = {"state": IMPLEMENTATION_STATE[status]}
    title = answer.requirement.text("title", current_language())
    finding: dict[str, Any] = {
        "uuid": _uuid("answer", answer.id, "finding"),
        "title": _line(f"{answer.control_id} — {title}"),
        "description": description, "props": _answer_props(answer), "target": target}
    if observation is not None:
        finding["related-observations"] = [{"observation-uuid": observation["uuid"]}]
    if answer.is_overridden and answer.override_reason and answer.override_reason.strip():
        finding["remarks"] = answer.override_reason.strip()
    return finding


def _assessment_dates(assessment: Assessment, answers: Iterable[Answer]) -> list[dt.datetime]:
    dates = [assessment.created_at, assessment.campaign.launched_at, assessment.submitted_at,
             assessment.reviewed_at, assessment.approved_at]
    for answer in answers:
        dates += [answer.answered_at, answer.overridden_at,
                  *(e.added_at for e in answer.evidence)]
    return [_naive(d) for d in dates if d is not None]


def _party(session: Session, actor: Actor, institution_id: int) -> dict[str, Any]:
    inst = registry_service.get_institution(session=session, actor=actor,
                                            institution_id=institution_id)
    return {"uuid": _uuid("institution", inst.id), "type": "organization",
            "name": _line(inst.name), "short-name": _line(inst.acronym),
            "props": [_prop("institution-id", inst.id)]}


def _result(session: Session, actor: Actor, assessment: Assessment
            ) -> tuple[dict[str, Any], dict[str, Any], list[dt.datetime]]:
    """The ``result`` of one assessment, its institution as a party, and the dates its
    content carries."""
    answers = answer_service.list_answers(session=session, actor=actor,
                                          assessment_id=assessment.id)
    campaign = assessment.campaign
    party = _party(session, actor, assessment.institution_id)
    subject = party["name"]
    props = [_prop("assessment-id", assessment.id), _prop("assessment-status", assessment.status),
             _prop("institution-id", assessment.institution_id)]
    if assessment.system_id is not None:
        system = registry_service.get_system(session=session, actor=actor,
                                             system_id=assessment.system_id)
        subject = f"{subject} — {_line(system.name)}"
        props.append(_prop("system-id", system.id))
    score = answer_service.score(answers)
    if score is not None:
        props.append(_prop("score", score))
    start = campaign.launched_at or assessment.created_at
    result: dict[str, Any] = {
        "uuid": _uuid("assessment", assessment.id, "result"),
        "title": _line(subject),
        "description": gettext(N_("Self-assessment of %(subject)s in the campaign %(campaign)s "
                                  "(profile %(profile)s)."), subject=subject,
                               campaign=campaign.name, profile=campaign.profile.key),
        "start": _when(start), "props": props}
    if assessment.status == "approved" and assessment.approved_at is not None:
        result["end"] = _when(assessment.approved_at)
    controls = [{"control-id": a.control_id} for a in answers]
    result["reviewed-controls"] = {"control-selections": [
        {"include-controls": controls} if controls else {"include-all": {}}]}
    observations, findings = [], []
    for answer in answers:
        if answer.effective_status is None:
            continue  # not answered yet: no finding
        observation = _observation(answer, start)
        if observation is not None:
            observations.append(observation)
        findings.append(_finding(answer, observation))
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return result, party, _assessment_dates(assessment, answers)


def _document(*, campaign: Campaign, title: str, results: list[dict[str, Any]],
              parties: list[dict[str, Any]], dates: list[dt.datetime], key: str
              ) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(results, sort_keys=True, ensure_ascii=False)
                            .encode("utf-8")).hexdigest()
    unique_parties = list({p["uuid"]: p for p in parties}.values())
    return {"assessment-results": {
        "uuid": _uuid(key, "assessment-results"),
        "metadata": {
            "title": _line(title), "last-modified": _when(max(dates)),
            "version": digest[:12], "oscal-version": OSCAL_VERSION,
            "props": [_prop("campaign-id", campaign.id), _prop("campaign-year", campaign.year),
                      _prop("profile", campaign.profile.key)],
            "parties": unique_parties},
        "import-ap": {
            "href": f"urn:lakana:campaign:{campaign.id}",
            "remarks": gettext(N_("Lakana campaign %(campaign)s, whose plan is the profile "
                                  "%(profile)s; no separate OSCAL assessment plan is "
                                  "published."), campaign=campaign.name,
                               profile=campaign.profile.key)},
        "results": results}}


def assessment_results(*, session: Session, actor: Actor, assessment_id: int
                       ) -> dict[str, Any]:
    """The OSCAL assessment results of one assessment (404 outside the actor's scope)."""
    assessment = service.get_assessment(session=session, actor=actor,
                                        assessment_id=assessment_id)
    result, party, dates = _result(session, actor, assessment)
    campaign = assessment.campaign
    return _document(
        campaign=campaign, key=f"assessment:{assessment.id}",
        title=gettext(N_("Assessment results: %(subject)s, %(campaign)s"),
                      subject=result["title"], campaign=campaign.name),
        results=[result], parties=[party], dates=dates)


def campaign_results(*, session: Session, actor: Actor, campaign_id: int) -> dict[str, Any]:
    """The OSCAL assessment results of a campaign: one result per assessment the actor may
    see (409 when there is none, such as before the launch)."""
    campaign = service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    assessments = service.list_assessments(session=session, actor=actor,
                                           campaign_id=campaign.id)
    if not assessments:
        raise Conflict("This campaign has no assessment you may see yet: nothing to export.")
    results, parties, dates = [], [], [_naive(campaign.created_at)]
    for assessment in sorted(assessments, key=lambda a: a.id):
        result, party, found = _result(session, actor, assessment)
        results.append(result)
        parties.append(party)
        dates += found
    return _document(campaign=campaign, key=f"campaign:{campaign.id}",
                     title=gettext(N_("Assessment results: %(campaign)s"),
                                   campaign=campaign.name),
                     results=results, parties=parties, dates=dates)
