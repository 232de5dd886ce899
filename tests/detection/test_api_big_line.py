"""A 10 MB log line sent over HTTPS is neither refused nor stored whole: it is cut to
``MAX_LINE`` characters, flagged ``event.truncated``, and the lines around it are kept."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.detection.models import DetectionEvent
from lakana.monitoring.detection.parsers.dispatch import MAX_LINE
from lakana.monitoring.detection.schemas import MAX_BYTES
from tests.detection.test_api import People, people, send, ssh_lines  # noqa: F401


def test_a_ten_megabyte_line_is_cut_and_flagged(
        people: People, api_as: Callable[..., TestClient],  # noqa: F811
        session_factory: sessionmaker[Session]) -> None:
    api = api_as(people.focal_a)
    before, after = ssh_lines(1, user="before")[0], ssh_lines(1, user="after")[0]
    huge = "GET /" + "A" * (10_000_000 - 5)
    body = f"{before}\n{huge}\n{after}\n"
    assert len(body.encode()) < MAX_BYTES
    response = send(api, body)
    assert response.status_code == 202, response.text[:300]
    assert response.json()["stored"] == 3
    with session_factory() as session:
        events = list(session.scalars(select(DetectionEvent).order_by(DetectionEvent.id)))
    assert [e.fields.get("user.name") for e in (events[0], events[2])] == ["before", "after"]
    big = events[1].fields
    assert big["event.truncated"] is True and len(big["log.original"]) == MAX_LINE
