"""Search of stored events by time range and fields (host, user, source address, outcome), in
the service, the API and the page; a reversed period is a 422 in the reader's language."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.monitoring.detection import service
from lakana.monitoring.detection.schemas import EventQuery
from tests.detection import service_fixtures
from tests.detection.service_fixtures import World

world = service_fixtures.world

LINES = [
    "<38>1 2026-11-20T08:00:00Z web01 sshd 10 - - Failed password for oracle from "
    "203.0.113.9 port 4000 ssh2",
    "<38>1 2026-11-20T09:00:00Z web01 sshd 11 - - Accepted password for amadou from "
    "198.51.100.4 port 4001 ssh2",
    "<38>1 2026-11-21T10:00:00Z db02 sshd 12 - - Failed password for root from "
    "203.0.113.9 port 4002 ssh2",
]
LOGON = {"EventID": 4624, "Channel": "Security", "Hostname": "dc01.dgi.example",
         "TimeCreated": "2026-11-21T11:00:00Z", "TargetUserName": "fatou",
         "IpAddress": "198.51.100.7", "LogonType": 3,
         "SourceName": "Microsoft-Windows-Security-Auditing"}


def _ingest(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=LINES, records=[LOGON])
        # Another institution's event with the same host name: never found by A
        service.ingest(session=session, actor=world.focal_b, lines=[LINES[0]])


def _messages(session_factory: sessionmaker[Session], world: World, **query: object
              ) -> list[str]:
    with session_factory() as session:
        return sorted(e.fields.get("host.name", "") + " " + (e.fields.get("user.name") or "")
                      for e in service.search_events(session=session, actor=world.focal_a,
                                                     query=EventQuery(**query)))


def test_search_by_fields_and_time_range(world: World,
                                         session_factory: sessionmaker[Session]) -> None:
    _ingest(world, session_factory)
    assert _messages(session_factory, world, host="web01") == ["web01 amadou", "web01 oracle"]
    assert _messages(session_factory, world, user="root") == ["db02 root"]
    assert _messages(session_factory, world, source_ip="203.0.113.9") == [
        "db02 root", "web01 oracle"]
    assert _messages(session_factory, world, outcome="success") == [
        "dc01.dgi.example fatou", "web01 amadou"]
    assert _messages(session_factory, world, outcome="failure", host="db02") == ["db02 root"]
    # The event's own time, both ends included; a time without a zone is UTC
    assert _messages(session_factory, world, start=dt.datetime(2026, 11, 20, 9),
                     end=dt.datetime(2026, 11, 21, 10)) == ["db02 root", "web01 amadou"]
    assert _messages(session_factory, world, start="2026-11-21T10:30:00+00:00") == [
        "dc01.dgi.example fatou"]
    assert _messages(session_factory, world, host="nowhere") == []


def test_search_api_and_page(world: World, session_factory: sessionmaker[Session],
                             api_as: Callable[..., TestClient],
                             login_as: Callable[..., TestClient]) -> None:
    _ingest(world, session_factory)
    with session_factory() as session:
        focal = session.get(User, world.focal_a.user_id)
        assert focal is not None
    api = api_as(focal)
    found = api.get("/api/v1/detection/events",
                    params={"user": "oracle", "start": "2026-11-20T00:00:00Z",
                            "end": "2026-11-20T23:59:59Z"})
    assert found.status_code == 200, found.text
    assert [e["fields"]["user.name"] for e in found.json()] == ["oracle"]
    assert found.json()[0]["institution_id"] == world.a
    # A reversed period or an unknown outcome: 422 with a sentence, in French by default
    wrong = api.get("/api/v1/detection/events", params={"start": "2026-11-22T00:00:00Z",
                                                        "end": "2026-11-20T00:00:00Z"},
                    headers={"Accept-Language": "fr"})
    assert wrong.status_code == 422
    assert "Le début de la période doit précéder sa fin." in json.dumps(
        wrong.json(), ensure_ascii=False)
    assert api.get("/api/v1/detection/events", params={"outcome": "maybe"}).status_code == 422
    # The page has the filters and applies them
    client = login_as(focal)
    page = client.get("/detection/events", params={"host": "db02", "start": "2026-11-21T00:00"})
    assert page.status_code == 200
    for name in ("host", "user", "source_ip", "outcome", "start", "end"):
        assert f'name="{name}"' in page.text
    assert "Failed password for root" in page.text and "amadou" not in page.text
    assert 'value="2026-11-21T00:00"' in page.text
