"""Statutory clocks: regulations as data, which clocks run, their states, marking them met."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.csirt import clocks, service
from lakana.csirt.models import Case, CaseClock, CaseEvent
from lakana.csirt.schemas import CaseTransition
from tests.conftest import csrf_from
from tests.csirt.conftest import ADMIN, Institutions, actor_of

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
ALL_INSTITUTION = {"acknowledgement", "early-warning", "full-notification", "final-report"}


def _document() -> dict[str, Any]:
    return json.loads(clocks.DATA.read_text(encoding="utf-8"))


def _new_case(session: Session, institution_id: int | None, **fields: Any) -> Case:
    """A case row with chosen times (the service stamps "now"; these tests freeze time)."""
    values: dict[str, Any] = {"title": "Fuite de données", "source": "institution",
                              "institution_id": institution_id, "reported_at": T0,
                              "detected_at": T0 - dt.timedelta(hours=2), "created_at": T0,
                              "updated_at": T0}
    values.update(fields)
    case = Case(**values)
    session.add(case)
    session.flush()
    case.reference = f"INC-2026-{case.id:05d}"
    return case


def _by_clock(rows: list[Any]) -> dict[str, Any]:
    return {row.clock: row for row in rows}


# --- regulations ------------------------------------------------------------------------

def test_shipped_regulations_load_and_say_they_are_defaults() -> None:
    # Given the shipped file / When loaded
    regulations = {r.id: r for r in clocks.load_regulations()}
    document = _document()
    # Then the four deadlines are there with their delays, and the data says what they are
    assert set(regulations) == {"csirt-acknowledgement", "institution-notification",
                                "apdp-personal-data-breach"}
    hours = {(r.id, c.id): c.hours for r in regulations.values() for c in r.clocks}
    assert hours[("csirt-acknowledgement", "acknowledgement")] == 24
    assert hours[("institution-notification", "early-warning")] == 24
    assert hours[("institution-notification", "full-notification")] == 72
    assert hours[("institution-notification", "final-report")] == 720
    assert hours[("apdp-personal-data-breach", "dpa-notification")] == 72
    assert "2013-015" in regulations["apdp-personal-data-breach"].source
    assert "confirmed" in document["note_en"] and "confirmés" in document["note_fr"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["regulations"][0].update(extra=1), "unknown key(s) ['extra']"),
    (lambda d: d["regulations"][0]["applies_when"].update(moon="full"),
     "unknown condition 'moon'"),
    (lambda d: d["regulations"][1]["applies_when"].update(source="institution"),
     "condition 'source' must be a non-empty list of texts"),
    (lambda d: d["regulations"][0]["clocks"][0].update(met_when="whenever"),
     "met_when must be one of"),
    (lambda d: d["regulations"][0]["clocks"][0].update(starts_from="birthday"),
     "starts_from must be one of"),
    (lambda d: d["regulations"][0]["clocks"][0].update(hours=0), "hours must be"),
    (lambda d: d["regulations"][0]["clocks"][0].update(notify=["everyone"]), "notify must be"),
    (lambda d: d["regulations"][0]["clocks"][0].pop("title_en"), "missing key(s) ['title_en']"),
    (lambda d: d["regulations"].append(copy.deepcopy(d["regulations"][0])), "duplicate id"),
    (lambda d: d["regulations"][0].update(id="Bad Id"), "must be lower-case"),
])
def test_malformed_regulations_are_refused_with_the_place(change: Callable[[dict[str, Any]],
                                                                            Any],
                                                           message: str) -> None:
    # Given the shipped document with one mistake
    document = _document()
    change(document)
    # When it is validated / Then the error names the problem
    with pytest.raises(clocks.RegulationError) as caught:
        clocks.parse_regulations(document)
    assert message in str(caught.value)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    # Given a broken file / When loaded / Then a clear error names it
    path = tmp_path / "regulations.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(clocks.RegulationError, match="cannot be read as JSON"):
        clocks.load_regulations(path)


# --- which clocks run -------------------------------------------------------------------

def test_personal_data_adds_the_apdp_clock(session_factory: sessionmaker[Session],
                                           csirt_institutions: Institutions) -> None:
    with session_factory.begin() as session:
        # Given an institution's case without and one with personal data
        plain = _new_case(session, csirt_institutions.a)
        breach = _new_case(session, csirt_institutions.a, personal_data=True)
        public = _new_case(session, None, source="public")
        # When their clocks start (twice: idempotent)
        for case in (plain, breach, public):
            clocks.start_for_case(session, case)
        started = {c.reference: {k.clock for k in clocks.start_for_case(session, c)}
                   for c in (plain, breach, public)}
        count = len(session.scalars(select(CaseClock)).all())
    # Then the APDP clock runs only on the breach; a public report only owes the receipt
    assert started[plain.reference] == ALL_INSTITUTION
    assert started[breach.reference] == ALL_INSTITUTION | {"dpa-notification"}
    assert started[public.reference] == {"acknowledgement"}
    assert count == 4 + 5 + 1


def test_clocks_follow_triage_changes(session_factory: sessionmaker[Session],
                                      csirt_institutions: Institutions) -> None:
    with session_factory.begin() as session:
        # Given a case without personal data
        case = _new_case(session, csirt_institutions.a)
        clocks.start_for_case(session, case)
        # When personal data is found later
        case.personal_data = True
        added = _by_clock(clocks.start_for_case(session, case))
        # Then the APDP clock starts from the detection time
        assert added["dpa-notification"].due_at == T0 + dt.timedelta(hours=70)
        # When the detection time is corrected, unmet clocks follow it
        case.detected_at = T0 - dt.timedelta(hours=10)
        moved = _by_clock(clocks.start_for_case(session, case))
        assert moved["early-warning"].due_at == T0 + dt.timedelta(hours=14)
        # When the early warning is met and then personal data turns out wrong
        moved["early-warning"].met_at = T0
        case.personal_data = False
        after = _by_clock(clocks.start_for_case(session, case))
        # Then the unmet APDP clock is withdrawn, with a trace on the timeline
        assert "dpa-notification" not in after
        messages = session.scalars(select(CaseEvent.message).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "clock")).all()
        assert any("withdrawn" in m for m in messages)
        # When the case is closed as a false positive, running clocks are withdrawn but the
        # met one is kept as history
        case.status, case.closure_reason = "closed", "false_positive"
        left = _by_clock(clocks.start_for_case(session, case))
        assert set(left) == {"early-warning"}


# --- states -----------------------------------------------------------------------------

def test_views_states_and_delays_with_frozen_time(session_factory: sessionmaker[Session],
                                                  csirt_institutions: Institutions) -> None:
    with session_factory.begin() as session:
        case = _new_case(session, csirt_institutions.a)
        clocks.start_for_case(session, case, now=T0)
        # Given five hours after the report
        early = _by_clock(clocks.views_for_case(session, case, "fr",
                                                now=T0 + dt.timedelta(hours=5)))
        # Then the acknowledgement runs with 19 h left, the final report with days left
        assert (early["acknowledgement"].state, early["acknowledgement"].delay) == \
            ("running", "reste 19 h")
        assert early["final-report"].delay == "reste 29 j"
        assert early["acknowledgement"].title == "Accusé de réception du signalement (24 h)"
        assert early["early-warning"].markable and not early["acknowledgement"].markable
        # Given two days and a bit later, in English
        late = _by_clock(clocks.views_for_case(session, case, "en",
                                               now=T0 + dt.timedelta(hours=26, minutes=30)))
        # Then it is overdue by 2 h 30 (shown in hours)
        assert (late["acknowledgement"].state, late["acknowledgement"].delay) == \
            ("overdue", "2 h overdue")
        # Given the case acknowledged late (before sync writes it down)
        case.acknowledged_at = T0 + dt.timedelta(hours=30)
        views = _by_clock(clocks.views_for_case(session, case, "fr",
                                                now=T0 + dt.timedelta(days=3)))
        # Then it counts as met late; the full notification is overdue in days
        assert (views["acknowledgement"].state, views["acknowledgement"].delay) == \
            ("met_late", "atteint avec 6 h de retard")
        assert views["full-notification"].state == "overdue"
        # And an on-time manual mark reads "met on time"
        clock = session.get(CaseClock, views["final-report"].id)
        assert clock is not None
        clock.met_at = T0 + dt.timedelta(days=3)
        met = _by_clock(clocks.views_for_case(session, case, "en",
                                              now=T0 + dt.timedelta(days=4)))
        assert (met["final-report"].state, met["final-report"].delay) == ("met", "met on time")


def test_acknowledgement_is_met_when_the_case_leaves_new(
        session_factory: sessionmaker[Session], csirt_institutions: Institutions,
        make_case: Callable[..., int], analyst: User) -> None:
    # Given a reported case, whose acknowledgement clock runs
    case_id = make_case(csirt_institutions.a)
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert _by_clock(case.clocks)["acknowledgement"].met_at is None
        # When an analyst moves it to triage
        service.transition(session=session, actor=actor_of(analyst), case_id=case_id,
                           data=CaseTransition(to="triage", version=case.version))
    # Then the acknowledgement clock is met, from the acknowledgement time
    with session_factory() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.acknowledged_at is not None
        clock = _by_clock(case.clocks)["acknowledgement"]
        assert clock.met_at == case.acknowledged_at
        states = {v.clock: v.state for v in clocks.views_for_case(session, case, "fr")}
    assert states["acknowledgement"] == "met"
    assert states["early-warning"] == "running"


# --- marking by hand --------------------------------------------------------------------

def _clock_of(session_factory: sessionmaker[Session], case_id: int, name: str) -> int:
    with session_factory() as session:
        return session.execute(select(CaseClock.id).where(
            CaseClock.case_id == case_id, CaseClock.clock == name)).scalar_one()


def test_mark_met_rules(session_factory: sessionmaker[Session],
                        csirt_institutions: Institutions, make_case: Callable[..., int],
                        focal_a: User, focal_b: User, viewer_a: User) -> None:
    # Given a case of institution a
    case_id = make_case(csirt_institutions.a)
    early = _clock_of(session_factory, case_id, "early-warning")
    auto = _clock_of(session_factory, case_id, "acknowledgement")
    with session_factory() as session:
        # Then outsiders never learn of it, viewers may not, a note is needed, automatic
        # clocks cannot be marked
        with pytest.raises(NotFound):
            clocks.mark_met(session=session, actor=actor_of(focal_b), clock_id=early, note="x")
        with pytest.raises(Forbidden):
            clocks.mark_met(session=session, actor=actor_of(viewer_a), clock_id=early,
                            note="x")
        with pytest.raises(Invalid):
            clocks.mark_met(session=session, actor=actor_of(focal_a), clock_id=early,
                            note="  ")
        with pytest.raises(Conflict):
            clocks.mark_met(session=session, actor=actor_of(focal_a), clock_id=auto,
                            note="fait")
        with pytest.raises(NotFound):
            clocks.mark_met(session=session, actor=ADMIN, clock_id=999999, note="fait")


def test_api_marks_a_clock_met_once(session_factory: sessionmaker[Session],
                                    csirt_institutions: Institutions,
                                    make_case: Callable[..., int], focal_a: User,
                                    focal_b: User, api_as: Callable[[User], TestClient]) -> None:
    # Given a case of institution a and its focal point
    case_id = make_case(csirt_institutions.a)
    early = _clock_of(session_factory, case_id, "early-warning")
    client = api_as(focal_a)
    # When the focal point marks the early warning met
    done = client.post(f"/api/v1/csirt/clocks/{early}/met",
                       json={"note": "Alerte envoyée par courriel au CSIRT."})
    again = client.post(f"/api/v1/csirt/clocks/{early}/met", json={"note": "Encore"})
    outsider = api_as(focal_b).post(f"/api/v1/csirt/clocks/{early}/met", json={"note": "x"})
    listed = client.get(f"/api/v1/csirt/cases/{case_id}/clocks")
    # Then it is met once, with the note; a second mark conflicts; outsiders get 404
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "met" and done.json()["met_by"]
    assert done.json()["met_note"] == "Alerte envoyée par courriel au CSIRT."
    assert again.status_code == 409 and outsider.status_code == 404
    assert listed.status_code == 200
    states = {c["clock"]: c["state"] for c in listed.json()}
    assert states["early-warning"] == "met" and states["acknowledgement"] == "running"
    with session_factory() as session:
        events = session.scalars(select(CaseEvent.message).where(
            CaseEvent.case_id == case_id, CaseEvent.kind == "clock")).all()
    assert any("marked met" in m for m in events)


def test_page_form_marks_met_and_returns_to_the_case(
        session_factory: sessionmaker[Session], csirt_institutions: Institutions,
        make_case: Callable[..., int], focal_a: User,
        login_as: Callable[[User], TestClient]) -> None:
    # Given the focal point in a browser
    case_id = make_case(csirt_institutions.a)
    early = _clock_of(session_factory, case_id, "early-warning")
    browser = login_as(focal_a)
    token = csrf_from(browser.get("/account").text)
    # When they send the panel's form
    response = browser.post(f"/csirt/clocks/{early}/met",
                            data={"note": "Alerte transmise", "csrf_token": token},
                            follow_redirects=False)
    # Then back to the case page, and the clock is met
    assert response.status_code == 303
    assert response.headers["location"] == f"/csirt/cases/{case_id}"
    with session_factory() as session:
        clock = session.get(CaseClock, early)
        assert clock is not None and clock.met_at is not None
        assert clock.met_note == "Alerte transmise"


def test_overdue_list_is_scoped(session_factory: sessionmaker[Session],
                                csirt_institutions: Institutions, focal_a: User,
                                focal_b: User, analyst: User,
                                api_as: Callable[[User], TestClient],
                                login_as: Callable[[User], TestClient]) -> None:
    # Given overdue clocks on a case of a and on a case of b
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    with session_factory.begin() as session:
        for institution_id in (csirt_institutions.a, csirt_institutions.b):
            case = _new_case(session, institution_id, reported_at=old, detected_at=old)
            clocks.start_for_case(session, case)
    # When each one lists overdue deadlines
    mine = api_as(focal_a).get("/api/v1/csirt/clocks/overdue").json()
    everything = api_as(analyst).get("/api/v1/csirt/clocks/overdue").json()
    # Then the focal point sees their institution's only, the analyst sees both
    assert {o["institution_id"] for o in mine} == {csirt_institutions.a}
    assert {o["institution_id"] for o in everything} == {csirt_institutions.a,
                                                         csirt_institutions.b}
    assert {o["clock"]["clock"] for o in mine} == {"acknowledgement", "early-warning",
                                                   "full-notification"}
    # And the page and the dashboard card show them
    browser = login_as(focal_a)
    page = browser.get("/csirt/clocks/overdue")
    assert page.status_code == 200 and "Délais réglementaires dépassés" in page.text
    assert "en retard de" in page.text
    home = browser.get("/")
    assert "Délais réglementaires dépassés" in home.text
    with session_factory() as session:
        assert clocks.count_overdue(session, actor_of(focal_a)) == 3
        assert clocks.count_overdue(session, actor_of(focal_b)) == 3
