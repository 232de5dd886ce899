"""Report pages and the JSON API of trends and peers, for the agency and a focal point."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.compliance.reports.conftest import Reports
from tests.conftest import Factory

Client = Callable[..., TestClient]


def test_institution_page_for_the_agency(reports: Reports, factory: Factory,
                                         login_as: Client) -> None:
    # Given an agency officer on AG1's compliance page
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get(f"/compliance/institutions/{reports.ag1}")
    assert page.status_code == 200
    text = page.text
    # Then the latest campaign's domains link to the assessment, with bands and a trend
    assert "Conformité — Institution AG1 (AG1)" in text
    assert 'class="badge ok">80.0' in text and 'class="badge bad">20.0' in text
    assert text.count('<polyline points=') == 1 and "<circle" in text
    assert f'/compliance/campaigns/{reports.c2026}/institutions/{reports.ag1}/report"' in text
    assert "/export.csv" in text and "/export.xlsx" in text and "report.pdf" in text
    assert "Actions de remédiation en cours" in text
    # And the agency sees the peers by name
    assert "AG3" in text and "2e sur 4" in text
    assert 'style="' not in text
    # An earlier campaign can be chosen
    older = browser.get(f"/compliance/institutions/{reports.ag1}?campaign_id={reports.c2025}")
    assert 'class="badge bad">26.7' in older.text


def test_institution_page_for_its_focal_point(reports: Reports, factory: Factory,
                                              login_as: Client) -> None:
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag1))
    page = browser.get(f"/compliance/institutions/{reports.ag1}")
    assert page.status_code == 200
    # It sees its own figures against anonymised statistics, never another institution
    assert "2e sur 4" in page.text and "Statistiques des pairs" in page.text
    for other in ("AG2", "AG3", "AG4", "HYPERLINK", "LONE"):
        assert other not in page.text
    assert browser.get(f"/compliance/institutions/{reports.ag2}").status_code == 404


def test_institution_page_without_campaign(reports: Reports, factory: Factory,
                                           login_as: Client) -> None:
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    lonely = factory.institution("SEUL")
    page = browser.get(f"/compliance/institutions/{lonely}")
    assert page.status_code == 200
    assert "Aucune campagne lancée n'a encore évalué cette institution." in page.text


def test_peers_page(reports: Reports, factory: Factory, login_as: Client) -> None:
    # The agency picks a type and sees every peer
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    base = f"/compliance/campaigns/{reports.c2026}/peers"
    every = agency.get(base).text
    assert "Toutes les institutions ayant un score" in every and "LONE" in every
    page = agency.get(f"{base}?kind=agency&tier=2")
    assert page.status_code == 200 and "AG3" in page.text and "AG1" not in page.text
    # The lone state company's focal point is told why statistics are hidden
    lone = login_as(factory.user(Role.FOCAL_POINT, institution_id=reports.lone))
    text = lone.get(base).text
    assert "Moins de 3 autres institutions de ce type" in text
    assert "Statistiques des pairs" not in text


def test_trends_and_peers_api(reports: Reports, factory: Factory, api_as: Client) -> None:
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    body = agency.get("/api/v1/compliance/trends", params={"institution_id": reports.ag1}
                      ).json()
    assert [p["score"] for p in body["national"]] == [54.3, 72.7]
    assert body["national"][1]["campaign_id"] == reports.c2026
    assert [p["score"] for p in body["institution"]["overall"]] == [26.7, 60.0]
    peers = agency.get(f"/api/v1/compliance/campaigns/{reports.c2026}/peers",
                       params={"kind": "agency"}).json()
    assert [r["acronym"] for r in peers["rows"]] == ["AG3", "AG1", "AG4", "AG2"]
    # A focal point gets its own series and anonymised peers; others' are not found
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag1))
    mine = focal.get("/api/v1/compliance/trends").json()
    assert mine["national"] == [] and mine["institution"]["acronym"] == "AG1"
    assert focal.get("/api/v1/compliance/trends", params={"institution_id": reports.ag2}
                     ).status_code == 404
    anonymous = focal.get(f"/api/v1/compliance/campaigns/{reports.c2026}/peers").json()
    assert anonymous["rows"] == [] and anonymous["rank"] == 2
    assert focal.get(f"/api/v1/compliance/campaigns/{reports.c2026}/peers",
                     params={"institution_id": reports.ag2}).status_code == 404
