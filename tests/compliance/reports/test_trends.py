"""Trends across campaigns, hand-computed from the scoring rules (see conftest.py).

Points of an answer: effective maturity (override wins), 0 when not implemented; N/A and
unanswered excluded; weighted by requirement (gov-1 4, others 2), out of 5 × weight.

2025 (closed): MIN (20 + 4) / (20 + 10) = 80.0 · AG1 (8 + 0) / (20 + 10) = 26.7 ·
AG2 12 / 20 = 60.0. National, tier-weighted (tier 1 × 3, 2 × 2, 3 × 1):
(3×80 + 3×26.7 + 1×60) / 7 = 54.3. Domains: gov (20 + 8 + 12) / (20 + 30 + 20) = 57.1;
net 4 / 10 = 40.0.

2026 (open): MIN 38/40 = 95.0 · AG1 18/30 = 60.0 · AG2 8/20 = 40.0 · AG3 20/20 = 100.0 ·
AG4 6/10 = 60.0 · LONE 12/20 = 60.0. National (3×95 + 3×60 + 40 + 2×100 + 2×60 + 2×60) / 13
= 72.7. Domains: gov 92/120 = 76.7; net (8 + 2) / 20 = 50.0.

The draft 2027 campaign does not count.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lakana.compliance.reports import trends
from lakana.compliance.scoring import service as scoring
from lakana.core.auth.rbac import Role
from lakana.core.errors import NotFound
from tests.compliance.conftest import actor_of
from tests.compliance.reports.conftest import ADMIN, Reports


def _scores(points: list[trends.TrendPoint]) -> list[float | None]:
    return [p.score for p in points]


def test_national_and_domain_trends(reports: Reports, db: Session) -> None:
    # Given two launched campaigns and a draft one, when the agency reads the trends
    result = trends.trends(session=db, actor=ADMIN)
    # Then the launched campaigns are in year order, the draft left out
    assert [c.campaign_id for c in result.campaigns] == [reports.c2025, reports.c2026]
    assert [c.status for c in result.campaigns] == ["closed", "open"]
    # And the national figure is the tier-weighted mean of each campaign
    assert _scores(result.national) == [54.3, 72.7]
    assert [p.answers for p in result.national] == [5, 9]
    assert [p.campaign_id for p in result.national] == [reports.c2025, reports.c2026]
    # And each domain pools its answers weighted by requirement
    domains = {d.code: _scores(d.points) for d in result.domains}
    assert domains == {"gov": [57.1, 76.7], "net": [40.0, 50.0]}
    assert result.institution is None


def test_institution_trend(reports: Reports, db: Session) -> None:
    # When the agency asks for AG1's series
    result = trends.trends(session=db, actor=ADMIN, institution_id=reports.ag1)
    assert result.institution is not None
    # Then its overall and per-domain scores follow the campaigns
    assert _scores(result.institution.overall) == [26.7, 60.0]
    assert {d.code: _scores(d.points) for d in result.institution.domains} == {
        "gov": [26.7, 80.0], "net": [None, 20.0]}


def test_trends_match_the_campaign_scores(reports: Reports, db: Session) -> None:
    # The trend points never drift from the campaign scores themselves
    result = trends.trends(session=db, actor=ADMIN)
    for point in result.national:
        assert point.score == scoring.scores(session=db, actor=ADMIN,
                                             campaign_id=point.campaign_id).national.score


def test_focal_point_sees_only_its_series(reports: Reports, db: Session) -> None:
    # Given a focal point of AG2 (assessed in both campaigns)
    focal = actor_of(Role.FOCAL_POINT, reports.ag2)
    result = trends.trends(session=db, actor=focal)
    # Then it gets its own series, and no national or domain figure
    assert result.national == [] and result.domains == []
    assert result.institution is not None and result.institution.acronym == "AG2"
    assert _scores(result.institution.overall) == [60.0, 40.0]
    # And another institution's series is not found
    with pytest.raises(NotFound):
        trends.trends(session=db, actor=focal, institution_id=reports.ag1)


def test_chart_geometry(reports: Reports, db: Session) -> None:
    result = trends.trends(session=db, actor=ADMIN)
    chart = trends.chart(result.national, result.campaigns, width=236, height=128)
    # Two slots of 94 units from x = 36; y = 100 - 90 × score / 100
    assert [(d.x, d.y) for d in chart.dots] == [(83.0, 51.1), (177.0, 34.6)]
    assert chart.polyline == "83.0,51.1 177.0,34.6"
    assert [t[1] for t in chart.ticks] == ["2025", "2026"]
