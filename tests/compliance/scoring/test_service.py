"""Hand-computed scores of a tiny campaign (see conftest.py's ``rated`` fixture).

Weights: gov-* 2, net-1 1. MIN (tier 1): gov-1 5, gov-2 overridden to not implemented (0),
gov-3 N/A, net-1 unanswered → 10/20 = 50.0 from 2 answers. BODA (tier 3): gov-1 4, gov-2 not
implemented (0), net-1 3 → (8+0+3)/25 = 44.0 from 3. OTHER (tier 2): 100.0 from 1.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakana.compliance.scoring import service
from lakana.core.auth.rbac import Role
from lakana.core.errors import NotFound
from tests.compliance.campaigns.conftest import ADMIN
from tests.compliance.conftest import actor_of
from tests.compliance.scoring.conftest import Rated


def test_scores_follow_the_rules(rated: Rated, db: Session) -> None:
    # Given the rated campaign, when the agency reads its scores
    result = service.scores(session=db, actor=ADMIN, campaign_id=rated.campaign_id)
    # Then each institution is weighted by requirement (override wins, N/A excluded)
    inst = {f.acronym: (f.score, f.answers) for f in result.institutions}
    assert inst == {"MIN": (50.0, 2), "BODA": (44.0, 3), "OTHER": (100.0, 1)}
    # And the ministry is the tier-weighted mean of its bodies: (3×50 + 1×44) / 4
    assert {f.acronym: (f.score, f.answers) for f in result.ministries} == {
        "MIN": (48.5, 5), "OTHER": (100.0, 1)}
    # And the nation too: (3×50 + 1×44 + 2×100) / 6
    assert (result.national.score, result.national.answers) == (65.7, 6)
    # And domains and CSF functions pool the answers weighted by requirement
    assert {d.code: (d.score, d.answers) for d in result.domains} == {
        "gov": (56.0, 5), "net": (60.0, 1)}
    csf = {c.function: (c.score, c.answers) for c in result.csf_functions}
    assert csf["GV"] == (56.0, 5) and csf["PR"] == (60.0, 1) and csf["DE"] == (None, 0)
    assert [c.function for c in result.csf_functions][:6] == list(service.CSF_FUNCTIONS)
    reqs = {r.control_id: (r.score, r.answers) for r in result.requirements}
    assert reqs == {"gov-1": (93.3, 3), "gov-2": (0.0, 2), "net-1": (60.0, 1)}


def test_heatmap_matrix(rated: Rated, db: Session) -> None:
    # When the agency reads the heatmap
    heat = service.heatmap(session=db, actor=ADMIN, campaign_id=rated.campaign_id)
    # Then rows are the scored institutions, columns the domains, cells link to assessments
    assert [d.code for d in heat.domains] == ["gov", "net"]
    rows = {r.acronym: r for r in heat.rows}
    assert set(rows) == {"MIN", "BODA", "OTHER"}
    gov, net = rows["MIN"].cells
    assert gov is not None and (gov.score, gov.answers) == (50.0, 2) and net is None
    boda_gov, boda_net = rows["BODA"].cells
    assert boda_gov is not None and boda_gov.score == 40.0
    assert boda_net is not None and boda_net.score == 60.0
    assert boda_gov.assessment_id == boda_net.assessment_id
    assert heat.national.score == 65.7


def test_focal_point_sees_only_its_institution(rated: Rated, db: Session) -> None:
    # Given a focal point of BODA
    focal = actor_of(Role.FOCAL_POINT, rated.body_a)
    # Then the heatmap has one row, and the national figure covers only what it sees
    heat = service.heatmap(session=db, actor=focal, campaign_id=rated.campaign_id)
    assert [r.acronym for r in heat.rows] == ["BODA"]
    assert heat.national.score == 44.0
    # And an institution outside the campaign does not see it at all
    outsider = actor_of(Role.FOCAL_POINT, rated.body_b + 1000)
    try:
        service.heatmap(session=db, actor=outsider, campaign_id=rated.campaign_id)
    except NotFound:
        pass
    else:  # pragma: no cover
        raise AssertionError("an outsider saw the campaign")


def test_band() -> None:
    assert [service.band(s) for s in (None, 0, 39.9, 40, 69.9, 70, 100)] == [
        "", "bad", "bad", "medium", "medium", "ok", "ok"]
