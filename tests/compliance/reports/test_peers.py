"""Comparison of institutions of the same type (2026 campaign, see conftest.py).

Agencies scored in 2026: AG3 100.0, AG1 60.0, AG4 60.0, AG2 40.0 → ranks 1, 2, 2, 4;
median 60.0, mean 65.0, quartiles (inclusive) 55.0 and 70.0. Domain gov: AG1 80, AG2 40,
AG3 100, AG4 60 → median 70.0, mean 70.0; domain net: only AG1 (20.0).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lakana.compliance.reports import peers
from lakana.core.auth.rbac import Role
from lakana.core.errors import NotFound
from tests.compliance.conftest import actor_of
from tests.compliance.reports.conftest import ADMIN, Reports


def test_agency_sees_every_peer(reports: Reports, db: Session) -> None:
    # When the agency compares the agencies of the 2026 campaign
    result = peers.compare(session=db, actor=ADMIN, campaign_id=reports.c2026, kind="agency")
    # Then every peer is listed with its scores and competition rank
    assert [(r.acronym, r.score, r.rank) for r in result.rows] == [
        ("AG3", 100.0, 1), ("AG1", 60.0, 2), ("AG4", 60.0, 2), ("AG2", 40.0, 4)]
    assert [d.code for d in result.domains] == ["gov", "net"]
    assert next(r for r in result.rows if r.acronym == "AG1").domains == [80.0, 20.0]
    # And the group's statistics
    assert result.overall.model_dump() == {"count": 4, "median": 60.0, "mean": 65.0,
                                           "q1": 55.0, "q3": 70.0}
    gov, net = result.domain_stats
    assert (gov.count, gov.median, gov.mean) == (4, 70.0, 70.0)
    assert (net.count, net.median) == (1, 20.0)
    assert not result.anonymised and result.notice is None


def test_agency_narrows_to_one_tier(reports: Reports, db: Session) -> None:
    result = peers.compare(session=db, actor=ADMIN, campaign_id=reports.c2026, kind="agency",
                           tier=2)
    assert [r.acronym for r in result.rows] == ["AG3", "AG4"]
    same = peers.compare(session=db, actor=ADMIN, campaign_id=reports.c2026,
                         institution_id=reports.ag4, same_tier=True)
    assert same.tier == 2 and same.rank == 2 and same.group_size == 2


def test_agency_compares_every_type_by_default(reports: Reports, db: Session) -> None:
    result = peers.compare(session=db, actor=ADMIN, campaign_id=reports.c2026)
    assert result.kind is None and result.group_size == 6
    assert [r.acronym for r in result.rows][:2] == ["AG3", "MIN"]


def test_focal_point_sees_anonymised_statistics(reports: Reports, db: Session) -> None:
    # Given a focal point of AG1
    focal = actor_of(Role.FOCAL_POINT, reports.ag1)
    # When it compares its institution
    result = peers.compare(session=db, actor=focal, campaign_id=reports.c2026)
    # Then it sees its own scores and rank against the group's statistics, no other row
    assert result.anonymised and result.rows == []
    assert result.own is not None and result.own.acronym == "AG1"
    assert (result.rank, result.group_size) == (2, 4)
    assert result.overall.median == 60.0 and result.overall.q3 == 70.0
    gov, net = result.domain_stats
    assert (gov.own, gov.median) == (80.0, 70.0)
    # And a domain scored by too few others shows only its count
    assert (net.own, net.count, net.median, net.mean) == (20.0, 1, None, None)
    dumped = result.model_dump_json()
    for other in ("AG2", "AG3", "AG4", "HYPERLINK"):
        assert other not in dumped
    assert peers.ordinal(2, "fr") == "2e" and peers.ordinal(1, "fr") == "1er"
    assert peers.ordinal(3, "en") == "3rd" and peers.ordinal(11, "en") == "11th"


def test_fewer_than_three_peers_withholds_statistics(reports: Reports, db: Session) -> None:
    # Given the only state company (no peer of its type)
    focal = actor_of(Role.FOCAL_POINT, reports.lone)
    result = peers.compare(session=db, actor=focal, campaign_id=reports.c2026)
    # Then no statistic nor rank is shown, and the notice says why
    assert result.notice is not None and "3" in result.notice
    assert result.overall.median is None and result.domain_stats == []
    assert result.rank is None and result.own is not None and result.own.rank is None
    # The same holds for an agency in a tier-2-only comparison (one other peer)
    tier = peers.compare(session=db, actor=actor_of(Role.FOCAL_POINT, reports.ag4),
                         campaign_id=reports.c2026, same_tier=True)
    assert tier.notice is not None and tier.overall.mean is None


def test_focal_point_cannot_compare_another_institution(reports: Reports, db: Session) -> None:
    focal = actor_of(Role.FOCAL_POINT, reports.ag1)
    with pytest.raises(NotFound):
        peers.compare(session=db, actor=focal, campaign_id=reports.c2026,
                      institution_id=reports.ag2)
    # nor a campaign it is not assessed in
    outsider = actor_of(Role.FOCAL_POINT, reports.ag3)
    with pytest.raises(NotFound):
        peers.compare(session=db, actor=outsider, campaign_id=reports.c2025)
