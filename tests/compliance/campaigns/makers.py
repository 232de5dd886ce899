"""Objects of a given institution for tests/core/test_route_permissions.py's OBJECT_MAKERS."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.schemas import CampaignCreate
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.conftest import Factory


def make_campaign(factory: Factory, institution_id: int) -> int:
    """An open campaign targeting only ``institution_id``."""
    load(factory.session_factory, catalog_doc())
    profile_id = load(factory.session_factory, profile_doc())
    actor = system_actor("tests")
    with factory.session_factory.begin() as session:
        campaign = service.create_campaign(session=session, actor=actor, data=CampaignCreate(
            name="Campagne", year=2026, profile_id=profile_id, deadline=dt.date(2026, 12, 31),
            institution_ids=[institution_id]))
        service.launch_campaign(session=session, actor=actor, campaign_id=campaign.id,
                                version=campaign.version)
        return campaign.id


def make_assessment(factory: Factory, institution_id: int) -> int:
    """The assessment of ``institution_id`` in a fresh campaign."""
    campaign_id = make_campaign(factory, institution_id)
    with factory.session_factory() as session:
        found = session.scalar(select(Assessment.id).where(Assessment.campaign_id == campaign_id))
        assert found is not None
        return found


def make_answer(factory: Factory, institution_id: int) -> int:
    """The first answer of an assessment of ``institution_id``."""
    assessment_id = make_assessment(factory, institution_id)
    with factory.session_factory() as session:
        found = session.scalar(select(Answer.id).where(Answer.assessment_id == assessment_id)
                               .order_by(Answer.position))
        assert found is not None
        return found


def make_evidence(factory: Factory, institution_id: int, settings: Settings) -> int:
    """An evidence file (stored under ``settings.files_dir``) of an answer of the institution."""
    answer_id = make_answer(factory, institution_id)
    with factory.session_factory.begin() as session:
        link = answer_service.add_evidence(
            session=session, actor=system_actor("tests"), settings=settings,
            answer_id=answer_id, data=b"%PDF-1.4 preuve", name="preuve.pdf")
        return link.id
