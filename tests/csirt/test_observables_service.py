"""Indicators on cases: shared rows, who sees which sighting, related cases, pastes, search,
and their API and pages."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.csirt import observable_service as svc
from lakana.csirt.models import Case, CaseEvent, CaseObservable, Observable
from tests.conftest import csrf_from
from tests.csirt.conftest import ADMIN, Institutions, actor_of

MakeCase = Callable[..., int]


def add(session_factory: sessionmaker[Session], case_id: int, value: str, *,
        user: User | None = None, **fields: object) -> int:
    """Add one indicator to a case (as ``user``, or the system); returns the link's id."""
    actor = actor_of(user) if user is not None else ADMIN
    with session_factory.begin() as session:
        return svc.add_to_case(session=session, actor=actor, case_id=case_id, kind=None,
                               value=value, **fields).id  # type: ignore[arg-type]


def test_one_indicator_shared_by_cases_of_two_institutions(
        session_factory: sessionmaker[Session], db: Session, make_case: MakeCase,
        csirt_institutions: Institutions, analyst: User) -> None:
    # Given a case of A and a case of B
    case_a = make_case(csirt_institutions.a)
    case_b = make_case(csirt_institutions.b)
    # When the same address is added to both, written differently
    add(session_factory, case_a, "10.0.0.1")
    add(session_factory, case_b, "10.0.0[.]1")
    # Then one shared row holds it, linked twice
    rows = db.scalars(select(Observable)).all()
    assert [(o.kind, o.value) for o in rows] == [("ipv4", "10.0.0.1")]
    assert db.scalar(select(func.count()).select_from(CaseObservable)) == 2
    # And an analyst sees both cases on the indicator
    detail = svc.get_observable(session=db, actor=actor_of(analyst), observable_id=rows[0].id)
    assert {s.case_id for s in detail.sightings} == {case_a, case_b}
    assert detail.display == "10.0.0[.]1" and detail.shared_elsewhere == 0


def test_adding_is_idempotent_and_recorded(session_factory: sessionmaker[Session],
                                           db: Session, make_case: MakeCase,
                                           csirt_institutions: Institutions,
                                           focal_a: User) -> None:
    # Given a case of A whose focal point adds an indicator
    case_id = make_case(csirt_institutions.a, tlp="green")
    first = add(session_factory, case_id, "hxxps://evil[.]ml/login", user=focal_a,
                comment="Lien du courriel")
    # When it is added again
    again = add(session_factory, case_id, "https://EVIL.ml:443/login", user=focal_a)
    # Then the same link comes back, with the case's label by default
    assert again == first
    item = db.get(CaseObservable, first)
    assert item is not None and item.tlp == "green" and item.added_by == focal_a.email
    assert item.comment == "Lien du courriel"
    # And it was ledgered and put on the timeline once
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "csirt.observable.add")) == 1
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                CaseEvent.kind == "observable")).all()
    assert len(events) == 1 and events[0].params["value"] == "hxxps://evil[.]ml/login"


def test_invalid_indicator_and_permissions(session_factory: sessionmaker[Session],
                                           make_case: MakeCase,
                                           csirt_institutions: Institutions, focal_a: User,
                                           viewer_a: User, focal_b: User) -> None:
    case_id = make_case(csirt_institutions.a)
    with session_factory() as session:
        # An invalid value is refused
        with pytest.raises(Invalid):
            svc.add_to_case(session=session, actor=actor_of(focal_a), case_id=case_id,
                            kind=None, value="999.1.1.1")
        # A viewer may not contribute; another institution does not see the case
        with pytest.raises(Forbidden):
            svc.add_to_case(session=session, actor=actor_of(viewer_a), case_id=case_id,
                            kind=None, value="10.0.0.1")
        with pytest.raises(NotFound):
            svc.add_to_case(session=session, actor=actor_of(focal_b), case_id=case_id,
                            kind=None, value="10.0.0.1")
        # A comment over 2,000 characters is refused
        with pytest.raises(Invalid):
            svc.add_to_case(session=session, actor=actor_of(focal_a), case_id=case_id,
                            kind=None, value="10.0.0.1", comment="x" * 2001)


