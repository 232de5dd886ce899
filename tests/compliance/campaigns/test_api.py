"""API tests of campaigns: the flow, concurrency, validation, evidence limits, scope."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import answers as answer_service
from lakana.core.auth.rbac import Role
from lakana.core.notifications.models import Notification
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.conftest import Factory

API = "/api/v1/compliance"
Client = Callable[..., TestClient]


def test_campaign_flow_through_the_api(world: World, factory: Factory, api_as: Client,
                                       db: Session) -> None:
    # Given an agency officer and a focal point of a body of the ministry
    officer = api_as(factory.user(Role.AGENCY_OFFICER))
    focal_user = factory.user(Role.FOCAL_POINT, institution_id=world.body_a)
    # When the officer creates a campaign on the ministry's subtree and launches it
    created = officer.post(f"{API}/campaigns", json={
        "name": "Campagne 2026", "year": 2026, "profile_id": world.profile_id,
        "deadline": "2026-12-31", "subtree_ids": [world.ministry]})
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert sorted(campaign["target_ids"]) == sorted(
        [world.ministry, world.body_a, world.body_b, world.sub_a])
    launched = officer.post(f"{API}/campaigns/{campaign['id']}/launch",
                            json={"version": campaign["version"]})
    assert launched.status_code == 200 and launched.json()["status"] == "open"
    # Then the focal point is notified and sees only their institution's assessment
    assert db.scalars(select(Notification).where(Notification.user_id == focal_user.id)).all()
    focal = api_as(focal_user)
    mine = focal.get(f"{API}/assessments").json()
    assert [a["institution_id"] for a in mine] == [world.body_a]
    assert mine[0]["progress"]["answered"] == 0 and mine[0]["progress"]["total"] == 4
    answers = focal.get(f"{API}/assessments/{mine[0]['id']}/answers").json()
    first = answers[0]
    # When the focal point answers, then the answer is saved and its version moves on
    saved = focal.put(f"{API}/answers/{first['id']}", json={
        "status": "partial", "maturity": 2, "comment": "En cours", "version": first["version"]})
    assert saved.status_code == 200 and saved.json()["version"] == first["version"] + 1
    # And a save from the stale version is refused with 409
    stale = focal.put(f"{API}/answers/{first['id']}", json={
        "status": "implemented", "maturity": 5, "version": first["version"]})
    assert stale.status_code == 409
    # And not applicable without a justification is refused with 422
    na = focal.put(f"{API}/answers/{answers[1]['id']}", json={
        "status": "not_applicable", "version": answers[1]["version"]})
    assert na.status_code == 422
    assert "justifi" in na.json()["detail"]
    # And the progress shows one answer
    got = focal.get(f"{API}/assessments/{mine[0]['id']}").json()
    assert got["progress"]["answered"] == 1 and got["progress"]["score"] == 40.0


def test_evidence_upload_limits_and_download(world: World, factory: Factory, api_as: Client,
                                             session_factory: sessionmaker[Session],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an answer of an open assessment and its focal point
    make_campaign(session_factory, world)
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    assessment = focal.get(f"{API}/assessments").json()[0]
    answer = focal.get(f"{API}/assessments/{assessment['id']}/answers").json()[0]
    url = f"{API}/answers/{answer['id']}/evidence"
    # When a PDF is uploaded, then it is linked and can be downloaded back
    ok = focal.post(url, files={"file": ("politique.pdf", b"%PDF-1.4 politique", "text/plain")})
    assert ok.status_code == 201, ok.text
    assert ok.json()["media_type"] == "application/pdf"
    evidence = focal.get(f"{API}/answers/{answer['id']}").json()["evidence"]
    assert [e["name"] for e in evidence] == ["politique.pdf"]
    with session_factory() as session:
        link_id = answer_service.list_answers(
            session=session, actor=ADMIN, assessment_id=assessment["id"])[0].evidence[0].id
    down = focal.get(f"{API}/evidence/{link_id}")
    assert down.status_code == 200 and down.content == b"%PDF-1.4 politique"
    # When an executable is uploaded, then it is refused with 422 and the accepted types
    bad = focal.post(url, files={"file": ("outil.exe", b"MZ\x90\x00\x03\x00\x00\x00",
                                          "application/pdf")})
    assert bad.status_code == 422 and "application/pdf" in bad.json()["detail"]
    # When a file is over the limit, then it is refused with 413 naming the limit
    monkeypatch.setattr(answer_service, "EVIDENCE_MAX_BYTES", 1024 * 1024)
    big = focal.post(url, files={"file": ("gros.pdf", b"%PDF-" + b"0" * (1024 * 1024),
                                          "application/pdf")})
    assert big.status_code == 413 and "1.0 Mo" in big.json()["detail"]
    # And a focal point of another institution gets 404 on the download
    outsider = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.body_a))
    assert outsider.get(f"{API}/evidence/{link_id}").status_code == 404


def test_scope_and_transition_rights_over_the_api(world: World, factory: Factory,
                                                  api_as: Client,
                                                  session_factory: sessionmaker[Session]
                                                  ) -> None:
    # Given an assessment of institution "other" and a focal point of another institution
    make_campaign(session_factory, world)
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.other))
    outsider = api_as(factory.user(Role.FOCAL_POINT, institution_id=world.body_a))
    auditor = api_as(factory.user(Role.AUDITOR))
    assessment = focal.get(f"{API}/assessments").json()[0]
    answers = focal.get(f"{API}/assessments/{assessment['id']}/answers").json()
    # Then the outsider gets 404 on the assessment, its answers, and an answer change
    assert outsider.get(f"{API}/assessments/{assessment['id']}").status_code == 404
    assert outsider.get(f"{API}/assessments/{assessment['id']}/answers").status_code == 404
    assert outsider.put(f"{API}/answers/{answers[0]['id']}", json={
        "status": "partial", "maturity": 1, "version": answers[0]["version"]}).status_code == 404
    # When the focal point answers everything and submits
    for a in answers:
        assert focal.put(f"{API}/answers/{a['id']}", json={
            "status": "implemented", "maturity": 4, "version": a["version"]}).status_code == 200
    submitted = focal.post(f"{API}/assessments/{assessment['id']}/submit",
                           json={"version": assessment["version"]})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    version = submitted.json()["version"]
    # Then the focal point may not approve, the auditor reviews and overrides
    assert focal.post(f"{API}/assessments/{assessment['id']}/review",
                      json={"version": version}).status_code == 403
    answer = focal.get(f"{API}/answers/{answers[0]['id']}").json()
    overridden = auditor.post(f"{API}/answers/{answer['id']}/override", json={
        "status": "partial", "maturity": 2, "reason": "Preuve insuffisante",
        "version": answer["version"]})
    assert overridden.status_code == 200
    body = overridden.json()
    assert (body["status"], body["maturity"]) == ("implemented", 4)
    assert (body["override_status"], body["override_maturity"]) == ("partial", 2)
    reviewed = auditor.post(f"{API}/assessments/{assessment['id']}/review",
                            json={"version": version})
    assert reviewed.status_code == 200
    assert auditor.post(f"{API}/assessments/{assessment['id']}/approve",
                        json={"version": reviewed.json()["version"]}).status_code == 403
