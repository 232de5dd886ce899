"""The exposure JSON API: findings (scope, filters, triage, CSV), scans, views and feeds.

Findings and scans are written straight through the models: no network is needed."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.monitoring.exposure.models import ExposureFinding, ExposureScan, ExposureScore
from tests.conftest import Factory

KEV = json.dumps({"catalogVersion": "2024.01.01", "count": 1, "vulnerabilities": [
    {"cveID": "CVE-2021-41773", "vendorProject": "Apache", "product": "HTTP Server",
     "vulnerabilityName": "Apache HTTP Server Path Traversal Vulnerability",
     "dateAdded": "2021-11-03", "shortDescription": "Path traversal in 2.4.49.",
     "requiredAction": "Apply updates per vendor instructions.", "dueDate": "2021-11-17",
     "knownRansomwareCampaignUse": "Unknown", "notes": ""}]}).encode()


def make_finding(session_factory: sessionmaker[Session], institution_id: int,
                 **fields: Any) -> int:
    """A finding of ``institution_id`` (open, high, TLS 1.0 unless told otherwise)."""
    now = utcnow()
    data: dict[str, Any] = {
        "fingerprint": uuid.uuid4().hex + uuid.uuid4().hex, "institution_id": institution_id,
        "target": "url:https://portail.example.ml/", "check_id": "tls",
        "issue_id": "tls.protocol.tls1_0", "subject": "TLSv1.0", "severity": "high",
        "status": "open", "first_seen": now - dt.timedelta(days=3), "last_seen": now,
        "due_at": now + dt.timedelta(days=27), "evidence": {"accepted": ["TLSv1.0"]}}
    data.update(fields)
    with session_factory.begin() as session:
        finding = ExposureFinding(**data)
        session.add(finding)
        session.flush()
        return finding.id


def make_scan(session_factory: sessionmaker[Session], institution_id: int | None,
              **fields: Any) -> int:
    """A finished scan of ``institution_id`` with one score point."""
    now = utcnow()
    data: dict[str, Any] = {"institution_id": institution_id, "status": "done",
                            "trigger": "ui", "checks": ["tls"], "targets_total": 2,
                            "targets_done": 2, "started_at": now, "finished_at": now}
    data.update(fields)
    with session_factory.begin() as session:
        scan = ExposureScan(**data)
        session.add(scan)
        session.flush()
        if institution_id is not None:
            session.add(ExposureScore(institution_id=institution_id, scan_id=scan.id,
                                      score=20.0, open_counts={"high": 1}, endpoints=2))
        return scan.id


@pytest.fixture
def two(factory: Factory, session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Institutions A and B, each with one open finding and one scan."""
    a, b = factory.institution("AAA"), factory.institution("BBB")
    return {"a": a, "b": b, "finding_a": make_finding(session_factory, a),
            "finding_b": make_finding(session_factory, b, severity="critical",
                                      issue_id="paths.git", check_id="paths", subject="/.git/"),
            "scan_a": make_scan(session_factory, a), "scan_b": make_scan(session_factory, b)}


