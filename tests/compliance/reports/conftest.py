"""Reports fixtures: two launched campaigns (2025 closed, 2026 open) and a draft one, with
hand-chosen answers, and the report routes added to the test application until the lead
wires them in the compliance plugin.

Profile requirements (weights): gov-1 (4), gov-2 (2), gov-3 (2), net-1 (2). Institutions:
MIN (ministry, tier 1) ⊃ AG1 (agency, tier 1); AG2 (agency, tier 3), AG3 and AG4 (agency,
tier 2), LONE (state company, tier 2). See test_trends.py for the hand-computed scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.models import Requirement
from lakana.compliance.remediation import service as remediation_service
from lakana.compliance.remediation.schemas import ActionCreate, ActionFromGap
from lakana.compliance.reports import api, pages
from lakana.core.auth.deps import csrf_protect
from lakana.core.auth.rbac import system_actor
from tests.compliance.campaigns.conftest import World, make_campaign
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.compliance.scoring.conftest import rate
from tests.conftest import Factory

ADMIN = system_actor("tests")


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The test application with the report routes (no-op once the plugin wires them)."""
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/compliance/trends" not in paths:
        app.include_router(api.router, prefix="/api/v1", dependencies=[Depends(csrf_protect)])
        app.include_router(pages.router, dependencies=[Depends(csrf_protect)],
                           include_in_schema=False)
    return app


@dataclass
class Reports:
    """Two rated campaigns and the institutions they assess."""

    c2025: int
    c2026: int
    draft: int
    ministry: int
    ag1: int
    ag2: int
    ag3: int
    ag4: int
    lone: int

    def assessment(self, session_factory: sessionmaker[Session], campaign_id: int,
                   institution_id: int) -> int:
        """The assessment of an institution in a campaign."""
        with session_factory() as session:
            found = session.scalar(select(Assessment.id).where(
                Assessment.campaign_id == campaign_id,
                Assessment.institution_id == institution_id))
            assert found is not None
            return found


def answer_id(session_factory: sessionmaker[Session], campaign_id: int, institution_id: int,
              control_id: str) -> int:
    """The id of an institution's answer to a control in a campaign."""
    with session_factory() as session:
        found = session.scalar(
            select(Answer.id).join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.campaign_id == campaign_id,
                   Assessment.institution_id == institution_id,
                   Requirement.control_id == control_id))
        assert found is not None
        return found


@pytest.fixture
def reports(session_factory: sessionmaker[Session], factory: Factory) -> Reports:
    """The rated campaigns described in the module's docstring."""
    load(session_factory, catalog_doc())
    profile_id = load(session_factory, profile_doc())
    with session_factory.begin() as session:
        session.execute(update(Requirement).where(Requirement.control_id == "gov-1")
                        .values(weight=4))
    ministry = factory.institution("MIN", criticality_tier=1)
    ag1 = factory.institution("AG1", parent_id=ministry, kind="agency", criticality_tier=1)
    ag2 = factory.institution("AG2", kind="agency", criticality_tier=3)
    ag3 = factory.institution("AG3", kind="agency", criticality_tier=2,
                              name="=HYPERLINK(\"http://evil.example\")")
    ag4 = factory.institution("AG4", kind="agency", criticality_tier=2)
    lone = factory.institution("LONE", kind="state_company", criticality_tier=2)
    world = World(profile_id, ministry, ag1, ag2, ag1, lone)
    c2025 = make_campaign(session_factory, world, institution_ids=[ministry, ag1, ag2],
                          year=2025)
    c2026 = make_campaign(session_factory, world,
                          institution_ids=[ministry, ag1, ag2, ag3, ag4, lone], year=2026)
    draft = make_campaign(session_factory, world, institution_ids=[ag1], year=2027,
                          launch=False)
    # 2025 — MIN: gov-1 5, net-1 partial 2. AG1: gov-1 partial 2, gov-2 not implemented.
    # AG2: gov-1 4 overridden to partial 3, net-1 not applicable.
    rate(session_factory, c2025, ministry, "gov-1", "implemented", 5)
    rate(session_factory, c2025, ministry, "net-1", "partial", 2)
    rate(session_factory, c2025, ag1, "gov-1", "partial", 2)
    rate(session_factory, c2025, ag1, "gov-2", "not_implemented", 3)
    rate(session_factory, c2025, ag2, "gov-1", "implemented", 4, override=("partial", 3))
    rate(session_factory, c2025, ag2, "net-1", "not_applicable")
    # 2026 — MIN: 5, 5, net-1 4. AG1: gov-1 4, net-1 partial 1. AG2: gov-1 partial 2.
    # AG3: gov-1 5. AG4: gov-2 partial 3. LONE: gov-1 3.
    rate(session_factory, c2026, ministry, "gov-1", "implemented", 5)
    rate(session_factory, c2026, ministry, "gov-2", "implemented", 5)
    rate(session_factory, c2026, ministry, "net-1", "implemented", 4)
    rate(session_factory, c2026, ag1, "gov-1", "implemented", 4)
    rate(session_factory, c2026, ag1, "net-1", "partial", 1)
    rate(session_factory, c2026, ag2, "gov-1", "partial", 2)
    rate(session_factory, c2026, ag3, "gov-1", "implemented", 5)
    rate(session_factory, c2026, ag4, "gov-2", "partial", 3)
    rate(session_factory, c2026, lone, "gov-1", "implemented", 3)
    with session_factory.begin() as session:
        # a comment that a spreadsheet would run as a formula
        session.execute(update(Answer).where(
            Answer.id == answer_id(session_factory, c2026, ag1, "gov-1"))
            .values(comment="=1+2"))
    with session_factory.begin() as session:
        remediation_service.create_from_gap(
            session=session, actor=ADMIN,
            answer_id=answer_id(session_factory, c2026, ag1, "net-1"),
            data=ActionFromGap(title="+Segmenter le réseau", due_date=dt.date(2020, 1, 1)))
        remediation_service.create_action(session=session, actor=ADMIN, data=ActionCreate(
            institution_id=ag2, title="Plan de continuité", control_id="gov-1"))
    with session_factory.begin() as session:
        campaign = campaign_service.get_campaign(session=session, actor=ADMIN,
                                                 campaign_id=c2025)
        campaign_service.close_campaign(session=session, actor=ADMIN, campaign_id=c2025,
                                        version=campaign.version)
    return Reports(c2025, c2026, draft, ministry, ag1, ag2, ag3, ag4, lone)
