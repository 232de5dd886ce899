"""The compliance figures the national strategy follows: institutions assessed, mean score."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import indicators
from lakana.compliance.campaigns.models import Assessment
from lakana.compliance.plugin import PLUGIN
from lakana.core.indicators import Measurement, Period
from tests.compliance.campaigns.conftest import ADMIN, World, make_campaign
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.compliance.scoring.conftest import rate
from tests.conftest import Factory


def _approve(session_factory: sessionmaker[Session], campaign_id: int, institution_id: int,
             when: dt.datetime, status: str = "approved") -> None:
    with session_factory.begin() as session:
        session.execute(update(Assessment).where(
            Assessment.campaign_id == campaign_id,
            Assessment.institution_id == institution_id).values(
            status=status, approved_at=when if status == "approved" else None))


@pytest.fixture
def assessed(session_factory: sessionmaker[Session], factory: Factory) -> dict[str, int]:
    """Four institutions in a 2025 campaign (every requirement weighs 2):

    * MIN (tier 1): gov-1 5, gov-2 3 → 80.0; approved 10 June 2025;
    * BODA (tier 3): gov-1 4, net-1 not implemented → 40.0; approved 20 November 2025;
    * BODB (tier 2): gov-1 5, only submitted → not assessed;
    * OTHER (tier 2): gov-1 2 → 40.0; approved 1 February 2026.
    """
    load(session_factory, catalog_doc())
    profile_id = load(session_factory, profile_doc())
    ids = {"MIN": factory.institution("MIN", criticality_tier=1),
           "BODA": factory.institution("BODA", criticality_tier=3, kind="agency"),
           "BODB": factory.institution("BODB", criticality_tier=2, kind="agency"),
           "OTHER": factory.institution("OTHER", criticality_tier=2)}
    world = World(profile_id, ids["MIN"], ids["BODA"], ids["BODB"], ids["BODA"], ids["OTHER"])
    campaign = make_campaign(session_factory, world, institution_ids=list(ids.values()),
                             year=2025)
    rate(session_factory, campaign, ids["MIN"], "gov-1", "implemented", 5)
    rate(session_factory, campaign, ids["MIN"], "gov-2", "partial", 3)
    rate(session_factory, campaign, ids["BODA"], "gov-1", "implemented", 4)
    rate(session_factory, campaign, ids["BODA"], "net-1", "not_implemented", 3)
    rate(session_factory, campaign, ids["BODB"], "gov-1", "implemented", 5)
    rate(session_factory, campaign, ids["OTHER"], "gov-1", "partial", 2)
    _approve(session_factory, campaign, ids["MIN"], dt.datetime(2025, 6, 10, tzinfo=dt.UTC))
    _approve(session_factory, campaign, ids["BODA"], dt.datetime(2025, 11, 20, tzinfo=dt.UTC))
    _approve(session_factory, campaign, ids["BODB"], dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
             status="submitted")
    _approve(session_factory, campaign, ids["OTHER"], dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    return ids


def _measure(session: Session, key: str, period: Period) -> Measurement:
    source = {s.key: s for s in PLUGIN.indicator_sources}[key]
    return source.compute(session, ADMIN, period)


def _quarter(year: int, quarter: int) -> Period:
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (dt.date(year, 3 * quarter, 28) + dt.timedelta(days=4)).replace(day=1)
    return Period(start, end - dt.timedelta(days=1))


@pytest.mark.usefixtures("assessed")
def test_assessed_share_counts_approvals_of_the_year(db: Session) -> None:
    # Given MIN and BODA approved in 2025, BODB only submitted, OTHER approved in 2026
    found = _measure(db, "compliance.assessed_share", Period.year(2025))
    # Then 2 of the 4 registered institutions were assessed in 2025
    assert found.value == 50.0
    assert found.inputs == {"numerator": 2, "denominator": 4}
    # And 2026 counts OTHER only (the 2025 approvals are outside it)
    assert _measure(db, "compliance.assessed_share", Period.year(2026)).value == 25.0


@pytest.mark.usefixtures("assessed")
def test_a_quarter_counts_the_year_so_far(db: Session) -> None:
    # Given approvals in June and November 2025
    # Then the first quarter has none (a true zero: institutions exist), the second MIN,
    # the fourth both
    assert _measure(db, "compliance.assessed_share", _quarter(2025, 1)).value == 0.0
    assert _measure(db, "compliance.assessed_share", _quarter(2025, 2)).value == 25.0
    assert _measure(db, "compliance.assessed_share", _quarter(2025, 3)).value == 25.0
    assert _measure(db, "compliance.assessed_share", _quarter(2025, 4)).value == 50.0


@pytest.mark.usefixtures("assessed")
def test_average_score_is_the_tier_weighted_mean_of_assessed_institutions(
        db: Session) -> None:
    # Given MIN (tier 1, × 3) at 80 and BODA (tier 3, × 1) at 40 approved in 2025
    found = _measure(db, "compliance.average_score", Period.year(2025))
    # Then (3 × 80 + 1 × 40) / 4 = 70; BODB (submitted) and OTHER (2026) do not count
    assert found.value == 70.0
    assert found.inputs == {"institutions_scored": 2, "institutions_assessed": 2, "answers": 4}
    # And the second quarter has MIN only; 2026 OTHER only
    assert _measure(db, "compliance.average_score", _quarter(2025, 2)).value == 80.0
    assert _measure(db, "compliance.average_score", Period.year(2026)).value == 40.0


@pytest.mark.usefixtures("assessed")
def test_no_approval_in_the_period_gives_no_score(db: Session) -> None:
    found = _measure(db, "compliance.average_score", _quarter(2025, 1))
    assert found.value is None
    assert found.reason == indicators.NO_ASSESSMENT


def test_no_institution_gives_no_value(db: Session) -> None:
    # Given an empty registry / Then neither figure has a value (never a made-up 0)
    for key in ("compliance.assessed_share", "compliance.average_score"):
        found = _measure(db, key, Period.year(2025))
        assert found.value is None
        assert found.reason == indicators.NO_INSTITUTION


def test_the_plugin_declares_the_keys() -> None:
    keys = {s.key: s for s in PLUGIN.indicator_sources}
    assert {"compliance.assessed_share", "compliance.average_score"} <= set(keys)
    assert keys["compliance.assessed_share"].unit == "%"
    assert keys["compliance.average_score"].unit == "/100"
