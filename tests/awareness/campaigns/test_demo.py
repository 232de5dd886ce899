"""Demo data of campaigns."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.campaigns import demo, service
from lakana.registry import demo as registry_demo
from tests.awareness.campaigns.conftest import ADMIN


def test_demo_loads_once_with_reach_and_outcomes(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    assert first == {"campaigns": len(demo.CAMPAIGNS),
                     "reach": sum(len(c.reach) for c in demo.CAMPAIGNS),
                     "outcomes": sum(len(c.outcomes) for c in demo.CAMPAIGNS)}
    assert second == {"campaigns": 0, "reach": 0, "outcomes": 0}
    with session_factory() as session:
        found = {c.title: c for c in service.list_campaigns(session=session, actor=ADMIN)}
        month = found["Mois de la cybersécurité — octobre"]
        summary = service.reach_summary(session=session, actor=ADMIN, campaign_id=month.id)
        assert summary.people_reached == 1_410_000 and summary.progress == 70
        sms = found["Arnaques par SMS et Mobile Money — radios de proximité"]
        assert "bm" in sms.languages and sms.lead_institution_id is not None
        assert service.count_running(session, ADMIN) == 1
