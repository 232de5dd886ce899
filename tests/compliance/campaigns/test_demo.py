"""The demo campaign loads after the registry and the catalogs, and only once."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import demo as catalog_demo
from lakana.compliance.campaigns import demo, service
from lakana.registry import demo as registry_demo
from tests.compliance.campaigns.conftest import ADMIN


def test_demo_campaign_is_idempotent(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's and the catalogs' demo data
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
        catalog_demo.load_demo(session=session, actor=ADMIN)
    # When the campaign demo step runs twice
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    # Then one open campaign targets about ten institutions, some partly answered
    assert first["campaigns"] == 1 and first["answers"] > 0
    assert second == {"campaigns": 0, "answers": 0}
    with session_factory() as session:
        (campaign,) = service.list_campaigns(session=session, actor=ADMIN)
        assert campaign.status == "open" and 8 <= len(campaign.targets) <= 12
        found = service.list_assessments(session=session, actor=ADMIN, campaign_id=campaign.id)
        counts = service.progress(session=session, assessment_ids=[a.id for a in found])
        assert sum(1 for done, _total in counts.values() if done) == len(demo.FILLED)
        assert {a.status for a in found} == {"draft", "submitted"}
