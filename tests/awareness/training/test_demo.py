"""Demo data of training."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.training import certificates, demo, service
from lakana.awareness.training.models import Course, TrainingCertificate
from lakana.registry import demo as registry_demo
from tests.awareness.training.conftest import ADMIN


def test_demo_loads_once_with_completions_and_certificates(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    completed = sum(1 for r in demo.RESULTS if r[3] == "completed")
    assert first == {"courses": len(demo.COURSES), "trainees": len(demo.TRAINEES),
                     "enrolments": len(demo.RESULTS), "certificates": completed}
    assert second == {"courses": 0, "trainees": 0, "enrolments": 0, "certificates": 0}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Course)) == len(demo.COURSES)
        codes = session.scalars(select(TrainingCertificate.code)).all()
        assert len(codes) == completed
        assert certificates.verify(session=session, code=codes[0]).revoked is False
        table = service.completion_table(session=session, actor=ADMIN)
    rows = {r.acronym: r for r in table.institutions}
    assert rows["MEF"].people_trained == 2 and rows["MEF"].failed == 1
    assert rows["AGETIC"].completion_rate == 100
    assert table.total.no_show == 2