def test_institution_sees_its_case_and_only_counts_green_elsewhere(
        session_factory: sessionmaker[Session], db: Session, make_case: MakeCase,
        csirt_institutions: Institutions, focal_a: User) -> None:
    # Given an indicator in a case of A, in two GREEN sightings of B, one AMBER of B, and a
    # GREEN sighting inside a RED case of B
    case_a = make_case(csirt_institutions.a)
    green_1 = make_case(csirt_institutions.b, tlp="green")
    green_2 = make_case(csirt_institutions.b)
    amber = make_case(csirt_institutions.b)
    red = make_case(csirt_institutions.b, tlp="red")
    add(session_factory, case_a, "evil.example.ml")
    add(session_factory, green_1, "evil.example.ml")
    add(session_factory, green_2, "evil.example.ml", tlp="clear")
    add(session_factory, amber, "evil.example.ml")
    add(session_factory, red, "evil.example.ml", tlp="green")
    obs_id = db.scalars(select(Observable.id)).one()
    # When the focal point of A opens the indicator
    detail = svc.get_observable(session=db, actor=actor_of(focal_a), observable_id=obs_id)
    # Then they see A's case only, and a count of the two shareable sightings elsewhere
    assert [s.case_id for s in detail.sightings] == [case_a]
    assert detail.shared_elsewhere == 2
    # And the case's list counts the same three cases (never AMBER or RED ones)
    case = db.get(Case, case_a)
    assert case is not None
    views = svc.for_case(session=db, actor=actor_of(focal_a), case=case)
    assert [(v.display, v.sightings) for v in views] == [("evil[.]example[.]ml", 3)]


def test_indicator_only_in_other_institution_is_not_found(
        session_factory: sessionmaker[Session], db: Session, make_case: MakeCase,
        csirt_institutions: Institutions, focal_a: User) -> None:
    # Given an indicator seen only in an AMBER case of B
    case_b = make_case(csirt_institutions.b)
    add(session_factory, case_b, "d41d8cd98f00b204e9800998ecf8427e")
    obs_id = db.scalars(select(Observable.id)).one()
    # When A's focal point asks for it / Then it does not exist for them
    with pytest.raises(NotFound):
        svc.get_observable(session=db, actor=actor_of(focal_a), observable_id=obs_id)
    assert svc.search(session=db, actor=actor_of(focal_a), q="d41d8cd9") == []
    # When B marks its sighting GREEN / Then A learns only that one case holds it
    with session_factory.begin() as session:
        session.scalars(select(CaseObservable)).one().tlp = "green"
    detail = svc.get_observable(session=db, actor=actor_of(focal_a), observable_id=obs_id)
    assert detail.sightings == [] and detail.shared_elsewhere == 1
    assert detail.first_seen is None and detail.last_seen is None


def test_red_indicator_is_hidden_from_people_not_named(
        session_factory: sessionmaker[Session], db: Session, make_case: MakeCase,
        csirt_institutions: Institutions, focal_a: User, focal_a2: User,
        analyst: User) -> None:
    # Given an AMBER case of A reported by focal_a, with a RED and an AMBER indicator
    case_id = make_case(csirt_institutions.a, reporter_user_id=focal_a.id)
    add(session_factory, case_id, "10.9.9.9", tlp="red", comment="Source sensible")
    add(session_factory, case_id, "10.8.8.8")
    case = db.get(Case, case_id)
    assert case is not None

    def shown(user: User) -> list[str]:
        return [v.value for v in svc.for_case(session=db, actor=actor_of(user), case=case)]

    # Then the reporter and the analyst see both, another focal point of A only the AMBER one
    assert shown(focal_a) == ["10.9.9.9", "10.8.8.8"]
    assert shown(analyst) == ["10.9.9.9", "10.8.8.8"]
    assert shown(focal_a2) == ["10.8.8.8"]
    # And the indicator page and the search do not reveal it to them either
    red_id = db.scalar(select(Observable.id).where(Observable.value == "10.9.9.9"))
    assert red_id is not None
    with pytest.raises(NotFound):
        svc.get_observable(session=db, actor=actor_of(focal_a2), observable_id=red_id)
    assert svc.search(session=db, actor=actor_of(focal_a2), q="10.9.9") == []
    assert [h.value for h in svc.search(session=db, actor=actor_of(focal_a), q="10.9.9")] \
        == ["10.9.9.9"]
    # And its timeline entry carries the RED label
    event = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                               CaseEvent.kind == "observable")
                       .order_by(CaseEvent.id)).first()
    assert event is not None and event.tlp == "red"
    # And a person who cannot see it cannot remove it (it does not exist for them)
    link = db.scalar(select(CaseObservable.id).where(CaseObservable.tlp == "red"))
    assert link is not None
    with session_factory() as session, pytest.raises(NotFound):
        svc.remove_from_case(session=session, actor=actor_of(focal_a2),
                             case_observable_id=link)


