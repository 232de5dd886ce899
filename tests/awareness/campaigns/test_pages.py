"""HTML pages of campaigns: the list and the form (errors inline, input kept), a campaign's
page with its progress and per-channel totals, reach and outcome forms, and read-only
focal points."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from

FORM = {"title": "Mois de la cybersécurité", "message": "Activez la double authentification.",
        "audience": "general_public", "channels": ["radio", "sms"], "languages": ["fr", "bm"],
        "starts_on": "2026-10-01", "ends_on": "2026-10-31", "lead_institution_id": "",
        "target_reach": "1000", "status": "planned"}


def test_agency_plans_a_campaign_and_records_reach_in_french(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    # Given the agency on the campaigns page
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/awareness/campaigns")
    assert page.status_code == 200 and "Campagnes de sensibilisation" in page.text
    csrf = csrf_from(page.text)
    # When it plans a campaign without a channel, then one ending before it starts
    nothing = browser.post("/awareness/campaigns", data={**FORM, "csrf_token": csrf,
                                                         "channels": []})
    assert nothing.status_code == 422 and 'id="channels-error"' in nothing.text
    bad = browser.post("/awareness/campaigns", data={
        **FORM, "csrf_token": csrf, "ends_on": "2026-09-01"})
    # Then the errors are inline and the input kept
    assert bad.status_code == 422
    assert "La date de fin ne peut pas précéder la date de début" in bad.text
    assert 'value="Mois de la cybersécurité"' in bad.text
    assert "Aucune campagne de sensibilisation" in bad.text
    # When it plans it properly
    made = browser.post("/awareness/campaigns", data={**FORM, "csrf_token": csrf},
                        follow_redirects=False)
    assert made.status_code == 303, made.text
    path = made.headers["location"]
    # And records reach outside the period: refused inline, nothing saved
    late = browser.post(f"{path}/reach", data={
        "csrf_token": csrf, "reached_on": "2026-11-05", "channel": "radio", "people": "300"})
    assert late.status_code == 422 and "La date doit se situer dans la campagne" in late.text
    assert 'value="300"' in late.text
    ok = browser.post(f"{path}/reach", data={
        "csrf_token": csrf, "reached_on": "2026-10-05", "channel": "radio", "people": "300",
        "impressions": "", "source": "ORTM", "note": ""}, follow_redirects=False)
    assert ok.status_code == 303
    outcome = browser.post(f"{path}/outcomes", data={
        "csrf_token": csrf, "name": "Signalements reçus", "value": "12", "unit": "",
        "evidence": ""}, follow_redirects=False)
    assert outcome.status_code == 303
    bad_outcome = browser.post(f"{path}/outcomes", data={
        "csrf_token": csrf, "name": "Quiz", "value": "beaucoup"})
    assert bad_outcome.status_code == 422 and 'value="beaucoup"' in bad_outcome.text
    # Then the campaign's page shows the progress and the per-channel totals
    detail = browser.get(path)
    assert '<progress max="100" value="30"' in detail.text
    assert "<strong>300</strong> / 1\u202f000 (30 %)" in detail.text
    # And an outcome entered by mistake can be removed
    removal = re.search(r'action="(/awareness/campaigns/outcomes/\d+/delete)"', detail.text)
    assert removal
    gone = browser.post(removal.group(1), data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == f"{path}#outcomes"
    assert "Signalements reçus" not in browser.get(path).text
    assert "Signalements reçus" in detail.text and "ORTM" in detail.text
    # And a stale edit is refused with 409
    stale = browser.post(path, data={**FORM, "csrf_token": csrf, "version": "9",
                                     "status": "running"})
    assert stale.status_code == 409 and "modifié" in stale.text
    saved = browser.post(path, data={**FORM, "csrf_token": csrf, "version": "1",
                                     "status": "running"}, follow_redirects=False)
    assert saved.status_code == 303
    assert "En cours" in browser.get("/awareness/campaigns").text


def test_focal_point_reads_without_forms(
        factory: Factory, login_as: Callable[..., TestClient],
        make_campaign: Callable[..., int]) -> None:
    inst = factory.institution("AAA")
    campaign_id = make_campaign()
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    page = browser.get(f"/awareness/campaigns/{campaign_id}")
    assert page.status_code == 200 and "Mois de la cybersécurité" in page.text
    assert "/reach" not in page.text
    refused = browser.post(f"/awareness/campaigns/{campaign_id}/reach", data={
        "csrf_token": csrf_from(page.text), "reached_on": "2026-10-05", "channel": "radio",
        "people": "3"})
    assert refused.status_code == 403
    # And the home dashboard counts the campaigns running
    assert "Campagnes de sensibilisation en cours" in browser.get("/").text
