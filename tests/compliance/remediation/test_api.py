"""JSON API of remediation actions: create from a gap, list, update with versions, delete."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.compliance.campaigns.models import Answer
from lakana.core.auth.rbac import Role
from tests.compliance.remediation.conftest import gap_answer
from tests.conftest import Factory


def test_gap_to_action_through_the_api(factory: Factory,
                                       api_as: Callable[..., TestClient]) -> None:
    a, b = factory.institution("AAA"), factory.institution("BBB")
    answer_id = gap_answer(factory, a)
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    made = focal.post(f"/api/v1/compliance/answers/{answer_id}/action",
                      json={"due_date": "2020-01-31", "priority": "high", "owner": "Awa"})
    assert made.status_code == 201, made.text
    action = made.json()
    assert action["overdue"] is True and made.headers["ETag"] == '"1"'
    again = focal.post(f"/api/v1/compliance/answers/{answer_id}/action")
    assert again.status_code == 409
    listed = focal.get("/api/v1/compliance/actions", params={"overdue": "true"}).json()
    assert listed["total"] == 1
    path = f"/api/v1/compliance/actions/{action['id']}"
    other = api_as(factory.user(Role.FOCAL_POINT, institution_id=b))
    assert other.get(path).status_code == 404
    assert other.get("/api/v1/compliance/actions").json()["total"] == 0
    done = focal.patch(path, json={"status": "done"}, headers={"If-Match": '"1"'})
    assert done.status_code == 200 and done.json()["closed_at"] and not done.json()["overdue"]
    assert focal.patch(path, json={"owner": "X", "version": 1}).status_code == 409
    assert focal.delete(path, headers={"If-Match": '"2"'}).status_code == 204
    assert focal.get(path).status_code == 404


def test_free_action_and_validation(factory: Factory,
                                    api_as: Callable[..., TestClient]) -> None:
    a = factory.institution("AAA")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    made = agency.post("/api/v1/compliance/actions",
                       json={"institution_id": a, "title": "Plan de continuité"})
    assert made.status_code == 201 and made.json()["priority"] == "medium"
    bad = agency.post("/api/v1/compliance/actions",
                      json={"institution_id": a, "title": "", "priority": "urgent"})
    assert bad.status_code == 422
    implemented = gap_answer(factory, a, "implemented")
    refused = agency.post(f"/api/v1/compliance/answers/{implemented}/action")
    assert refused.status_code == 422
    viewer = api_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=a))
    assert viewer.get("/api/v1/compliance/actions").json()["total"] == 1
    assert viewer.post("/api/v1/compliance/actions",
                       json={"institution_id": a, "title": "Non"}).status_code == 403


def test_priority_of_a_gap_action_follows_weight_and_criticality(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given a heavy requirement (weight 3) missed by a tier-1 body and by a tier-3 body
    from sqlalchemy import select, update

    from lakana.compliance.models import Requirement

    critical_body = factory.institution("CRIT", criticality_tier=1)
    small_body = factory.institution("SMALL", criticality_tier=3)
    heavy, light = gap_answer(factory, critical_body), gap_answer(factory, small_body)
    with factory.session_factory.begin() as session:
        requirement_ids = set(session.scalars(select(Answer.requirement_id)
                                              .where(Answer.id.in_((heavy, light)))))
        session.execute(update(Requirement).where(Requirement.id.in_(requirement_ids))
                        .values(weight=3))
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    # When actions are opened from the gaps without choosing a priority
    made = [agency.post(f"/api/v1/compliance/answers/{a}/action") for a in (heavy, light)]
    # Then the priority is derived: weight 3 + tier 1 → critical, weight 3 + tier 3 → medium
    # (a priority the caller chooses wins: see the test above)
    assert [m.json()["priority"] for m in made] == ["critical", "medium"]
