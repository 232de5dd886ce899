"""HTML pages of the plan: the tree in French, import with problems listed, the action edit
form (409 when stale), and read-only focal points."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from lakana.strategy.demo import DRAFT_PLAN
from tests.conftest import Factory, csrf_from
from tests.strategy.conftest import SMALL_PLAN


def test_agency_imports_and_edits_the_plan_in_french(
        factory: Factory, institutions: dict[str, int],
        login_as: Callable[..., TestClient]) -> None:
    # Given the agency on the strategy page, with no plan yet
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/strategy")
    assert page.status_code == 200 and "Aucun plan d'action" in page.text
    csrf = csrf_from(page.text)
    # When it imports a plan with a cycle: refused with the line, nothing written
    bad = SMALL_PLAN.replace("      lead: MEF\n      starts_on",
                             "      lead: MEF\n      depends_on: [A1.O1.AC2]\n      starts_on")
    refused = browser.post("/strategy/import", data={"csrf_token": csrf},
                           files={"file": ("plan.yaml", bad.encode())})
    assert refused.status_code == 422
    assert "ligne" in refused.text and "forment un cycle" in refused.text
    # When it imports the draft plan
    done = browser.post("/strategy/import", data={"csrf_token": csrf},
                        files={"file": ("plan.yaml", DRAFT_PLAN.read_bytes())})
    assert done.status_code == 200 and "Plan importé" in done.text
    assert "Gouvernance et coopération internationale" in done.text
    assert "En cours" in done.text and "Fréquence" in done.text
    assert browser.get("/strategy/export?format=yaml").content.startswith(b"axes:")
    # When it opens an action and saves it with a stale version: 409
    path = "/strategy/actions/1"
    action = browser.get(path)
    assert action.status_code == 200 and "Jalons" in action.text
    form = {"csrf_token": csrf, "status": "late", "starts_on": "2026-01-15",
            "ends_on": "2026-12-31", "budget_committed": "1000"}
    stale = browser.post(path, data={**form, "version": "9"})
    assert stale.status_code == 409 and "modifié" in stale.text
    wrong = browser.post(path, data={**form, "version": "1", "ends_on": "2025-01-01"})
    assert wrong.status_code == 422
    saved = browser.post(path, data={**form, "version": "1",
                                     "milestones_done": ["A1.O1.AC1.M1"]},
                         follow_redirects=False)
    assert saved.status_code == 303
    assert "En retard" in browser.get(path).text


def test_focal_point_reads_but_cannot_edit(factory: Factory, institutions: dict[str, int],
                                           login_as: Callable[..., TestClient]) -> None:
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    csrf = csrf_from(agency.get("/strategy").text)
    agency.post("/strategy/import", data={"csrf_token": csrf},
                files={"file": ("plan.yaml", DRAFT_PLAN.read_bytes())})
    focal = login_as(factory.user(Role.FOCAL_POINT, institution_id=institutions["MEF"]))
    page = focal.get("/strategy")
    assert page.status_code == 200 and "Importer un plan" not in page.text
    csrf = csrf_from(page.text)
    assert "Mettre à jour" not in focal.get("/strategy/actions/1").text
    refused = focal.post("/strategy/actions/1", data={"csrf_token": csrf, "version": "1",
                                                      "status": "done"})
    assert refused.status_code == 403
