"""Hand-over to the data protection authority and to the judicial police, with reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.errors import Conflict, Forbidden
from lakana.csirt import handover
from lakana.csirt.models import Case, CaseClock, CaseEvent
from lakana.csirt.schemas import EventCreate
from lakana.csirt.service import add_incident_event
from tests.conftest import csrf_from
from tests.csirt.conftest import Institutions, actor_of


@pytest.fixture
def breach(make_case: Callable[..., int], csirt_institutions: Institutions,
           analyst: User, session_factory: sessionmaker[Session]) -> int:
    """A personal-data breach of institution a, assigned to the analyst, with a measure."""
    case_id = make_case(csirt_institutions.a, personal_data=True, people_affected=1200,
                        title="Fuite du fichier des agents", assignee_id=analyst.id)
    with session_factory.begin() as session:
        add_incident_event(session=session, actor=actor_of(analyst), case_id=case_id,
                           data=EventCreate(at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                                            message="Compte compromis désactivé"))
    return case_id


def test_flags_and_marks(session_factory: sessionmaker[Session], breach: int,
                         analyst: User, focal_a: User) -> None:
    actor = actor_of(analyst)
    with session_factory.begin() as session:
        # Given a breach: marking it notified before flagging is refused
        with pytest.raises(Conflict):
            handover.mark_dpa_notified(session=session, actor=actor, case_id=breach)
        # When the analyst flags both hand-overs and marks them done
        handover.flag_dpa_notice(session=session, actor=actor, case_id=breach)
        handover.flag_cybercrime_referral(session=session, actor=actor, case_id=breach)
        handover.mark_dpa_notified(session=session, actor=actor, case_id=breach)
        handover.mark_referred(session=session, actor=actor, case_id=breach)
        # Then a notified hand-over can be neither marked again nor unflagged
        with pytest.raises(Conflict):
            handover.mark_dpa_notified(session=session, actor=actor, case_id=breach)
        with pytest.raises(Conflict):
            handover.flag_dpa_notice(session=session, actor=actor, case_id=breach,
                                     required=False)
    with session_factory() as session:
        case = session.get(Case, breach)
        assert case is not None
        assert case.dpa_notice_required and case.dpa_notified_at is not None
        assert case.cybercrime_referral and case.referred_at is not None
        # And the APDP clock is met by the notification
        apdp = session.execute(select(CaseClock).where(
            CaseClock.case_id == breach, CaseClock.clock == "dpa-notification")).scalar_one()
        assert apdp.met_at == case.dpa_notified_at
        flags = session.scalars(select(CaseEvent.message).where(
            CaseEvent.case_id == breach, CaseEvent.kind == "flag")).all()
        actions = set(session.scalars(select(AuditEntry.action)))
    assert len(flags) == 4
    assert {"csirt.case.flag_dpa", "csirt.case.flag_referral", "csirt.case.dpa_notified",
            "csirt.case.referred"} <= actions
    # And a focal point may not flag
    with session_factory() as session, pytest.raises(Forbidden):
        handover.flag_dpa_notice(session=session, actor=actor_of(focal_a), case_id=breach)


def test_dpa_report_holds_the_facts(session_factory: sessionmaker[Session], breach: int,
                                    analyst: User) -> None:
    # Given a flagged breach
    with session_factory.begin() as session:
        handover.flag_dpa_notice(session=session, actor=actor_of(analyst), case_id=breach)
    # When the notice is generated
    with session_factory.begin() as session:
        html = handover.render_dpa_notice(session=session, actor=actor_of(analyst),
                                          case_id=breach)
        case = session.get(Case, breach)
        assert case is not None and case.reference
        reference = case.reference
    # Then it is in French, with the case's facts, measures and contact
    assert "Notification de violation de données à caractère personnel" in html
    assert reference in html and "Fuite du fichier des agents" in html
    assert "INSTA" in html  # the institution
    assert "1200" in html  # people affected
    assert "Compte compromis désactivé" in html  # a measure from the timeline
    assert analyst.email in html  # the contact at the centre (the assignee)
    assert "2013-015" in html and "TLP:AMBER" in html
    # And the generation is ledgered as a read
    with session_factory() as session:
        reads = session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "csirt.case.read")).all()
    assert any("hand-over report (dpa)" in d for d in reads)


def test_pdf_and_pages(breach: int, analyst: User, focal_a: User,
                       login_as: Callable[[User], TestClient],
                       api_as: Callable[[User], TestClient]) -> None:
    # Given the analyst in a browser
    browser = login_as(analyst)
    # When they open the reports
    page = browser.get(f"/csirt/cases/{breach}/handover/referral")
    pdf = browser.get(f"/csirt/cases/{breach}/handover/dpa.pdf")
    api_pdf = api_as(analyst).get(f"/api/v1/csirt/cases/{breach}/handover/referral.pdf")
    api_html = api_as(analyst).get(f"/api/v1/csirt/cases/{breach}/handover/dpa")
    # Then they are served as a page and as PDF documents
    assert page.status_code == 200 and "2019-056" in page.text
    assert "Fuite du fichier des agents" in page.text
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert api_pdf.status_code == 200 and api_pdf.content.startswith(b"%PDF")
    assert api_html.status_code == 200 and "<!doctype html>" in api_html.text
    # And a focal point of the case's own institution may not generate them
    focal_browser = login_as(focal_a)
    assert focal_browser.get(f"/csirt/cases/{breach}/handover/dpa").status_code == 403
    assert focal_browser.get(f"/csirt/cases/{breach}/handover/dpa.pdf").status_code == 403
    assert api_as(focal_a).get(
        f"/api/v1/csirt/cases/{breach}/handover/referral.pdf").status_code == 403


def test_focal_point_of_another_institution_gets_404(
        breach: int, focal_b: User, api_as: Callable[[User], TestClient]) -> None:
    # Given a focal point of b / When they ask for a's report / Then 404
    response = api_as(focal_b).get(f"/api/v1/csirt/cases/{breach}/handover/dpa.pdf")
    assert response.status_code == 404


def test_forms_and_api_set_the_flags(session_factory: sessionmaker[Session], breach: int,
                                     analyst: User, login_as: Callable[[User], TestClient],
                                     api_as: Callable[[User], TestClient]) -> None:
    # Given the analyst in a browser
    browser = login_as(analyst)
    token = csrf_from(browser.get("/account").text)
    with session_factory() as session:
        case = session.get(Case, breach)
        assert case is not None
        version = case.version
    # When they flag the referral through the form, then mark it done through the API
    flagged = browser.post(f"/csirt/cases/{breach}/handover/referral",
                           data={"action": "flag", "version": str(version),
                                 "csrf_token": token}, follow_redirects=False)
    stale = browser.post(f"/csirt/cases/{breach}/handover/referral",
                         data={"action": "unflag", "version": str(version),
                               "csrf_token": token}, follow_redirects=False)
    done = api_as(analyst).post(f"/api/v1/csirt/cases/{breach}/handover/referral/done",
                                json={})
    dpa = api_as(analyst).post(f"/api/v1/csirt/cases/{breach}/handover/dpa",
                               json={"required": True})
    # Then the flag is set, a stale form conflicts, and the API records the referral
    assert flagged.status_code == 303
    assert flagged.headers["location"] == f"/csirt/cases/{breach}"
    assert stale.status_code == 409
    assert done.status_code == 200 and done.json()["referred_at"] is not None
    assert dpa.status_code == 200 and dpa.json()["dpa_notice_required"] is True
