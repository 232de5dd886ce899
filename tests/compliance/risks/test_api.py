"""JSON API of the risk register and national priorities."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory

BASE = "/api/v1/compliance"


def _body(institution_id: int, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"institution_id": institution_id, "title": "Portail non corrigé",
                               "asset": "Portail", "threat": "Exploitation", "likelihood": 4,
                               "impact": 4, "residual_likelihood": 2, "residual_impact": 3}
    body.update(fields)
    return body


def test_focal_point_manages_own_register(factory: Factory,
                                          api_as: Callable[..., TestClient]) -> None:
    # Given a focal point of A
    a = factory.institution("AAA")
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # When they create a risk
    created = api.post(f"{BASE}/risks", json=_body(a))
    # Then it is stored with its scores and levels, and an ETag
    assert created.status_code == 201, created.text
    risk = created.json()
    assert (risk["inherent_score"], risk["inherent_level"]) == (16, "high")
    assert (risk["residual_level"], risk["institution_acronym"]) == ("medium", "AAA")
    assert created.headers["ETag"] == '"1"'
    # When they update with the version read, then with a stale one
    ok = api.patch(f"{BASE}/risks/{risk['id']}", json={"status": "in_treatment", "version": 1})
    stale = api.patch(f"{BASE}/risks/{risk['id']}", json={"owner": "X"},
                      headers={"If-Match": '"1"'})
    # Then the first works and the second gets 409
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert stale.status_code == 409
    # And the list shows it; deleting it works
    assert api.get(f"{BASE}/risks").json()["total"] == 1
    assert api.delete(f"{BASE}/risks/{risk['id']}").status_code == 204


def test_bad_scores_are_refused_in_french(factory: Factory,
                                          api_as: Callable[..., TestClient]) -> None:
    # Given an agency officer
    a = factory.institution()
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    # When the residual risk exceeds the inherent one / Then 422 with a French message
    response = api.post(f"{BASE}/risks", json=_body(a, residual_likelihood=5,
                                                    residual_impact=5))
    assert response.status_code == 422
    assert "risque résiduel" in response.json()["detail"]
    # When a likelihood is out of 1–5 / Then 422
    assert api.post(f"{BASE}/risks", json=_body(a, likelihood=6)).status_code == 422
    # When a risk is accepted without justification / Then 422
    refused = api.post(f"{BASE}/risks", json=_body(a, treatment="accept"))
    assert refused.status_code == 422 and "justification" in refused.json()["detail"]


def test_other_institution_gets_404(factory: Factory, make_risk: Callable[..., int],
                                    api_as: Callable[..., TestClient]) -> None:
    # Given a risk of B and a focal point of A
    a, b = factory.institution("AAA"), factory.institution("BBB")
    risk_b = make_risk(b)
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # Then B's risk does not exist for them
    assert api.get(f"{BASE}/risks/{risk_b}").status_code == 404
    assert api.patch(f"{BASE}/risks/{risk_b}", json={"version": 1}).status_code == 404
    assert api.delete(f"{BASE}/risks/{risk_b}").status_code == 404
    assert api.post(f"{BASE}/risks", json=_body(b)).status_code == 404
    assert api.get(f"{BASE}/risks").json()["total"] == 0


def test_top_matrix_and_export(factory: Factory, make_risk: Callable[..., int],
                               api_as: Callable[..., TestClient]) -> None:
    # Given risks of two institutions
    a, b = factory.institution("AAA"), factory.institution("BBB")
    low = make_risk(a, likelihood=2, impact=2, residual_likelihood=1, residual_impact=1)
    high = make_risk(b)
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    # When the agency asks for the top risks, the matrix and A's CSV
    top = api.get(f"{BASE}/risks/top", params={"limit": 5}).json()
    matrix = api.get(f"{BASE}/risks/matrix", params={"basis": "residual"}).json()
    export = api.get(f"{BASE}/risks/export", params={"institution_id": a})
    # Then they hold the expected values
    assert [r["id"] for r in top] == [high, low]
    assert [r["institution_acronym"] for r in top] == ["BBB", "AAA"]
    assert matrix["total"] == 2 and matrix["cells"][0][0] == 1 and matrix["cells"][1][2] == 1
    assert export.status_code == 200 and export.content.startswith(b"\xef\xbb\xbf")
    assert export.headers["content-type"].startswith("text/csv")


def test_priorities_agency_only(factory: Factory, make_risk: Callable[..., int],
                                api_as: Callable[..., TestClient]) -> None:
    # Given risks of A and B, an agency officer and a focal point of A
    a, b = factory.institution("AAA"), factory.institution("BBB")
    ra, rb = make_risk(a), make_risk(b)
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # When the focal point tries to create a priority / Then 403
    assert focal.post(f"{BASE}/priorities", json={"title": "Non",
                                                   "risk_ids": [ra]}).status_code == 403
    # When the agency creates one from A's risk and attaches B's
    created = agency.post(f"{BASE}/priorities", json={"title": "Rançongiciels",
                                                       "risk_ids": [ra]})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    attached = agency.post(f"{BASE}/priorities/{pid}/risks", json={"risk_ids": [rb]})
    assert attached.status_code == 200 and attached.json()["risk_count"] == 2
    # Then the focal point reads it with A's risk only, and cannot change it
    seen = focal.get(f"{BASE}/priorities/{pid}").json()
    assert [r["id"] for r in seen["risks"]] == [ra] and seen["risk_count"] == 2
    assert focal.patch(f"{BASE}/priorities/{pid}", json={"title": "Xyz"}).status_code == 403
    assert focal.post(f"{BASE}/priorities/{pid}/risks", json={}).status_code == 403
    # And the agency renames it (stale version → 409)
    version = seen["version"]
    renamed = agency.patch(f"{BASE}/priorities/{pid}", json={"title": "Rançongiciels 2026",
                                                              "version": version})
    assert renamed.status_code == 200
    assert agency.patch(f"{BASE}/priorities/{pid}", json={"title": "Z", "version": version}
                        ).status_code in (409, 422)
    assert [p["id"] for p in focal.get(f"{BASE}/priorities").json()] == [pid]
