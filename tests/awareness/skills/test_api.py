"""JSON API of the skills register: profiles, holders with ETags, certifications, staffing,
CSV, and clear refusals in French and English."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.awareness.skills.profiles import framework
from lakana.core.auth.rbac import Role
from tests.conftest import Factory

BASE = "/api/v1/awareness/skills"


def test_profiles_list_the_framework_with_staffing_per_tier(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    profiles = api.get(f"{BASE}/profiles").json()
    assert len(profiles) == 12
    ciso = next(p for p in profiles if p["id"] == "ciso")
    assert ciso["required_by_tier"] == {str(t): framework().required(t).get("ciso", 0)
                                        for t in (1, 2, 3)}


def test_a_focal_point_keeps_its_register(factory: Factory,
                                         api_as: Callable[..., TestClient]) -> None:
    # Given a focal point of a tier-3 institution
    inst = factory.institution("AAA", criticality_tier=3)
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    # When they name their CISO, with a certification
    made = api.post(f"{BASE}/holders", json={
        "institution_id": inst, "profile_id": "ciso", "full_name": "Awa Traoré",
        "email": "awa@example.ml", "since": "2025-01-15"})
    assert made.status_code == 201, made.text
    holder = made.json()
    assert made.headers["ETag"] == '"1"' and holder["institution_acronym"] == "AAA"
    cert = api.post(f"{BASE}/holders/{holder['id']}/certifications",
                    json={"name": "CISSP", "obtained_on": "2024-03-01",
                          "expires_on": "2099-03-01"})
    assert cert.status_code == 201 and cert.json()["state"] == "valid"
    # Then the staffing shows the CISO seat filled
    staffing = api.get(f"{BASE}/staffing/{inst}").json()
    ciso = next(p for p in staffing["profiles"] if p["profile_id"] == "ciso")
    assert ciso == {**ciso, "required": 1, "held": 1, "missing": 0, "certified": 1}
    # When they change it with a stale ETag, it is refused; with the right one it is saved
    stale = api.patch(f"{BASE}/holders/{holder['id']}", json={"position": "RSSI"},
                      headers={"If-Match": '"9"'})
    assert stale.status_code == 409
    done = api.patch(f"{BASE}/holders/{holder['id']}", json={"position": "RSSI"},
                     headers={"If-Match": made.headers["ETag"]})
    assert done.status_code == 200 and done.json()["position"] == "RSSI"
    # And the CSV export lists the holder
    csv = api.get(f"{BASE}/holders/export", params={"institution_id": inst})
    assert csv.status_code == 200 and "Awa Traoré" in csv.text
    # And deleting the certification, then the holder, works
    assert api.delete(f"{BASE}/certifications/{cert.json()['id']}").status_code == 204
    assert api.delete(f"{BASE}/holders/{holder['id']}",
                      headers={"If-Match": '"2"'}).status_code == 204
    assert api.get(f"{BASE}/holders").json()["total"] == 0


def test_bad_input_gets_a_clear_message_in_both_languages(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    body = {"institution_id": inst, "profile_id": "ciso", "full_name": "Awa Traoré",
            "since": "2025-01-15", "until": "2024-01-01"}
    fr = api.post(f"{BASE}/holders", json=body, headers={"Accept-Language": "fr"})
    assert fr.status_code == 422
    assert "La date de fin ne peut pas précéder la date de début." in fr.text
    en = api.post(f"{BASE}/holders", json=body, headers={"Accept-Language": "en"})
    assert "The end date may not be before the start date." in en.text
    wizard = api.post(f"{BASE}/holders", json={**body, "until": None, "profile_id": "wizard"},
                      headers={"Accept-Language": "fr"})
    assert wizard.status_code == 422 and "Profil de rôle inconnu" in wizard.text
    bad_date = api.post(f"{BASE}/holders", json={**body, "since": "hier", "until": None})
    assert bad_date.status_code == 422
    assert api.get(f"{BASE}/holders").json()["total"] == 0


def test_national_staffing_over_visible_institutions(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    factory.institution("AAA", criticality_tier=1)
    factory.institution("BBB", criticality_tier=3)
    report = api_as(factory.user(Role.AGENCY_OFFICER)).get(f"{BASE}/staffing").json()
    assert report["institutions_short"] == 2 and report["filled"] == 0
    assert report["required"] == sum(framework().required(1).values()) + \
        sum(framework().required(3).values())
    assert report["institutions"][0]["acronym"] == "AAA"