def test_related_cases_by_indicator_and_by_system(
        session_factory: sessionmaker[Session], db: Session, make_case: MakeCase,
        csirt_institutions: Institutions, focal_a: User, analyst: User) -> None:
    inst = csirt_institutions
    # Given a case of A on its system with three indicators
    main = make_case(inst.a, system_id=inst.a_system)
    for value in ("10.0.0.1", "evil.example.ml", "CVE-2021-44228"):
        add(session_factory, main, value)
    # And a case of A sharing two indicators, another on the same system only, one of A
    # sharing nothing, one of B sharing one, and one of A sharing only a RED indicator
    two = make_case(inst.a, title="Deux indicateurs")
    add(session_factory, two, "10.0.0[.]1")
    add(session_factory, two, "cve-2021-44228")
    same_system = make_case(inst.a, system_id=inst.a_system, title="Même système")
    make_case(inst.a, title="Sans rapport")
    of_b = make_case(inst.b, title="Autre institution")
    add(session_factory, of_b, "evil.example.ml")
    red_link = make_case(inst.a, title="Lien rouge")
    add(session_factory, red_link, "evil.example.ml", tlp="red")
    case = db.get(Case, main)
    assert case is not None
    # When the focal point of A looks for related cases (in French)
    related = svc.related_cases(session=db, actor=actor_of(focal_a), case=case)
    # Then they are ranked by shared indicators, then same system, with reasons
    assert [r.case_id for r in related] == [two, same_system]
    assert related[0].shared == 2 and related[0].reasons == [
        "Indicateur commun CVE-2021-44228", "Indicateur commun 10.0.0[.]1"]
    assert related[1].shared == 0 and related[1].reasons == ["Même système touché"]
    # And an analyst also sees B's case and the RED sighting
    national = svc.related_cases(session=db, actor=actor_of(analyst), case=case)
    assert [r.case_id for r in national][:1] == [two]
    assert {of_b, red_link, same_system} <= {r.case_id for r in national}


def test_a_paste_is_partly_accepted(session_factory: sessionmaker[Session], db: Session,
                                    make_case: MakeCase, csirt_institutions: Institutions,
                                    focal_a: User) -> None:
    # Given a case and a paste with good, bad and duplicate lines
    case_id = make_case(csirt_institutions.a)
    add(session_factory, case_id, "10.0.0.1")
    text = "10.0.0[.]1\nhxxp://evil[.]ml/x\n999.1.1.1\n\nuser[@]evil[.]ml\nhttp://exa mple.ml"
    # When it is added
    with session_factory.begin() as session:
        result = svc.add_many(session=session, actor=actor_of(focal_a), case_id=case_id,
                              text=text, tlp="amber+strict", is_ioc=False)
        accepted = [(a.line, a.parsed.value, a.created) for a in result.accepted]
        rejected = [(e.line, e.text) for e in result.rejected]
    # Then the valid ones are added (the one already there is not duplicated)
    assert accepted == [(1, "10.0.0.1", False), (2, "http://evil.ml/x", True),
                        (5, "user@evil.ml", True)]
    assert rejected == [(3, "999.1.1.1"), (6, "http://exa mple.ml")]
    assert db.scalar(select(func.count()).select_from(CaseObservable)) == 3
    new = db.scalars(select(CaseObservable).where(CaseObservable.is_ioc.is_(False))).all()
    assert {n.tlp for n in new} == {"amber+strict"} and len(new) == 2
    # And one timeline entry tells how many were added
    assert db.scalars(select(CaseEvent.message).where(CaseEvent.case_id == case_id).order_by(
        CaseEvent.id.desc())).first() == "%(count)s indicators added."
    # When nothing is valid / Then the whole paste is refused with each line
    with session_factory() as session, pytest.raises(Invalid) as caught:
        svc.add_many(session=session, actor=actor_of(focal_a), case_id=case_id,
                     text="999.1.1.1\nnot an indicator")
    assert [e["line"] for e in caught.value.errors] == [1, 2]


