"""Findings leaving the domain: automatic and one-click CSIRT cases, compliance evidence."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns.external_evidence import SCAN_EVIDENCE_BY, scan_evidence
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.schemas import AnswerIn
from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden
from lakana.csirt.models import Case
from lakana.monitoring.exposure import flows
from lakana.monitoring.exposure.models import ExposureFinding
from tests.compliance.campaigns.makers import make_campaign
from tests.conftest import Factory
from tests.exposure import service_fixtures
from tests.exposure.service_fixtures import (
    ADMIN,
    ExposureWorld,
    scan_now,
)

#: Fixtures shared by the exposure service tests.
exposure_world = service_fixtures.exposure_world
fake_checks = service_fixtures.fake_checks
scan_settings = service_fixtures.scan_settings


def _findings(session_factory: sessionmaker[Session]) -> list[ExposureFinding]:
    with session_factory() as session:
        return list(session.scalars(select(ExposureFinding).order_by(ExposureFinding.id)))


def _cases(session_factory: sessionmaker[Session]) -> list[Case]:
    with session_factory() as session:
        return list(session.scalars(select(Case)))


def test_a_new_critical_finding_opens_a_case_once(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given a critical and a medium issue
    exposure_world.a_server.issues = {"fake.crit": "/.git", "fake.med": ""}
    # When scanned twice
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then one case, from detection, for the critical finding only
    (case,) = _cases(session_factory)
    assert case.source == "detection" and case.institution_id == exposure_world.a
    assert case.system_id == exposure_world.a_system
    assert "127.0.0.1" in case.title and case.taxonomy_type == "vulnerable-system"
    crit = next(f for f in _findings(session_factory) if f.issue_id == "fake.crit")
    assert (crit.case_id, crit.case_reference) == (case.id, case.reference)


def test_no_automatic_case_when_switched_off(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    exposure_world.settings = exposure_world.settings.model_copy(
        update={"exposure_auto_case": False})
    exposure_world.a_server.issues = {"fake.crit": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    assert _cases(session_factory) == []


def test_one_click_case(exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
                        factory: Factory) -> None:
    # Given a medium finding (no automatic case)
    exposure_world.a_server.issues = {"fake.med": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    (finding,) = _findings(session_factory)
    focal = auth_service.actor_for(factory.user(Role.FOCAL_POINT,
                                                institution_id=exposure_world.a))
    with session_factory.begin() as session:
        # A focal point may not triage
        with pytest.raises(Forbidden):
            flows.open_case(session=session, actor=focal, finding_id=finding.id)
        # When an analyst opens a case in one click
        reference = flows.open_case(session=session, actor=ADMIN, finding_id=finding.id)
    # Then the finding points at it, and a second click is refused
    assert reference.startswith("INC-")
    assert _findings(session_factory)[0].case_reference == reference
    with session_factory() as session, pytest.raises(Conflict):
        flows.open_case(session=session, actor=ADMIN, finding_id=finding.id)


def _answer(session_factory: sessionmaker[Session], control_id: str) -> Answer:
    with session_factory() as session:
        answers = session.scalars(select(Answer).join(Assessment)).unique()
        found = next(a for a in answers if a.control_id == control_id)
        _ = found.evidence
        return found


def test_findings_feed_the_compliance_evidence(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given A in an open campaign, where a person already answered gov-1
    make_campaign(factory, exposure_world.a)
    gov = _answer(session_factory, "gov-1")
    with session_factory.begin() as session:
        answer_service.update_answer(session=session, actor=ADMIN, answer_id=gov.id,
                                     data=AnswerIn(status="implemented", maturity=4,
                                                   version=gov.version))
    # When a scan finds a critical issue (net-1) and a medium one (gov-1)
    exposure_world.a_server.issues = {"fake.crit": "", "fake.med": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then the empty net-1 answer is "not implemented" with the scan's evidence
    net = _answer(session_factory, "net-1")
    assert net.status == "not_implemented" and net.maturity == 0
    assert net.answered_by == SCAN_EVIDENCE_BY
    (link,) = net.evidence
    assert link.added_by == SCAN_EVIDENCE_BY and link.media_type == "text/plain"
    # And the person's gov-1 answer is untouched, with the evidence attached beside it
    gov = _answer(session_factory, "gov-1")
    assert (gov.status, gov.maturity) == ("implemented", 4)
    assert [e.added_by for e in gov.evidence] == [SCAN_EVIDENCE_BY]
    # When the issues are fixed and scanned again
    exposure_world.a_server.issues = {}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then the evidence is replaced (one scan file per answer), the answers stay
    net2 = _answer(session_factory, "net-1")
    (link2,) = net2.evidence
    assert link2.sha256 != link.sha256 and net2.status == "not_implemented"
    with session_factory() as session:
        found = scan_evidence(session=session, answer_ids=[net2.id, gov.id])
        assert set(found) == {net2.id, gov.id}


def test_the_assessment_page_marks_scan_evidence(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory, login_as: Callable[[User], TestClient]) -> None:
    # Given A in an open campaign, and a scan that found a critical issue
    make_campaign(factory, exposure_world.a)
    exposure_world.a_server.issues = {"fake.crit": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    net = _answer(session_factory, "net-1")
    # When A's focal point opens the assessment page
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=exposure_world.a))
    page = browser.get(f"/compliance/assessments/{net.assessment_id}")
    # Then the scan's evidence file is listed and marked as coming from a scan
    assert page.status_code == 200
    assert "Issue d&#39;une analyse automatique" in page.text or \
        "Issue d'une analyse automatique" in page.text
