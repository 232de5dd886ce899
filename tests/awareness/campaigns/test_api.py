"""JSON API of campaigns: planning with ETags, reach and outcomes, totals, and 4xx on bad
input with a clear message and nothing saved."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory

BASE = "/api/v1/awareness/campaigns"
CAMPAIGN = {"title": "Arnaques par SMS", "message": "Ne donnez jamais votre code secret.",
            "audience": "general_public", "channels": ["radio", "sms"],
            "languages": ["bm", "fr"], "starts_on": "2026-10-01", "ends_on": "2026-10-31",
            "target_reach": 1000}


def test_agency_plans_a_campaign_and_records_reach_and_outcomes(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given the agency and a focal point
    inst = factory.institution("AAA")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    # When the agency plans a campaign led by AAA
    made = agency.post(BASE, json={**CAMPAIGN, "lead_institution_id": inst})
    assert made.status_code == 201, made.text
    assert made.headers["ETag"] == '"1"' and made.json()["status"] == "planned"
    path = f"{BASE}/{made.json()['id']}"
    # And records reach on radio and SMS and an outcome
    for body in ({"reached_on": "2026-10-02", "channel": "radio", "people": 600,
                  "impressions": 1500, "source": "ORTM"},
                 {"reached_on": "2026-10-03", "channel": "sms", "people": 200}):
        assert agency.post(f"{path}/reach", json=body).status_code == 201
    outcome = agency.post(f"{path}/outcomes", json={
        "name": "Signalements reçus", "value": 42, "unit": "signalements",
        "evidence": "Formulaire public"})
    assert outcome.status_code == 201, outcome.text
    # Then the focal point reads the totals against the target and per channel
    summary = focal.get(f"{path}/summary").json()
    assert summary["people_reached"] == 800 and summary["progress"] == 80
    assert [(c["channel"], c["people"]) for c in summary["channels"]] == [("radio", 600),
                                                                         ("sms", 200)]
    assert focal.get(path).json()["people_reached"] == 800
    assert [c["id"] for c in focal.get(BASE).json()] == [made.json()["id"]]
    assert len(focal.get(f"{path}/reach").json()) == 2
    assert focal.get(f"{path}/outcomes").json()[0]["value"] == 42
    # But may not change anything
    assert focal.post(f"{path}/reach", json={}).status_code == 403
    assert focal.patch(path, json={"status": "running", "version": 1}).status_code == 403
    assert focal.delete(f"{BASE}/outcomes/{outcome.json()['id']}").status_code == 403
    # And the agency updates with If-Match; a stale version is a 409
    assert agency.patch(path, json={"status": "running"},
                        headers={"If-Match": '"7"'}).status_code == 409
    done = agency.patch(path, json={"status": "running"}, headers={"If-Match": '"1"'})
    assert done.status_code == 200 and done.headers["ETag"] == '"2"'
    assert agency.get(f"{BASE}?status=running").json()[0]["status"] == "running"
    assert agency.delete(f"{BASE}/outcomes/{outcome.json()['id']}").status_code == 204


def test_bad_input_is_refused_clearly_and_nothing_is_saved(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    fr = {"Accept-Language": "fr"}
    # An end before the start: 422 with the reason in French
    bad = agency.post(BASE, json={**CAMPAIGN, "ends_on": "2026-09-01"}, headers=fr)
    assert bad.status_code == 422
    assert "La date de fin ne peut pas précéder la date de début" in bad.text
    # A negative target, an unknown channel, an unknown lead institution
    assert agency.post(BASE, json={**CAMPAIGN, "target_reach": -1}).status_code == 422
    assert agency.post(BASE, json={**CAMPAIGN, "channels": ["pigeon"]}).status_code == 422
    unknown = agency.post(BASE, json={**CAMPAIGN, "lead_institution_id": 99999}, headers=fr)
    assert unknown.status_code == 422 and "99999" in unknown.text
    assert agency.get(BASE).json() == []
    # Reach on a channel the campaign does not use, or outside its period, or negative
    path = f"{BASE}/{agency.post(BASE, json=CAMPAIGN).json()['id']}"
    tv = agency.post(f"{path}/reach", json={"reached_on": "2026-10-02",
                                            "channel": "television", "people": 5}, headers=fr)
    assert tv.status_code == 422 and "canal" in tv.text
    late = agency.post(f"{path}/reach", json={"reached_on": "2026-12-02", "channel": "radio",
                                              "people": 5}, headers=fr)
    assert late.status_code == 422 and "2026-10-31" in late.text
    assert agency.post(f"{path}/reach", json={"reached_on": "2026-10-02", "channel": "radio",
                                              "people": -5}).status_code == 422
    assert agency.get(f"{path}/reach").json() == []
    assert agency.get(f"{BASE}/999999").status_code == 404
