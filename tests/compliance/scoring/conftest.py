"""Scoring fixtures: a tiny rated campaign (reusing the campaign helpers) and the scoring
routes added to the test application until the lead wires them in the compliance plugin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.models import Requirement
from lakana.compliance.scoring import api, pages
from lakana.core.auth.deps import csrf_protect
from tests.compliance.campaigns.conftest import World, make_campaign
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.conftest import Factory


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The test application with the scoring routes (no-op once the plugin wires them)."""
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/compliance/campaigns/{campaign_id}/scores" not in paths:
        app.include_router(api.router, prefix="/api/v1", dependencies=[Depends(csrf_protect)])
        app.include_router(pages.router, dependencies=[Depends(csrf_protect)],
                           include_in_schema=False)
    return app


@dataclass
class Rated:
    """A rated campaign: MIN (tier 1) ⊃ BODA (tier 3), BODB (tier 2, unanswered); OTHER
    (tier 2)."""

    campaign_id: int
    ministry: int
    body_a: int
    body_b: int
    other: int


def rate(session_factory: sessionmaker[Session], campaign_id: int, institution_id: int,
         control_id: str, status: str, maturity: int | None = None,
         override: tuple[str, int | None] | None = None) -> None:
    """Set an answer's rating (and optionally an auditor's override) directly."""
    with session_factory.begin() as session:
        answer_id = session.scalar(
            select(Answer.id).join(Assessment, Assessment.id == Answer.assessment_id)
            .join(Requirement, Requirement.id == Answer.requirement_id)
            .where(Assessment.campaign_id == campaign_id,
                   Assessment.institution_id == institution_id,
                   Requirement.control_id == control_id))
        assert answer_id is not None
        values: dict[str, object] = {"status": status, "maturity": maturity}
        if override is not None:
            values.update(override_status=override[0], override_maturity=override[1],
                          override_reason="Preuve insuffisante")
        session.execute(update(Answer).where(Answer.id == answer_id).values(**values))


@pytest.fixture
def rated(session_factory: sessionmaker[Session], factory: Factory) -> Rated:
    """The hand-computed campaign of tests/compliance/scoring/test_service.py."""
    load(session_factory, catalog_doc())
    profile_id = load(session_factory, profile_doc())
    ministry = factory.institution("MIN", criticality_tier=1)
    body_a = factory.institution("BODA", parent_id=ministry, kind="agency", criticality_tier=3)
    body_b = factory.institution("BODB", parent_id=ministry, kind="agency", criticality_tier=2)
    other = factory.institution("OTHER", criticality_tier=2)
    world = World(profile_id, ministry, body_a, body_b, body_a, other)
    campaign_id = make_campaign(session_factory, world, institution_ids=[other],
                                subtree_ids=[ministry])
    with session_factory.begin() as session:
        session.execute(update(Requirement).where(Requirement.control_id == "net-1")
                        .values(weight=1))
    # MIN: 5, partial 2 overridden to not implemented (0), N/A, net-1 unanswered.
    rate(session_factory, campaign_id, ministry, "gov-1", "implemented", 5)
    rate(session_factory, campaign_id, ministry, "gov-2", "partial", 2,
         override=("not_implemented", None))
    rate(session_factory, campaign_id, ministry, "gov-3", "not_applicable")
    # BODA: 4, not implemented (counts 0 whatever its maturity), net-1 partial 3 (weight 1).
    rate(session_factory, campaign_id, body_a, "gov-1", "implemented", 4)
    rate(session_factory, campaign_id, body_a, "gov-2", "not_implemented", 3)
    rate(session_factory, campaign_id, body_a, "net-1", "partial", 3)
    # OTHER: 5.
    rate(session_factory, campaign_id, other, "gov-1", "implemented", 5)
    return Rated(campaign_id, ministry, body_a, body_b, other)
