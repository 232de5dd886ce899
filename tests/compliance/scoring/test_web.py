"""API shape and heatmap page of campaign scores."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.compliance.scoring.conftest import Rated
from tests.conftest import Factory

Client = Callable[..., TestClient]


def test_scores_api_shape(rated: Rated, factory: Factory, login_as: Client) -> None:
    # Given an agency officer
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    # When they read the scores, then each figure comes with its answer count
    body = browser.get(f"/api/v1/compliance/campaigns/{rated.campaign_id}/scores").json()
    assert body["national"] == {"score": 65.7, "answers": 6}
    assert {d["code"] for d in body["domains"]} == {"gov", "net"}
    assert body["csf_functions"][0] == {"score": 56.0, "answers": 5, "function": "GV"}
    # And the heatmap is a JSON matrix
    heat = browser.get(f"/api/v1/compliance/campaigns/{rated.campaign_id}/heatmap").json()
    assert len(heat["rows"]) == 3 and all(len(r["cells"]) == 2 for r in heat["rows"])


def test_focal_point_api_row(rated: Rated, factory: Factory, login_as: Client) -> None:
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=rated.body_a))
    heat = browser.get(f"/api/v1/compliance/campaigns/{rated.campaign_id}/heatmap").json()
    assert [r["acronym"] for r in heat["rows"]] == ["BODA"]
    # BODB is a target without answers: an empty matrix; an institution outside: 404
    empty = login_as(factory.user(Role.FOCAL_POINT, institution_id=rated.body_b))
    scores = empty.get(f"/api/v1/compliance/campaigns/{rated.campaign_id}/scores").json()
    assert scores["national"] == {"score": None, "answers": 0}
    outsider = login_as(factory.user(Role.FOCAL_POINT,
                                     institution_id=factory.institution("LOIN")))
    assert outsider.get(f"/api/v1/compliance/campaigns/{rated.campaign_id}/scores"
                        ).status_code == 404


def test_heatmap_page(rated: Rated, factory: Factory, login_as: Client) -> None:
    # Given an agency officer on the heatmap page
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get(f"/compliance/campaigns/{rated.campaign_id}/heatmap")
    # Then it is in French, with banded cells linking to the assessments, and no inline style
    assert page.status_code == 200
    assert "Carte de chaleur" in page.text and "Score national" in page.text
    assert 'class="badge medium">65.7' in page.text
    assert 'class="badge ok">100.0' in page.text and 'class="badge medium">40.0' in page.text
    assert page.text.count('href="/compliance/assessments/') == 4
    assert 'style="' not in page.text
