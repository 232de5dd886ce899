"""Importing the results of an exercise run with GoPhish: its results CSV, its JSON list of
results, its campaign JSON with a timeline; bad files refused whole, naming the line."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing import service
from lakana.core.errors import Invalid
from tests.awareness.phishing.conftest import ADMIN
from tests.conftest import Factory

CSV = """id,status,ip,latitude,longitude,send_date,reported,modified_date,email,first_name,last_name,position
a1,Email Sent,,0,0,2026-03-02T08:00:00Z,false,2026-03-02T08:00:00Z,awa@mef.example.ml,Awa,Traoré,Budget
a2,Email Opened,10.0.0.2,0,0,2026-03-02T08:00:00Z,true,2026-03-02T08:10:00Z,moussa@mef.example.ml,Moussa,Keïta,Trésor
a3,Clicked Link,10.0.0.3,0,0,2026-03-02T08:00:00Z,false,2026-03-02T09:00:00Z,fanta@mef.example.ml,Fanta,Diallo,Budget
a4,Submitted Data,10.0.0.4,0,0,2026-03-02T08:00:00Z,false,2026-03-02T09:30:00Z,ibrahim@mef.example.ml,Ibrahim,Sidibé,Cabinet
a5,Error,,0,0,0001-01-01T00:00:00Z,false,2026-03-02T08:00:00Z,kadi@mef.example.ml,Kadi,Sangaré,Cabinet
"""  # noqa: E501


def _import(session_factory: sessionmaker[Session], exercise: int, data: bytes) -> None:
    with session_factory.begin() as session:
        service.import_gophish(session=session, actor=ADMIN, exercise_id=exercise, data=data)


def _counts(session_factory: sessionmaker[Session], exercise: int) -> dict[str, int]:
    with session_factory() as session:
        return service.results(session=session, actor=ADMIN, exercise_id=exercise).counts


def test_gophish_csv_export(session_factory: sessionmaker[Session], factory: Factory,
                            make_exercise: Callable[..., int]) -> None:
    # Given an exercise (no targets yet) run outside Lakana with GoPhish
    exercise = make_exercise(factory.institution("MEF"), targets=b"")
    # When its results CSV is imported, twice
    _import(session_factory, exercise, CSV.encode())
    _import(session_factory, exercise, CSV.encode())
    # Then people and events are counted once, implied events included
    assert _counts(session_factory, exercise) == {
        "sent": 4, "opened": 3, "clicked": 2, "submitted": 1, "reported": 1}
    with session_factory() as session:
        results = service.results(session=session, actor=ADMIN, exercise_id=exercise)
    assert results.targets == 5
    # And the two who clicked are enrolled in the follow-up course
    assert results.clickers_enrolled == 2


def test_gophish_json_exports(session_factory: sessionmaker[Session], factory: Factory,
                              make_exercise: Callable[..., int]) -> None:
    # Given two exercises
    first = make_exercise(factory.institution("MEF"), targets=b"")
    second = make_exercise(factory.institution("DGI"), targets=b"")
    listed = [{"id": "x", "email": "awa@mef.example.ml", "first_name": "Awa",
               "last_name": "Traoré", "position": "", "status": "Clicked Link",
               "send_date": "2026-03-02T08:00:00Z", "modified_date": "2026-03-02T09:00:00Z",
               "reported": False}]
    campaign = {"id": 4, "name": "Colis", "results": [
        {"email": "moussa@dgi.example.ml", "status": "Email Sent", "reported": True,
         "send_date": "2026-03-02T08:00:00+00:00"}],
        "timeline": [{"email": "moussa@dgi.example.ml", "message": "Email Opened",
                      "time": "2026-03-02T08:05:00Z"},
                     {"email": "moussa@dgi.example.ml", "message": "Email Reported",
                      "time": "2026-03-02T08:06:00Z"},
                     {"email": "", "message": "Campaign Created", "time": "2026-03-01"}]}
    # When a list of results and a campaign with its timeline are imported
    _import(session_factory, first, json.dumps(listed).encode())
    _import(session_factory, second, json.dumps(campaign).encode())
    # Then the events are recorded (the timeline adds the opening)
    assert _counts(session_factory, first) == {
        "sent": 1, "opened": 1, "clicked": 1, "submitted": 0, "reported": 0}
    assert _counts(session_factory, second) == {
        "sent": 1, "opened": 1, "clicked": 0, "submitted": 0, "reported": 1}


@pytest.mark.parametrize(("data", "line"), [
    (b'[{"email": "awa@mef.example.ml", "status": "Email Sent"},\n {"email": "x"', 2),
    (b'[{"email": "awa@mef.example.ml", "status": "Email Sent"},\n'
     b' {"email": "pas-une-adresse", "status": "Email Sent"}]', 2),
    (b'{"name": "campagne sans resultats"}', 1),
    (CSV.replace("Clicked Link", "Teleported").encode(), 4),
    (b"id,first_name\n1,Awa\n", 1),
    ("email,status\nawa@mef.example.ml,Email Sent\n".encode("utf-16"), 1),
])
def test_bad_gophish_files_are_refused_with_the_line(
        session_factory: sessionmaker[Session], factory: Factory,
        make_exercise: Callable[..., int], data: bytes, line: int) -> None:
    # Given an exercise
    exercise = make_exercise(factory.institution("MEF"), targets=b"")
    # When a bad export is imported, then it is refused with its line, and nothing is saved
    with pytest.raises(Invalid) as refused:
        _import(session_factory, exercise, data)
    assert refused.value.params["line"] == line, refused.value.params
    assert _counts(session_factory, exercise)["sent"] == 0