def test_focal_point_sees_only_their_institution(
        two: dict[str, int], factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given a focal point of A
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    # When they list findings, and ask for B's finding, scan and institution
    listed = api.get("/api/v1/exposure/findings")
    # Then they see only A's, and B's objects are "not found"
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()["items"]] == [two["finding_a"]]
    assert listed.json()["items"][0]["title"]
    assert api.get(f"/api/v1/exposure/findings/{two['finding_a']}").status_code == 200
    for path in (f"findings/{two['finding_b']}", f"scans/{two['scan_b']}",
                 f"institutions/{two['b']}"):
        response = api.get(f"/api/v1/exposure/{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
    assert api.get("/api/v1/exposure/national").status_code == 403


def test_auditor_reads_nationally(two: dict[str, int], factory: Factory,
                                  api_as: Callable[..., TestClient]) -> None:
    # Given an auditor
    api = api_as(factory.user(Role.AUDITOR))
    # When they read the lists, B's finding and the national view
    listed = api.get("/api/v1/exposure/findings", params={"severity": "critical"})
    national = api.get("/api/v1/exposure/national")
    # Then everything is visible, filtered as asked
    assert [f["id"] for f in listed.json()["items"]] == [two["finding_b"]]
    assert national.status_code == 200
    assert {r["institution_acronym"] for r in national.json()} >= {"AAA", "BBB"}
    scan = api.get(f"/api/v1/exposure/scans/{two['scan_b']}").json()
    assert scan["progress"] == 1.0 and scan["results"] == []
    inst = api.get(f"/api/v1/exposure/institutions/{two['b']}").json()
    assert inst["open_counts"]["critical"] == 1
    # but triage is not theirs
    response = api.post(f"/api/v1/exposure/findings/{two['finding_b']}/triage",
                        json={"status": "accepted", "reason": "x"})
    assert response.status_code == 403


def test_focal_point_cannot_triage_own_finding(
        two: dict[str, int], factory: Factory, api_as: Callable[..., TestClient]) -> None:
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    response = api.post(f"/api/v1/exposure/findings/{two['finding_a']}/triage",
                        json={"status": "false_positive", "reason": "no"})
    assert response.status_code == 403
    other = api.post(f"/api/v1/exposure/findings/{two['finding_b']}/triage",
                     json={"status": "false_positive", "reason": "no"})
    assert other.status_code == 404


def test_analyst_triages_with_version_and_reason(
        two: dict[str, int], factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given an analyst
    api = api_as(factory.user(Role.CSIRT_ANALYST))
    url = f"/api/v1/exposure/findings/{two['finding_a']}/triage"
    # When they accept the risk without reason, with a bad status, then properly
    assert api.post(url, json={"status": "accepted", "reason": ""}).status_code == 422
    bad = api.post(url, json={"status": "fixed", "reason": "x"})
    assert bad.status_code == 422 and "status" in bad.text
    done = api.post(url, json={"status": "accepted", "reason": "Serveur retiré en juin",
                               "version": 1})
    # Then the decision is kept, and a stale version is refused
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "accepted"
    stale = api.post(url, json={"status": "open", "reason": "", "version": 1})
    assert stale.status_code == 409


@pytest.mark.parametrize("query", ["status=nope", "severity=urgent", "limit=0",
                                   "institution_id=abc"])
def test_bad_filters_are_422(query: str, two: dict[str, int], factory: Factory,
                             api_as: Callable[..., TestClient]) -> None:
    api = api_as(factory.user(Role.AUDITOR))
    response = api.get(f"/api/v1/exposure/findings?{query}")
    assert response.status_code == 422
    assert response.json()["errors"]


@pytest.mark.parametrize("path", ["findings/abc", "scans/x1", "institutions/-",
                                  "findings/99999999999999999999999"])
def test_bad_ids_are_4xx(path: str, factory: Factory,
                         api_as: Callable[..., TestClient]) -> None:
    api = api_as(factory.user(Role.AUDITOR))
    response = api.get(f"/api/v1/exposure/{path}")
    assert 400 <= response.status_code < 500, (path, response.status_code)


def test_csv_export_is_scoped_and_guards_formulas(
        two: dict[str, int], factory: Factory, session_factory: sessionmaker[Session],
        api_as: Callable[..., TestClient]) -> None:
    # Given a finding whose subject a hostile server chose
    make_finding(session_factory, two["a"], subject="=HYPERLINK(\"http://x\")")
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    # When the focal point exports
    response = api.get("/api/v1/exposure/findings.csv")
    # Then only A's rows come, the formula neutralised
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("id,institution_id,institution")
    assert len(text.strip().splitlines()) == 3
    assert "'=HYPERLINK" in text and "BBB" not in text


def test_scan_request_is_queued_or_refused(
        two: dict[str, int], factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given a focal point of A (no registered endpoint) and a viewer
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    viewer = api_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=two["a"]))
    # When they ask for scans
    empty = api.post("/api/v1/exposure/scans", json={"institution_id": two["a"]})
    other = api.post("/api/v1/exposure/scans", json={"institution_id": two["b"]})
    unknown = api.post("/api/v1/exposure/scans", json={"bogus": 1})
    # Then nothing to scan is 422, another institution is refused, and a viewer may not
    assert empty.status_code == 422
    assert other.status_code in (403, 404)
    assert unknown.status_code == 422
    assert viewer.post("/api/v1/exposure/scans", json={}).status_code == 403
    listed = api.get("/api/v1/exposure/scans").json()
    assert [s["id"] for s in listed] == [two["scan_a"]]


def test_feed_upload_multipart_and_raw(factory: Factory,
                                       api_as: Callable[..., TestClient]) -> None:
    # Given an analyst
    api = api_as(factory.user(Role.CSIRT_ANALYST))
    # When they upload a KEV file as multipart, then the same as the raw body
    first = api.post("/api/v1/exposure/feeds/kev", files={"file": ("kev.json", KEV)})
    again = api.post("/api/v1/exposure/feeds/kev", content=KEV,
                     headers={"content-type": "application/json"})
    # Then it is imported once
    assert first.status_code == 201, first.text
    assert first.json()["entries"] == 1 and first.json()["source"] == "kev"
    assert again.json()["id"] == first.json()["id"]
    assert [f["id"] for f in api.get("/api/v1/exposure/feeds").json()] == [first.json()["id"]]


@pytest.mark.parametrize("body", [b"\xff\xfe\x00garbage", b"{\"vulnerabilities\": [1]}",
                                  b"", b"[" * 10])
def test_malformed_feed_is_refused_with_a_message(
        body: bytes, factory: Factory, api_as: Callable[..., TestClient]) -> None:
    api = api_as(factory.user(Role.CSIRT_ANALYST))
    response = api.post("/api/v1/exposure/feeds/kev", files={"file": ("kev.json", body)})
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_feed_upload_refusals(factory: Factory, settings: Settings,
                              api_as: Callable[..., TestClient]) -> None:
    focal = api_as(factory.user(Role.FOCAL_POINT))
    analyst = api_as(factory.user(Role.CSIRT_ANALYST))
    assert focal.post("/api/v1/exposure/feeds/kev", content=KEV).status_code == 403
    unknown = analyst.post("/api/v1/exposure/feeds/osv", content=KEV)
    assert unknown.status_code == 422 and "osv" in unknown.json()["detail"]
    big = analyst.post("/api/v1/exposure/feeds/kev",
                       content=b" " * (settings.max_upload_bytes + 1))
    assert big.status_code == 413