def test_remove_keeps_the_shared_indicator(session_factory: sessionmaker[Session],
                                           db: Session, make_case: MakeCase,
                                           csirt_institutions: Institutions, focal_a: User,
                                           analyst: User) -> None:
    case_id = make_case(csirt_institutions.a)
    link = add(session_factory, case_id, "10.0.0.1")
    # A focal point may not remove (managing a case is the centre's)
    with session_factory() as session, pytest.raises(Forbidden):
        svc.remove_from_case(session=session, actor=actor_of(focal_a), case_observable_id=link)
    # The analyst removes it; the shared indicator stays, the change is ledgered
    with session_factory.begin() as session:
        svc.remove_from_case(session=session, actor=actor_of(analyst), case_observable_id=link)
    assert db.scalar(select(func.count()).select_from(CaseObservable)) == 0
    assert db.scalar(select(func.count()).select_from(Observable)) == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "csirt.observable.remove")) == 1


def test_search_by_prefix_defanged_and_domain(session_factory: sessionmaker[Session],
                                              db: Session, make_case: MakeCase,
                                              csirt_institutions: Institutions,
                                              analyst: User) -> None:
    case_id = make_case(csirt_institutions.a)
    for value in ("evil.example.ml", "https://evil.example.ml/login", "x@evil.example.ml",
                  "10.20.30.40", "good.example.ml"):
        add(session_factory, case_id, value)
    actor = actor_of(analyst)

    def found(q: str) -> set[str]:
        return {h.value for h in svc.search(session=db, actor=actor, q=q)}

    assert found("evil[.]example[.]ml") == {"evil.example.ml", "https://evil.example.ml/login",
                                            "x@evil.example.ml"}
    assert found("10.20") == {"10.20.30.40"}
    assert found("hxxps://evil[.]example") == {"https://evil.example.ml/login"}
    assert found("ev") == set()  # too short
    assert found("100%_") == set()  # wildcards are literal


# --- API --------------------------------------------------------------------------------

