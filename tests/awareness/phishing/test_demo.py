"""Demo data of phishing exercises."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing import demo, service
from lakana.awareness.training import demo as training_demo
from lakana.registry import demo as registry_demo
from tests.awareness.phishing.conftest import ADMIN


def test_demo_loads_one_finished_exercise_once(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's and training's demo data
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
        training_demo.load_demo(session=session, actor=ADMIN)
    # When the phishing demo loads twice
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    # Then one closed exercise exists, with realistic figures and clickers enrolled
    assert first["exercises"] == 1 and first["targets"] == len(demo.PEOPLE)
    assert second == {"exercises": 0, "targets": 0, "events": 0}
    with session_factory() as session:
        (exercise,) = service.list_exercises(session=session, actor=ADMIN)
        results = service.results(session=session, actor=ADMIN, exercise_id=exercise.id)
    assert exercise.status == "closed"
    assert results.counts == {"sent": 12, "opened": 10, "clicked": 5, "submitted": 2,
                              "reported": 3}
    assert results.clickers_enrolled == 5
