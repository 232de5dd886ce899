"""Editing the plan by the agency: indicators (targets, computed source with its formula,
unknown key 422, stale version 409), axes and objectives, new objectives, indicators and
actions (duplicate code 409, unknown acronym and dates out of order 422), the ledger, the
pages' forms, and the export that imports back unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.i18n import gettext, use_language
from lakana.core.plugins import indicator_sources
from tests.conftest import Factory, csrf_from
from tests.strategy.conftest import SMALL_PLAN

BASE = "/api/v1/strategy"
KEY = "awareness.phishing.click_rate"


def _agency(factory: Factory, api_as: Callable[..., TestClient]) -> TestClient:
    for acronym in ("MJDH", "ANSSI-ML", "MEF"):
        factory.institution(acronym)
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    files = {"file": ("plan.yaml", SMALL_PLAN.encode(), "application/yaml")}
    assert agency.post(f"{BASE}/import", files=files).status_code == 200
    return agency


def _indicator(client: TestClient, code: str) -> dict[str, object]:
    plan = client.get(f"{BASE}/plan").json()
    return next(i for axis in plan["axes"] for o in axis["objectives"]
                for i in o["indicators"] if i["code"] == code)


def _ledger(session_factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.seq)))


def test_agency_edits_an_indicator(factory: Factory, api_as: Callable[..., TestClient],
                                   session_factory: sessionmaker[Session]) -> None:
    # Given the small plan and its manual indicator IND-01 (targets 2026 and 2027)
    agency = _agency(factory, api_as)
    assert KEY in indicator_sources()
    read = _indicator(agency, "IND-01")
    assert read["version"] == 1
    path = f"{BASE}/indicators/IND-01"
    # When the agency makes it computed from an unknown key: 422 naming it, nothing written
    unknown = agency.patch(path, json={"source_kind": "computed", "source_key": "nope.x",
                                       "version": 1})
    assert unknown.status_code == 422 and "nope.x" in unknown.text
    # When it saves with a stale version: 409
    stale = agency.patch(path, json={"name": "Textes"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 409
    # When it sends no version: refused
    assert agency.patch(path, json={"name": "Textes"}).status_code == 422
    # When it sets a known source and new targets (2027 removed, 2030 added)
    saved = agency.patch(path, headers={"If-Match": '"1"'}, json={
        "name": "Textes adoptés et publiés", "source_kind": "computed", "source_key": KEY,
        "direction": "lower", "gci_pillar": "legal", "baseline_value": 2.5,
        "targets": {"2026": 4, "2027": None, "2030": 10}})
    # Then it is saved, with a new version
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert saved.headers["ETag"] == '"2"' and body["version"] == 2
    assert body["targets"] == {"2026": 4.0, "2030": 10.0}
    assert (body["source_kind"], body["source_key"], body["gci_pillar"]) == (
        "computed", KEY, "legal")
    # And a change of targets alone moves the version too
    again = agency.patch(path, json={"targets": {"2026": 5}, "version": 2})
    assert again.status_code == 200 and again.json()["version"] == 3
    assert again.json()["targets"] == {"2026": 5.0}
    # And targets outside the plan, or a bad pillar, are refused
    bad = agency.patch(path, json={"targets": {"2031": 1}, "gci_pillar": "x", "version": 3})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"targets.2031", "gci_pillar"} <= fields
    # And back to manual, the source key goes
    manual = agency.patch(path, json={"source_kind": "manual", "version": 3})
    assert manual.json()["source_key"] == ""
    # And each change is ledgered with what changed
    entries = _ledger(session_factory, "strategy.indicator.update")
    assert len(entries) == 3
    assert "targets" in json.loads(entries[0].details)["changed"]
    # And a focal point may not edit
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=factory.institution("X1")))
    assert focal.patch(path, json={"name": "Autre", "version": 4}).status_code == 403
    # And an unknown indicator is 404
    assert agency.patch(f"{BASE}/indicators/NOPE", json={"version": 1}).status_code == 404


def test_agency_edits_axes_and_objectives(factory: Factory,
                                          api_as: Callable[..., TestClient],
                                          session_factory: sessionmaker[Session]) -> None:
    agency = _agency(factory, api_as)
    # When the agency renames an axis with the version it read
    read = agency.get(f"{BASE}/axes/A1")
    assert read.headers["ETag"] == '"1"'
    saved = agency.patch(f"{BASE}/axes/A1", json={"title": "Gouvernance nationale",
                                                   "description": "Le cadre."},
                         headers={"If-Match": read.headers["ETag"]})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"code": "A1", "title": "Gouvernance nationale",
                            "description": "Le cadre.", "version": 2}
    # Then a stale edit is 409, a too short title 422, an unknown axis 404
    assert agency.patch(f"{BASE}/axes/A1", json={"title": "Autre", "version": 1}
                        ).status_code == 409
    short = agency.patch(f"{BASE}/axes/A1", json={"title": "X", "version": 2})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "title"
    assert agency.patch(f"{BASE}/axes/A9", json={"version": 1}).status_code == 404
    # When it edits an objective
    objective = agency.patch(f"{BASE}/objectives/A1.O1",
                             json={"description": "Textes d'application", "version": 1})
    assert objective.status_code == 200
    assert objective.json()["axis"] == "A1" and objective.json()["version"] == 2
    assert agency.get(f"{BASE}/plan").json()["axes"][0]["objectives"][0]["description"] \
        == "Textes d'application"
    # Then both are ledgered
    assert len(_ledger(session_factory, "strategy.axis.update")) == 1
    assert len(_ledger(session_factory, "strategy.objective.update")) == 1


def test_agency_adds_objectives_indicators_and_actions(
        factory: Factory, api_as: Callable[..., TestClient],
        session_factory: sessionmaker[Session]) -> None:
    agency = _agency(factory, api_as)
    # When it adds an objective to the axis
    created = agency.post(f"{BASE}/axes/A1/objectives",
                          json={"code": "A1.O2", "title": "Coopération"})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    # Then the same code again is 409, a bad code 422, an unknown axis 404
    duplicate = agency.post(f"{BASE}/axes/A1/objectives",
                            json={"code": "A1.O2", "title": "Encore"})
    assert duplicate.status_code == 409 and "A1.O2" in duplicate.json()["detail"]
    assert agency.post(f"{BASE}/axes/A1/objectives",
                       json={"code": "A 1", "title": "Encore"}).status_code == 422
    assert agency.post(f"{BASE}/axes/A9/objectives",
                       json={"code": "A9.O1", "title": "Encore"}).status_code == 404
    # When it adds a computed indicator to the new objective
    indicator = agency.post(f"{BASE}/objectives/A1.O2/indicators", json={
        "code": "IND-02", "name": "Clics d'hameçonnage", "unit": "%",
        "source_kind": "computed", "source_key": KEY, "targets": {"2028": 10}})
    assert indicator.status_code == 201, indicator.text
    assert indicator.json()["targets"] == {"2028": 10.0}
    assert agency.post(f"{BASE}/objectives/A1.O2/indicators", json={
        "code": "IND-01", "name": "Double"}).status_code == 409
    unknown = agency.post(f"{BASE}/objectives/A1.O2/indicators", json={
        "code": "IND-03", "name": "Inconnu", "source_kind": "computed", "source_key": "x.y"})
    assert unknown.status_code == 422 and "x.y" in unknown.text
    # When it adds an action with its lead from the registry
    action = {"code": "A1.O2.AC1", "title": "Accords bilatéraux", "lead": "mef",
              "partners": ["MJDH"], "budget_estimate": 5000000,
              "starts_on": "2027-01-01", "ends_on": "2028-06-30"}
    made = agency.post(f"{BASE}/objectives/A1.O2/actions", json=action)
    assert made.status_code == 201, made.text
    assert (made.json()["lead"], made.json()["status"], made.json()["partners"]) == (
        "MEF", "planned", ["MJDH"])
    # Then a duplicate code is 409, an unknown lead, dates out of order or out of the plan
    # and a negative budget are 422, with each field named
    assert agency.post(f"{BASE}/objectives/A1.O2/actions", json=action).status_code == 409
    refused = agency.post(f"{BASE}/objectives/A1.O2/actions", json={
        **action, "code": "A1.O2.AC2", "lead": "NOPE", "ends_on": "2026-12-31"})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"lead", "ends_on"}
    assert "NOPE" in refused.text
    outside = agency.post(f"{BASE}/objectives/A1.O2/actions", json={
        **action, "code": "A1.O2.AC2", "starts_on": "2025-01-01", "budget_estimate": -1})
    assert outside.status_code == 422
    assert {e["field"] for e in outside.json()["errors"]} == {"budget_estimate"}
    outside = agency.post(f"{BASE}/objectives/A1.O2/actions", json={
        **action, "code": "A1.O2.AC2", "starts_on": "2025-01-01"})
    assert {e["field"] for e in outside.json()["errors"]} == {"starts_on"}
    # And the plan shows them, the creations ledgered
    plan = agency.get(f"{BASE}/plan").json()
    added = plan["axes"][0]["objectives"][1]
    assert [a["code"] for a in added["actions"]] == ["A1.O2.AC1"]
    assert [i["code"] for i in added["indicators"]] == ["IND-02"]
    for kind in ("objective", "indicator", "action"):
        assert len(_ledger(session_factory, f"strategy.{kind}.create")) == 1
    # And a focal point may add nothing
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=factory.institution("X1")))
    assert focal.post(f"{BASE}/axes/A1/objectives",
                      json={"code": "A1.O3", "title": "Non"}).status_code == 403


def test_export_after_edits_imports_back_unchanged(factory: Factory,
                                                   api_as: Callable[..., TestClient]) -> None:
    # Given a plan of two axes, edited and grown in the first one
    for acronym in ("MJDH", "ANSSI-ML", "MEF"):
        factory.institution(acronym)
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    two_axes = SMALL_PLAN + """\
- code: A2
  title: Culture
  objectives:
  - code: A2.O1
    title: Sensibilisation
    actions:
    - {code: A2.O1.AC1, title: Campagne, lead: MEF, starts_on: 2026-01-01,
       ends_on: 2026-12-31}
    indicators:
    - {code: IND-09, name: Personnes formées, unit: personnes}
