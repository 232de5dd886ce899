"""Demo data of the risk register."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.risks import demo
from lakana.compliance.risks.models import Priority, Risk
from lakana.registry import demo as registry_demo
from tests.compliance.risks.conftest import ADMIN


def test_demo_loads_once(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's demo institutions
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
    # When the risk demo loads twice
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    # Then about forty risks and two priorities exist, created only the first time
    assert first == {"risks": 40, "priorities": 2}
    assert second == {"risks": 0, "priorities": 0}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Risk)) == 40
        priorities = list(session.scalars(select(Priority)))
        assert len(priorities) == 2 and all(p.risks for p in priorities)
