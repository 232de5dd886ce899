"""The detection pages: alert list and page (attribution, events escaped), the triage,
case and suppression forms with CSRF, event search, rules and the "send logs" help."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import Role
from lakana.monitoring.detection.models import DetectionAlert
from tests.conftest import Factory, csrf_from
from tests.detection.test_api import CLEARED, People, alert_ids, people, send  # noqa: F401

XSS = "<script>alert(1)</script>"


def _arrange(people: People, api_as: Callable[..., TestClient],  # noqa: F811
             session_factory: sessionmaker[Session]) -> tuple[int, int]:
    line = f"Dec 10 06:55:01 web01 sshd[1]: Invalid user x{XSS} from 203.0.113.9"
    assert send(api_as(people.focal_a), line).status_code == 202
    assert send(api_as(people.focal_b), json.dumps(CLEARED),
                "application/x-ndjson").status_code == 202
    return alert_ids(session_factory, people.a)[0], alert_ids(session_factory, people.b)[0]


def test_alert_pages_and_scope(people: People, api_as: Callable[..., TestClient],  # noqa: F811
                               login_as: Callable[..., TestClient],
                               session_factory: sessionmaker[Session]) -> None:
    alert_a, alert_b = _arrange(people, api_as, session_factory)
    # When A's focal point opens the list and their alert
    client = login_as(people.focal_a)
    listing = client.get("/detection")
    assert listing.status_code == 200
    assert f"/detection/alerts/{alert_a}" in listing.text
    assert f"/detection/alerts/{alert_b}" not in listing.text
    page = client.get(f"/detection/alerts/{alert_a}")
    # Then the rule, its attribution and the matching event are shown, escaped
    assert page.status_code == 200
    assert "SSH login attempt with an invalid user" in page.text
    assert "attack.t1110" in page.text and "AGPL-3.0-or-later" in page.text
    assert "Lakana" in page.text and "https://attack.mitre.org/techniques/T1110/" in page.text
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    # A focal point does not triage: no forms
    assert "/triage" not in page.text
    # B's alert is unknown to them, on every route
    assert client.get(f"/detection/alerts/{alert_b}").status_code == 404
    csrf = csrf_from(page.text)
    for action in ("triage", "case", "suppress"):
        assert client.post(f"/detection/alerts/{alert_b}/{action}",
                           data={"csrf_token": csrf}).status_code == 404
    # And the event search finds their raw line, not B's events
    found = client.get("/detection/events", params={"q": "invalid user"})
    assert found.status_code == 200 and "&lt;script&gt;" in found.text
    assert "dc01.dgi.example" not in client.get("/detection/events").text
    assert client.get("/detection?level=bogus").status_code == 422
    assert client.get("/detection/alerts/abc").status_code == 422


def test_triage_case_and_suppress_forms(
        people: People, api_as: Callable[..., TestClient],  # noqa: F811
        login_as: Callable[..., TestClient], factory: Factory,
        session_factory: sessionmaker[Session]) -> None:
    alert_a, alert_b = _arrange(people, api_as, session_factory)
    client = login_as(people.analyst)
    page = client.get(f"/detection/alerts/{alert_b}")
    assert f'action="/detection/alerts/{alert_b}/triage"' in page.text
    csrf = csrf_from(page.text)
    # Without the CSRF token the form is refused
    assert client.post(f"/detection/alerts/{alert_b}/triage",
                       data={"status": "false_positive", "reason": "x"}).status_code == 403
    # Without a reason it comes back with the problem and what was typed
    refused = client.post(f"/detection/alerts/{alert_b}/triage",
                          data={"csrf_token": csrf, "status": "false_positive", "reason": "",
                                "version": "1"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert client.post(f"/detection/alerts/{alert_b}/triage",
                       data={"csrf_token": csrf, "status": "nope"}).status_code == 422
    done = client.post(f"/detection/alerts/{alert_b}/triage",
                       data={"csrf_token": csrf, "status": "false_positive",
                             "reason": "Maintenance planifiée", "version": "1"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/detection/alerts/{alert_b}?done=triaged"
    # A stale version is a conflict
    stale = client.post(f"/detection/alerts/{alert_b}/triage",
                        data={"csrf_token": csrf, "status": "open", "version": "1"})
    assert stale.status_code == 409
    # The case button opens a CSIRT case
    opened = client.post(f"/detection/alerts/{alert_b}/case", data={"csrf_token": csrf},
                         follow_redirects=False)
    assert opened.status_code == 303
    again = client.get(opened.headers["location"])
    assert "/csirt/cases/" in again.text
    # The suppression form: a reason is required, then A's alert is suppressed
    no_reason = client.post(f"/detection/alerts/{alert_a}/suppress",
                            data={"csrf_token": csrf, "days": "7", "suppress_reason": ""})
    assert no_reason.status_code == 422
    suppressed = client.post(f"/detection/alerts/{alert_a}/suppress",
                             data={"csrf_token": csrf, "days": "7",
                                   "suppress_reason": "Scanner de l'équipe"},
                             follow_redirects=False)
    assert suppressed.status_code == 303
    with session_factory() as session:
        alert = session.get(DetectionAlert, alert_a)
        assert alert is not None and alert.status == "suppressed"
        escalated = session.get(DetectionAlert, alert_b)
        assert escalated is not None and escalated.case_reference
    assert "Scanner de l&#39;équipe" in client.get("/detection/rules").text
    # A viewer of A may read but not change anything
    viewer = login_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=people.a))
    viewer_page = viewer.get(f"/detection/alerts/{alert_a}")
    assert viewer_page.status_code == 200
    assert viewer.post(f"/detection/alerts/{alert_a}/suppress",
                       data={"csrf_token": csrf_from(viewer_page.text), "days": "7",
                             "suppress_reason": "x"}).status_code == 403


def test_rules_and_send_logs_pages(people: People,  # noqa: F811
                                   login_as: Callable[..., TestClient]) -> None:
    client = login_as(people.focal_a)
    rules_page = client.get("/detection/rules")
    assert rules_page.status_code == 200
    assert "Windows security audit log cleared" in rules_page.text
    help_page = client.get("/detection/send-logs")
    assert help_page.status_code == 200
    assert "http://testserver/api/v1/detection/ingest" in help_page.text
    for shipper in ("[OUTPUT]", "[sinks.lakana]", "omhttp", "curl"):
        assert shipper in help_page.text


def test_correlation_alert_page_and_an_alert_of_a_rule_no_longer_loaded(
        people: People, api_as: Callable[..., TestClient],  # noqa: F811
        login_as: Callable[..., TestClient], session_factory: sessionmaker[Session]) -> None:
    # Given a brute force raised by Lakana's correlation rule (it was a 500 before the fix)
    lines = [f"Dec 10 06:55:{i * 4:02d} web01 sshd[1]: Failed password for root from "
             f"203.0.113.50 port {4000 + i} ssh2" for i in range(12)]
    assert send(api_as(people.focal_a), "\n".join(lines)).status_code == 202
    with session_factory() as session:
        alert = session.scalars(select(DetectionAlert).where(
            DetectionAlert.rule_title == "SSH brute force")).one()
        alert_id = alert.id
    client = login_as(people.analyst)
    page = client.get(f"/detection/alerts/{alert_id}")
    # Then its page shows the correlation's kind and the rules it counts
    assert page.status_code == 200, page.text[:500]
    assert "event_count" in page.text and "203.0.113.50" in page.text
    # And an alert whose rule is no longer loaded still has its page
    with session_factory.begin() as session:
        stale = session.get(DetectionAlert, alert_id)
        assert stale is not None
        stale.rule_id = "a-rule-removed-since"
    assert client.get(f"/detection/alerts/{alert_id}").status_code == 200
