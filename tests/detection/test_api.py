"""The detection JSON API: ingestion as shippers send it (text, NDJSON, JSON arrays, gzip)
with a focal point's real API token, its refusals (type, size, encoding, permission), and
alerts, events, triage, cases, rules and suppressions with their scope."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.monitoring.detection import rules
from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from lakana.monitoring.detection.schemas import MAX_BYTES, MAX_LINES
from tests.conftest import Factory

INGEST = "/api/v1/detection/ingest"
CLEARED = {"EventID": 1102, "Channel": "Security", "Hostname": "dc01.dgi.example",
           "SourceName": "Microsoft-Windows-Security-Auditing", "SubjectUserName": "admin"}


def ssh_lines(n: int, ip: str = "203.0.113.9", user: str = "oracle") -> list[str]:
    """``n`` sshd "Invalid user" lines from ``ip``."""
    return [f"Dec 10 06:55:{i % 60:02d} web01 sshd[24200]: Invalid user {user} from {ip}"
            for i in range(n)]


@dataclass
class People:
    """Institutions A and B, a focal point of each, a viewer of A and a CSIRT analyst."""

    a: int
    b: int
    focal_a: User
    focal_b: User
    viewer_a: User
    analyst: User


@pytest.fixture
def people(factory: Factory) -> People:
    """Who the tests act as (the rules are Lakana's own only)."""
    rules.clear_cache()
    rules.configure(None)
    a, b = factory.institution("DGI"), factory.institution("ANSI")
    return People(a=a, b=b, focal_a=factory.user(Role.FOCAL_POINT, institution_id=a),
                  focal_b=factory.user(Role.FOCAL_POINT, institution_id=b),
                  viewer_a=factory.user(Role.INSTITUTION_VIEWER, institution_id=a),
                  analyst=factory.user(Role.CSIRT_ANALYST))


def send(api: TestClient, body: bytes | str, content_type: str = "text/plain",
         **headers: str) -> object:
    """POST ``body`` to the ingest route with a content type."""
    data = body.encode() if isinstance(body, str) else body
    return api.post(INGEST, content=data, headers={"Content-Type": content_type, **headers})


def alert_ids(session_factory: sessionmaker[Session], institution_id: int) -> list[int]:
    """Ids of an institution's alerts, oldest first."""
    with session_factory() as session:
        return list(session.scalars(select(DetectionAlert.id).where(
            DetectionAlert.institution_id == institution_id).order_by(DetectionAlert.id)))


def test_ingest_text_ndjson_json_and_gzip(people: People, api_as: Callable[..., TestClient],
                                          session_factory: sessionmaker[Session]) -> None:
    # Given a focal point's API token, as a shipper holds it
    api = api_as(people.focal_a)
    # When raw sshd lines are sent as text, with CRLF endings and blank lines
    text = "\r\n".join(ssh_lines(3)) + "\r\n\r\n"
    response = send(api, text)
    # Then they are stored before the 202, grouped into one alert by source address
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["stored"], body["alerts"]) == (3, 3, 1)
    assert len(body["alert_ids"]) == 1
    with session_factory() as session:
        events = list(session.scalars(select(DetectionEvent)))
        assert len(events) == 3 and {e.institution_id for e in events} == {people.a}
        assert {e.channel for e in events} == {"http"}
    # When NDJSON carries a Windows 1102 record, a Fluent Bit-style record and a broken line
    ndjson = "\n".join([json.dumps(CLEARED), json.dumps({"log": ssh_lines(1)[0]}),
                        '{"not closed": '])
    response = send(api, ndjson, "application/x-ndjson")
    # Then every line is stored (the broken one kept raw) and the 1102 raises an alert
    assert response.status_code == 202, response.text
    assert response.json()["stored"] == 3 and response.json()["alerts"] == 2
    with session_factory() as session:
        datasets = set(session.scalars(select(DetectionEvent.dataset)))
        assert {"sshd", "raw"} <= datasets and any(d.startswith("windows") for d in datasets)
    # When rsyslog's omhttp sends a JSON array, and a shipper gzips its NDJSON
    assert send(api, json.dumps([CLEARED, {"message": "hello"}]),
                "application/json; charset=utf-8").json()["stored"] == 2
    zipped = gzip.compress("\n".join(ssh_lines(2, ip="198.51.100.7")).encode())
    response = send(api, zipped, "application/x-ndjson", **{"Content-Encoding": "gzip"})
    assert response.status_code == 202 and response.json()["stored"] == 2
    # Then the alerts list shows them, worst level first
    listed = api.get("/api/v1/detection/alerts").json()
    assert listed["total"] == 3
    assert listed["items"][0]["level"] == "high"