def test_api_adds_lists_and_reports_lines(make_case: MakeCase, csirt_institutions: Institutions,
                                          focal_a: User, analyst: User,
                                          api_as: Callable[..., TestClient]) -> None:
    case_id = make_case(csirt_institutions.a)
    api = api_as(focal_a)
    base = f"/api/v1/csirt/cases/{case_id}/observables"
    # When a paste is sent / Then valid lines are added and invalid ones reported
    response = api.post(base, json={"text": "10.0.0[.]1\n999.1.1.1\nevil.example.ml"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] == 2
    assert [(a["line"], a["value"], a["display"]) for a in body["accepted"]] == [
        (1, "10.0.0.1", "10.0.0[.]1"), (3, "evil.example.ml", "evil[.]example[.]ml")]
    assert body["rejected"][0]["line"] == 2 and "999.1.1.1" in body["rejected"][0]["message"]
    # When everything is invalid / Then 422 with each line
    bad = api.post(base, json={"items": [{"value": "999.1.1.1"}, {"value": "md5?",
                                                                  "kind": "md5"}]})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [e["line"] for e in bad.json()["errors"]] == [1, 2]
    # When one value already there is sent again / Then 200, nothing created
    again = api.post(base, json={"value": "10.0.0.1"})
    assert again.status_code == 200 and again.json()["created"] == 0
    # When the body holds neither or both / Then 422
    assert api.post(base, json={}).status_code == 422
    assert api.post(base, json={"value": "10.0.0.1", "text": "x"}).status_code == 422
    # And the list shows them, defanged alongside the value
    listed = api.get(base).json()
    assert [(o["kind"], o["display"], o["sightings"]) for o in listed] == [
        ("ipv4", "10.0.0[.]1", 1), ("domain", "evil[.]example[.]ml", 1)]
    # And the indicator, the search and related cases answer
    obs = api.get(f"/api/v1/csirt/observables/{listed[0]['observable_id']}").json()
    assert obs["cases"][0]["case_id"] == case_id
    hits = api.get("/api/v1/csirt/observables", params={"q": "evil[.]example"}).json()
    assert [h["value"] for h in hits] == ["evil.example.ml"]
    assert api.get(f"/api/v1/csirt/cases/{case_id}/related").json() == []
    # And removing needs the centre
    path = f"/api/v1/csirt/case-observables/{listed[0]['id']}"
    assert api.delete(path).status_code == 403
    assert api_as(analyst).delete(path).status_code == 204


def test_api_hides_other_institutions(make_case: MakeCase, csirt_institutions: Institutions,
                                      session_factory: sessionmaker[Session], focal_a: User,
                                      api_as: Callable[..., TestClient]) -> None:
    case_b = make_case(csirt_institutions.b)
    link = add(session_factory, case_b, "10.0.0.1")
    api = api_as(focal_a)
    assert api.get(f"/api/v1/csirt/cases/{case_b}/observables").status_code == 404
    assert api.post(f"/api/v1/csirt/cases/{case_b}/observables",
                    json={"value": "10.0.0.2"}).status_code == 404
    assert api.delete(f"/api/v1/csirt/case-observables/{link}").status_code == 404


# --- pages ------------------------------------------------------------------------------

def test_page_shows_defanged_values_never_as_links(make_case: MakeCase,
                                                   csirt_institutions: Institutions,
                                                   session_factory: sessionmaker[Session],
                                                   focal_a: User,
                                                   login_as: Callable[..., TestClient]) -> None:
    # Given a case with a URL whose comment tries a script
    case_id = make_case(csirt_institutions.a)
    add(session_factory, case_id, "https://evil.example.ml/login",
        comment='<script>alert("x")</script>')
    browser = login_as(focal_a)
    # When the indicators page is shown
    page = browser.get(f"/csirt/cases/{case_id}/observables")
    assert page.status_code == 200
    # Then the value is defanged, never linked, and the comment is inert
    assert "hxxps://evil[.]example[.]ml/login" in page.text
    assert "evil.example.ml" not in page.text
    assert not re.search(r'href="[^"]*evil', page.text)
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "Vu dans 1 dossier" in page.text
    # And the indicator page too
    obs_path = re.search(r'href="(/csirt/observables/\d+)"', page.text)
    assert obs_path is not None
    detail = browser.get(obs_path.group(1))
    assert detail.status_code == 200 and "hxxps://evil[.]example[.]ml/login" in detail.text
    assert "evil.example.ml" not in detail.text and f"/csirt/cases/{case_id}" in detail.text
    # And the search page
    found = browser.get("/csirt/observables", params={"q": "evil[.]example[.]ml"})
    assert found.status_code == 200 and "hxxps://evil[.]example[.]ml/login" in found.text


def test_page_paste_keeps_valid_lines_and_shows_refused_ones(
        make_case: MakeCase, csirt_institutions: Institutions, focal_a: User, db: Session,
        login_as: Callable[..., TestClient]) -> None:
    case_id = make_case(csirt_institutions.a)
    browser = login_as(focal_a)
    path = f"/csirt/cases/{case_id}/observables"
    csrf = csrf_from(browser.get(path).text)
    # When a paste with one bad line is sent
    page = browser.post(path, data={"csrf_token": csrf, "text": "10.0.0.1\n999.1.1.1",
                                    "tlp": "green", "is_ioc": "1", "comment": ""})
    # Then the valid line is added and the refused one shown with its line and reason
    assert page.status_code == 200
    assert "1 indicateur ajouté." in page.text
    assert "Ligne 2" in page.text and "adresse IPv4" in page.text
    assert re.search(r"<textarea[^>]*>999\.1\.1\.1</textarea>", page.text)
    assert db.scalars(select(CaseObservable.tlp)).all() == ["green"]
    # When only bad lines are sent / Then 422, the input kept
    bad = browser.post(path, data={"csrf_token": csrf, "text": "nope", "tlp": "amber"})
    assert bad.status_code == 422 and "Ligne 1" in bad.text
    # When all lines are good / Then back to the list with a message
    done = browser.post(path, data={"csrf_token": csrf, "text": "evil.example.ml",
                                    "tlp": "amber"}, follow_redirects=False)
    assert done.status_code == 303
    assert "1 indicateur ajouté." in browser.get(done.headers["location"]).text


def test_pages_of_other_institution_are_not_found(make_case: MakeCase,
                                                  csirt_institutions: Institutions,
                                                  session_factory: sessionmaker[Session],
                                                  db: Session, focal_a: User,
                                                  login_as: Callable[..., TestClient]) -> None:
    case_b = make_case(csirt_institutions.b)
    add(session_factory, case_b, "10.0.0.1")
    obs_id = db.scalars(select(Observable.id)).one()
    browser = login_as(focal_a)
    assert browser.get(f"/csirt/cases/{case_b}/observables").status_code == 404
    assert browser.get(f"/csirt/observables/{obs_id}").status_code == 404