"""
    files = {"file": ("plan.yaml", two_axes.encode(), "application/yaml")}
    assert agency.post(f"{BASE}/import", files=files).status_code == 200
    agency.patch(f"{BASE}/indicators/IND-01", json={
        "definition": "Décrets publiés", "targets": {"2029": 7}, "version": 1})
    agency.patch(f"{BASE}/axes/A2", json={"description": "Culture cyber", "version": 1})
    agency.post(f"{BASE}/axes/A1/objectives", json={"code": "A1.O2", "title": "Coopération"})
    agency.post(f"{BASE}/objectives/A1.O1/actions", json={
        "code": "A1.O1.AC4", "title": "Nouvelle action", "lead": "MEF",
        "starts_on": "2026-03-01", "ends_on": "2026-09-30"})
    agency.post(f"{BASE}/objectives/A1.O1/indicators", json={
        "code": "IND-05", "name": "Décrets", "targets": {"2026": 1}})
    # When the plan is exported
    exported = agency.get(f"{BASE}/export", params={"format": "yaml"})
    text = exported.content.decode()
    # Then it holds the edits
    for expected in ("Décrets publiés", "Culture cyber", "A1.O2", "A1.O1.AC4", "IND-05",
                     "2029"):
        assert expected in text
    # And it imports back unchanged (YAML and XLSX)
    for fmt, name in (("yaml", "plan.yaml"), ("xlsx", "plan.xlsx")):
        content = agency.get(f"{BASE}/export", params={"format": fmt}).content
        result = agency.post(f"{BASE}/import", files={"file": (name, content)}).json()
        assert (result["created"], result["updated"], result["deleted"]) == (0, 0, 0), result


def test_pages_edit_the_plan_in_french(factory: Factory, api_as: Callable[..., TestClient],
                                       login_as: Callable[..., TestClient]) -> None:
    # Given the small plan and the agency in its browser
    _agency(factory, api_as)
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    plan = browser.get("/strategy")
    assert "/strategy/indicators/IND-01/edit" in plan.text
    assert "Ajouter un objectif" in plan.text and "Ajouter une action" in plan.text
    csrf = csrf_from(plan.text)
    # When it opens the indicator's edit page: the sources and their formulas in French
    page = browser.get("/strategy/indicators/IND-01/edit")
    with use_language("fr"):
        formula = gettext(indicator_sources()[KEY].formula)
    assert page.status_code == 200 and KEY in page.text
    assert "Modifier l'indicateur IND-01" in unescape(page.text)
    assert formula in unescape(page.text)
    form = {"csrf_token": csrf, "version": "1", "name": "Textes adoptés", "definition": "",
            "unit": "textes", "baseline_value": "1", "baseline_year": "2025",
            "source_kind": "computed", "source_key": KEY, "frequency": "yearly",
            "responsible": "ANSSI", "direction": "higher", "gci_pillar": "",
            "target_2026": "3", "target_2027": "", "target_2028": "6", "target_2029": "",
            "target_2030": ""}
    # When it saves an unknown key: 422 with the key; a stale version: 409
    unknown = browser.post("/strategy/indicators/IND-01/edit",
                           data={**form, "source_key": "nope.x"})
    assert unknown.status_code == 422 and "nope.x" in unknown.text
    stale = browser.post("/strategy/indicators/IND-01/edit", data={**form, "version": "5"})
    assert stale.status_code == 409 and "modifié" in unescape(stale.text)
    bad = browser.post("/strategy/indicators/IND-01/edit", data={**form, "target_2028": "x"})
    assert bad.status_code == 422
    # When it saves the form: back to the indicator's page
    saved = browser.post("/strategy/indicators/IND-01/edit", data=form,
                         follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = browser.get("/strategy/indicators/IND-01/edit")
    assert 'id="current-formula"' in shown.text and formula in unescape(shown.text)
    # When it edits the axis and the objective, and adds an objective, indicator, action
    assert browser.post("/strategy/axes/A1/edit", data={
        "csrf_token": csrf, "version": "1", "title": "Gouvernance nationale",
        "description": ""}, follow_redirects=False).status_code == 303
    assert browser.post("/strategy/objectives/A1.O1/edit", data={
        "csrf_token": csrf, "version": "1", "title": "Cadre juridique national",
        "description": "Lois"}, follow_redirects=False).status_code == 303
    assert browser.post("/strategy/axes/A1/objectives/new", data={
        "csrf_token": csrf, "code": "A1.O2", "title": "Coopération"},
        follow_redirects=False).status_code == 303
    duplicate = browser.post("/strategy/axes/A1/objectives/new", data={
        "csrf_token": csrf, "code": "A1.O2", "title": "Coopération"})
    assert duplicate.status_code == 409 and "déjà utilisé" in unescape(duplicate.text)
    new_indicator = {k: v for k, v in form.items() if k != "version"}
    assert browser.post("/strategy/objectives/A1.O2/indicators/new", data={
        **new_indicator, "code": "IND-02"}, follow_redirects=False).status_code == 303
    action = {"csrf_token": csrf, "code": "A1.O2.AC1", "title": "Accords", "lead": "MEF",
              "partners": "MJDH, ANSSI-ML", "budget_estimate": "1000",
              "starts_on": "2026-02-01", "ends_on": "2026-11-30"}
    wrong = browser.post("/strategy/objectives/A1.O2/actions/new",
                         data={**action, "lead": "NOPE", "ends_on": "2026-01-01"})
    assert wrong.status_code == 422
    assert "NOPE" in wrong.text and "La date de fin" in unescape(wrong.text)
    done = browser.post("/strategy/objectives/A1.O2/actions/new", data=action,
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(
        "/strategy/actions/")
    # Then the plan shows it all
    after = browser.get("/strategy").text
    for expected in ("Gouvernance nationale", "Cadre juridique national", "A1.O2.AC1",
                     "IND-02", "Accords"):
        assert expected in after


def test_focal_point_reads_the_edit_pages_but_cannot_save(
        factory: Factory, api_as: Callable[..., TestClient],
        login_as: Callable[..., TestClient]) -> None:
    _agency(factory, api_as)
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=factory.institution("X1")))
    plan = focal.get("/strategy")
    assert "/strategy/indicators/IND-01/edit" not in plan.text
    assert "Ajouter un objectif" not in plan.text
    page = focal.get("/strategy/indicators/IND-01/edit")
    assert page.status_code == 200 and "Seule l'agence" in unescape(page.text)
    assert 'name="version"' not in page.text
    csrf = csrf_from(plan.text)
    refused = focal.post("/strategy/indicators/IND-01/edit",
                         data={"csrf_token": csrf, "version": "1", "name": "Autre"})
    assert refused.status_code == 403
    assert focal.post("/strategy/axes/A1/objectives/new", data={
        "csrf_token": csrf, "code": "A1.O9", "title": "Non"}).status_code == 403