def test_ingest_refusals(people: People, api_as: Callable[..., TestClient],
                         session_factory: sessionmaker[Session]) -> None:
    api = api_as(people.focal_a)
    # Another content type: 415, with the accepted ones named
    refused = send(api, "<log/>", "application/xml")
    assert refused.status_code == 415
    assert "text/plain" in refused.json()["detail"]
    assert send(api, "x", "text/plain; charset=latin-1").status_code == 415
    assert send(api, b"x", "text/plain", **{"Content-Encoding": "br"}).status_code == 415
    # Bytes that are not UTF-8: 422 naming the line
    bad = send(api, b"ok line\nbad \xff\xfe line\n", "text/plain")
    assert bad.status_code == 422 and "2" in bad.json()["detail"]
    # Too many lines, or too many bytes: 413
    assert send(api, "x\n" * (MAX_LINES + 1)).status_code == 413
    assert send(api, b"y" * (MAX_BYTES + 1)).status_code == 413
    bomb = gzip.compress(b"z" * (MAX_BYTES + 1))
    assert send(api, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
    assert send(api, b"\x1f\x8bnot gzip", **{"Content-Encoding": "gzip"}).status_code == 422
    # A JSON array holding something else than objects: 422
    assert send(api, "[1, 2]", "application/json").status_code == 422
    # Nothing was stored by any refused request
    with session_factory() as session:
        assert session.scalars(select(DetectionEvent.id)).first() is None
    # A viewer may not send logs; another institution's system is refused
    assert send(api_as(people.viewer_a), "x").status_code == 403
    assert api.post(f"{INGEST}?institution_id={people.b}", content=b"x",
                    headers={"Content-Type": "text/plain"}).status_code == 403
    # The centre must name the institution
    analyst = api_as(people.analyst)
    assert send(analyst, "x").status_code == 422
    named = analyst.post(f"{INGEST}?institution_id={people.b}", content=b"x",
                         headers={"Content-Type": "text/plain"})
    assert named.status_code == 202 and named.json()["stored"] == 1
    # Anonymous: 401
    assert TestClient(api.app).post(INGEST, content=b"x").status_code == 401


def test_alerts_scope_triage_case_and_suppression(
        people: People, api_as: Callable[..., TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given alerts of A and of B
    assert send(api_as(people.focal_a), "\n".join(ssh_lines(2))).status_code == 202
    assert send(api_as(people.focal_b), json.dumps(CLEARED),
                "application/x-ndjson").status_code == 202
    (alert_a,), (alert_b,) = alert_ids(session_factory, people.a), alert_ids(
        session_factory, people.b)
    focal = api_as(people.focal_a)
    # When A's focal point reads: their alert with its events; B's is unknown to them
    detail = focal.get(f"/api/v1/detection/alerts/{alert_a}").json()
    assert detail["alert"]["event_count"] == 2 and len(detail["events"]) == 2
    assert detail["alert"]["attribution"]["author"] == "Lakana"
    assert "Invalid user oracle" in detail["events"][0]["message"]
    assert [a["id"] for a in focal.get("/api/v1/detection/alerts").json()["items"]] == [
        alert_a]
    for path in (f"/api/v1/detection/alerts/{alert_b}",):
        assert focal.get(path).status_code == 404
    assert focal.post(f"/api/v1/detection/alerts/{alert_b}/triage",
                      json={"status": "open"}).status_code == 404
    assert focal.post(f"/api/v1/detection/alerts/{alert_b}/case").status_code == 404
    events = focal.get("/api/v1/detection/events", params={"q": "oracle"}).json()
    assert len(events) == 2 and {e["institution_id"] for e in events} == {people.a}
    assert focal.get("/api/v1/detection/events", params={"dataset": "windows.security"}
                     ).json() == []
    # A focal point may not triage
    assert focal.post(f"/api/v1/detection/alerts/{alert_a}/triage",
                      json={"status": "false_positive", "reason": "x"}).status_code == 403
    # When the analyst triages: a reason is required, a stale version is refused
    analyst = api_as(people.analyst)
    url = f"/api/v1/detection/alerts/{alert_b}"
    assert analyst.post(f"{url}/triage", json={"status": "true_positive"}).status_code == 422
    done = analyst.post(f"{url}/triage", json={"status": "true_positive",
                                               "reason": "Effacement non planifié",
                                               "version": 1})
    assert done.status_code == 200 and done.json()["status"] == "true_positive"
    assert analyst.post(f"{url}/triage", json={"status": "open", "version": 1}
                        ).status_code == 409
    # And opens a CSIRT case, once
    case = analyst.post(f"{url}/case")
    assert case.status_code == 200, case.text
    assert case.json()["alert"]["status"] == "escalated" and case.json()["case_reference"]
    assert analyst.post(f"{url}/case").status_code == 409
    # And suppresses A's rule for that subject
    subject = detail["alert"]["subject"]
    created = analyst.post("/api/v1/detection/suppressions", json={
        "rule_id": detail["alert"]["rule_id"], "subject": subject, "reason": "Scanner interne",
        "days": 7, "institution_id": people.a})
    assert created.status_code == 201, created.text
    assert analyst.post("/api/v1/detection/suppressions", json={
        "rule_id": "x", "reason": "r", "days": 400}).status_code == 422
    listed = focal.get("/api/v1/detection/suppressions").json()
    assert [s["subject"] for s in listed] == [subject]
    suppressed = focal.get("/api/v1/detection/alerts", params={"status": "suppressed"}).json()
    assert [a["id"] for a in suppressed["items"]] == [alert_a]
    assert focal.get("/api/v1/detection/alerts").json()["total"] == 0


def test_rules_summary(people: People, api_as: Callable[..., TestClient]) -> None:
    summary = api_as(people.focal_a).get("/api/v1/detection/rules").json()
    assert summary["loaded"] >= 7 and summary["unsupported"] == 0
    assert {r["license"] for r in summary["rules"]} == {"AGPL-3.0-or-later"}
