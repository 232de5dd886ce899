"""JSON API of the plan: the tree, import (422 with lines), export, and the action edit with
If-Match (409 when stale) and the agency-only writes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from lakana.strategy.demo import DRAFT_PLAN
from tests.conftest import Factory
from tests.strategy.conftest import SMALL_PLAN

BASE = "/api/v1/strategy"


def test_agency_imports_exports_and_edits_the_plan(
        factory: Factory, institutions: dict[str, int],
        api_as: Callable[..., TestClient]) -> None:
    # Given the agency and a focal point
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=institutions["MEF"]))
    # When the focal point tries to import, it is refused
    files = {"file": ("plan.yaml", DRAFT_PLAN.read_bytes(), "application/yaml")}
    assert focal.post(f"{BASE}/import", files=files).status_code == 403
    # When the agency imports the draft plan, twice
    first = agency.post(f"{BASE}/import", files=files)
    assert first.status_code == 200, first.text
    assert first.json()["created"] > 50
    again = agency.post(f"{BASE}/import", files=files).json()
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
    # Then everyone reads the tree
    plan = focal.get(f"{BASE}/plan").json()
    assert [a["code"] for a in plan["axes"]] == ["A1", "A2", "A3"]
    action = plan["axes"][0]["objectives"][0]["actions"][0]
    path = f"{BASE}/actions/{action['id']}"
    # And the export is a file
    exported = focal.get(f"{BASE}/export", params={"format": "xlsx"})
    assert exported.status_code == 200 and exported.content[:2] == b"PK"
    assert "attachment" in exported.headers["content-disposition"]
    # When the agency edits an action with a stale If-Match: 409; the right one: saved
    read = agency.get(path)
    assert read.headers["ETag"] == '"1"'
    stale = agency.patch(path, json={"status": "done"}, headers={"If-Match": '"9"'})
    assert stale.status_code == 409
    saved = agency.patch(path, json={"status": "in_progress", "budget_committed": 1000,
                                     "milestones_done": ["A1.O1.AC1.M1"]},
                         headers={"If-Match": '"1"'})
    assert saved.status_code == 200, saved.text
    assert saved.headers["ETag"] == '"2"' and saved.json()["milestones"][0]["done_on"]
    # And a focal point may not edit
    assert focal.patch(path, json={"status": "done", "version": 2}).status_code == 403


def test_bad_import_is_422_with_lines_and_nothing_written(
        factory: Factory, institutions: dict[str, int],
        api_as: Callable[..., TestClient]) -> None:
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    bad = SMALL_PLAN.replace("lead: MEF", "lead: NOPE")
    refused = agency.post(f"{BASE}/import", files={"file": ("plan.yaml", bad.encode())})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    errors = refused.json()["errors"]
    assert errors[0]["line"] > 1 and "NOPE" in errors[0]["message"]
    assert agency.get(f"{BASE}/plan").json() == {"axes": []}
