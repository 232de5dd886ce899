"""Demo data of the skills register."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.skills import demo, service
from lakana.awareness.skills.models import Certification, RoleHolder
from lakana.registry import demo as registry_demo
from tests.awareness.skills.conftest import ADMIN


def test_demo_loads_once_and_shows_gaps_and_renewals(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    assert first == {"holders": len(demo.PEOPLE),
                     "certifications": sum(1 for p in demo.PEOPLE if p[5])}
    assert second == {"holders": 0, "certifications": 0}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(RoleHolder)) == len(demo.PEOPLE)
        assert session.scalar(select(func.count()).select_from(Certification)) == \
            first["certifications"]
        report = service.national_staffing(session=session, actor=ADMIN)
    # The agency itself is fully staffed; most institutions are short; some certifications
    # are expiring and some expired
    anssi = next(r for r in report.institutions if r.acronym == "ANSSI-ML")
    assert anssi.coverage == 100
    assert report.institutions_short > 10
    assert sum(p.expiring for p in report.profiles) >= 2
    assert sum(p.expired for p in report.profiles) >= 2
