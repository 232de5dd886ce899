"""Risk register services: scores and levels, rules, concurrency, scope, top risks, matrix,
priorities and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from lakana.compliance.risks import service
from lakana.compliance.risks.schemas import (
    AttachRisks,
    PriorityCreate,
    RiskLevel,
    RiskQuery,
    RiskUpdate,
    level_of,
)
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.compliance.risks.conftest import ADMIN, actor_of, risk_data
from tests.conftest import Factory


@pytest.mark.parametrize(("score", "level"), [
    (1, "low"), (4, "low"), (5, "medium"), (9, "medium"), (10, "high"), (15, "high"),
    (16, "high"), (20, "critical"), (25, "critical")])
def test_levels_follow_the_documented_bands(score: int, level: str) -> None:
    # Given a score / Then its level is the documented band
    assert level_of(score) == RiskLevel(level)


def test_create_computes_and_stores_both_scores(db: Session, factory: Factory) -> None:
    # Given an institution and its focal point
    inst = factory.institution("DGI")
    focal = actor_of(Role.FOCAL_POINT, inst)
    # When the focal point records a risk 4 × 5, residual 2 × 3
    risk = service.create_risk(session=db, actor=focal, data=risk_data(inst))
    # Then both scores are stored and the author is kept
    assert (risk.inherent_score, risk.residual_score) == (20, 6)
    assert level_of(risk.inherent_score) == RiskLevel.CRITICAL
    assert risk.created_by == focal.name and risk.version == 1


def test_residual_defaults_to_inherent(db: Session, factory: Factory) -> None:
    # Given a risk sent without residual values / When created
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        factory.institution(), residual_likelihood=None, residual_impact=None))
    # Then the residual risk equals the inherent one
    assert risk.residual_score == risk.inherent_score == 20


def test_residual_may_not_exceed_inherent(db: Session, factory: Factory) -> None:
    # Given a residual 5 × 5 above an inherent 2 × 2 / When created / Then it is refused
    with pytest.raises(Invalid) as caught:
        service.create_risk(session=db, actor=ADMIN, data=risk_data(
            factory.institution(), likelihood=2, impact=2, residual_likelihood=5,
            residual_impact=5))
    assert caught.value.status == 422
    assert caught.value.errors[0]["field"] == "residual_likelihood"


def test_accepting_requires_a_justification(db: Session, factory: Factory) -> None:
    inst = factory.institution()
    # Given an accepted risk without justification / Then it is refused
    with pytest.raises(Invalid, match="justification"):
        service.create_risk(session=db, actor=ADMIN, data=risk_data(inst, treatment="accept"))
    # When a justification is given / Then it is accepted
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        inst, treatment="accept", acceptance_justification="Coût disproportionné"))
    assert risk.treatment == "accept"


def test_update_recomputes_and_checks_version(db: Session, factory: Factory) -> None:
    # Given a risk at version 1
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(factory.institution()))
    db.flush()
    # When its likelihood changes with the right version
    service.update_risk(session=db, actor=ADMIN, risk_id=risk.id,
                        data=RiskUpdate(likelihood=5, version=1))
    # Then the score follows and the version moves on
    assert (risk.inherent_score, risk.version) == (25, 2)
    # When someone sends the old version / Then 409
    with pytest.raises(Conflict):
        service.update_risk(session=db, actor=ADMIN, risk_id=risk.id,
                            data=RiskUpdate(title="Autre titre", version=1))
    # And a change without version is refused
    with pytest.raises(Invalid):
        service.update_risk(session=db, actor=ADMIN, risk_id=risk.id,
                            data=RiskUpdate(title="Autre titre"))


def test_update_cannot_raise_residual_above_inherent(db: Session, factory: Factory) -> None:
    # Given a risk 4 × 5 / When the inherent impact drops below the residual / Then 422
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        factory.institution(), residual_likelihood=4, residual_impact=5))
    db.flush()
    with pytest.raises(Invalid):
        service.update_risk(session=db, actor=ADMIN, risk_id=risk.id,
                            data=RiskUpdate(impact=1, version=risk.version))


def test_scope_hides_other_institutions(db: Session, factory: Factory) -> None:
    # Given risks of A and B, and a focal point of A
    a, b = factory.institution("AAA"), factory.institution("BBB")
    risk_a = service.create_risk(session=db, actor=ADMIN, data=risk_data(a))
    risk_b = service.create_risk(session=db, actor=ADMIN, data=risk_data(b))
    focal = actor_of(Role.FOCAL_POINT, a)
    # When they list and read / Then only A's risk exists for them
    rows, total = service.list_risks(session=db, actor=focal)
    assert [r.id for r in rows] == [risk_a.id] and total == 1
    with pytest.raises(NotFound):
        service.get_risk(session=db, actor=focal, risk_id=risk_b.id)
    with pytest.raises(NotFound):
        service.update_risk(session=db, actor=focal, risk_id=risk_b.id,
                            data=RiskUpdate(title="Piraté", version=1))
    with pytest.raises(NotFound):
        service.delete_risk(session=db, actor=focal, risk_id=risk_b.id)
    # And they cannot record a risk for B
    with pytest.raises(NotFound):
        service.create_risk(session=db, actor=focal, data=risk_data(b))


def test_viewer_reads_but_cannot_write(db: Session, factory: Factory) -> None:
    # Given a viewer of A and a risk of A
    a = factory.institution()
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(a))
    viewer = actor_of(Role.INSTITUTION_VIEWER, a)
    # Then reading works and writing is forbidden
    assert service.get_risk(session=db, actor=viewer, risk_id=risk.id).id == risk.id
    with pytest.raises(Forbidden):
        service.create_risk(session=db, actor=viewer, data=risk_data(a))


def test_filters_sort_and_pages(db: Session, factory: Factory) -> None:
    # Given three risks of different levels and treatments
    inst = factory.institution()
    low = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        inst, title="Faible", likelihood=1, impact=2, residual_likelihood=1, residual_impact=1))
    mid = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        inst, title="Moyen", likelihood=3, impact=3, residual_likelihood=3, residual_impact=2,
        treatment="transfer"))
    top = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        inst, title="Critique", likelihood=5, impact=5, residual_likelihood=4,
        residual_impact=5, status="in_treatment"))
    # When filtering and sorting / Then the lists match
    ids = lambda **kw: [r.id for r in service.list_risks(  # noqa: E731
        session=db, actor=ADMIN, query=RiskQuery(**kw))[0]]
    assert ids() == [top.id, mid.id, low.id]
    assert ids(sort="score") == [low.id, mid.id, top.id]
    assert ids(level="critical") == [top.id]
    assert ids(treatment="transfer") == [mid.id]
    assert ids(status="in_treatment") == [top.id]
    assert ids(q="faib") == [low.id]
    assert ids(institution_id=inst, limit=1, offset=1) == [mid.id]
    with pytest.raises(Invalid):
        ids(sort="nope")


def test_top_risks_order_by_residual_then_inherent(db: Session, factory: Factory) -> None:
    # Given risks of two institutions with equal residual scores and a closed one
    a, b = factory.institution("AAA"), factory.institution("BBB")
    r1 = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        a, likelihood=3, impact=4, residual_likelihood=3, residual_impact=4))
    r2 = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        b, likelihood=5, impact=5, residual_likelihood=3, residual_impact=4))
    r3 = service.create_risk(session=db, actor=ADMIN, data=risk_data(
        b, likelihood=5, impact=5, residual_likelihood=4, residual_impact=4))
    service.create_risk(session=db, actor=ADMIN, data=risk_data(
        a, likelihood=5, impact=5, residual_likelihood=5, residual_impact=5, status="closed"))
    # When the agency asks for the top risks
    top = service.top_risks(session=db, actor=actor_of(Role.AGENCY_OFFICER), limit=3)
    # Then the highest residual comes first, ties broken by inherent; closed ones are left out
    assert [r.id for r in top] == [r3.id, r2.id, r1.id]
    assert service.institution_names(session=db)[top[0].institution_id] == "BBB"
    # And a focal point of A sees only A's
    assert [r.id for r in service.top_risks(session=db, actor=actor_of(
        Role.FOCAL_POINT, a))] == [r1.id]


def test_heat_matrix_counts(db: Session, factory: Factory) -> None:
    # Given two risks at 4 × 5 (residual 2 × 3) in A and one at 1 × 1 in B
    a, b = factory.institution("AAA"), factory.institution("BBB")
    service.create_risk(session=db, actor=ADMIN, data=risk_data(a))
    service.create_risk(session=db, actor=ADMIN, data=risk_data(a))
    service.create_risk(session=db, actor=ADMIN, data=risk_data(
        b, likelihood=1, impact=1, residual_likelihood=1, residual_impact=1))
    # When counting per cell
    nation = service.heat_matrix(session=db, actor=ADMIN)
    residual_a = service.heat_matrix(session=db, actor=ADMIN, institution_id=a, residual=True)
    # Then the cells hold the counts
    assert nation[3][4] == 2 and nation[0][0] == 1 and sum(map(sum, nation)) == 3
    assert residual_a[1][2] == 2 and sum(map(sum, residual_a)) == 2


def test_priorities_from_risks_agency_only(db: Session, factory: Factory) -> None:
    # Given risks of A and B
    a, b = factory.institution("AAA"), factory.institution("BBB")
    ra = service.create_risk(session=db, actor=ADMIN, data=risk_data(a))
    rb = service.create_risk(session=db, actor=ADMIN, data=risk_data(b))
    officer, focal = actor_of(Role.AGENCY_OFFICER), actor_of(Role.FOCAL_POINT, a)
    # When a focal point tries to make a priority / Then it is forbidden
    with pytest.raises(Forbidden):
        service.create_priority(session=db, actor=focal,
                                data=PriorityCreate(title="Non", risk_ids=[ra.id]))
    # When the agency turns A's risk into a priority, then attaches B's
    priority = service.create_priority(session=db, actor=officer, data=PriorityCreate(
        title="Rançongiciels", risk_ids=[ra.id]))
    service.attach_risks(session=db, actor=officer, priority_id=priority.id,
                         data=AttachRisks(risk_ids=[rb.id, ra.id]))
    # Then both feed it, and the focal point of A sees the priority with A's risk only
    assert {r.id for r in priority.risks} == {ra.id, rb.id}
    seen = service.get_priority(session=db, actor=focal, priority_id=priority.id)
    assert [r.id for r in service.visible_risks(actor=focal, priority=seen)] == [ra.id]
    assert [p.id for p in ra.priorities] == [priority.id]
    # And unknown risks are refused
    with pytest.raises(Invalid):
        service.create_priority(session=db, actor=officer,
                                data=PriorityCreate(title="Vide", risk_ids=[999999]))


def test_csv_export_has_bom_and_scope(db: Session, factory: Factory) -> None:
    # Given risks of A and B
    a, b = factory.institution("AAA"), factory.institution("BBB")
    service.create_risk(session=db, actor=ADMIN, data=risk_data(a, title="Risque é A"))
    service.create_risk(session=db, actor=ADMIN, data=risk_data(b))
    # When A's register is exported
    text = service.export_csv(session=db, actor=ADMIN, institution_id=a)
    # Then it starts with a BOM and holds A's risk with its levels
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == 1 and rows[0]["title"] == "Risque é A"
    assert rows[0]["institution"] == "AAA" and rows[0]["inherent_level"] == "critical"
    # And a focal point of A cannot export B's
    with pytest.raises(NotFound):
        service.export_csv(session=db, actor=actor_of(Role.FOCAL_POINT, a), institution_id=b)


def test_changes_are_audited(db: Session, factory: Factory,
                             make_risk: Callable[..., int]) -> None:
    from lakana.core.audit import ledger

    # Given a new risk / When it is updated and deleted
    risk = service.create_risk(session=db, actor=ADMIN, data=risk_data(factory.institution()))
    db.flush()
    service.update_risk(session=db, actor=ADMIN, risk_id=risk.id,
                        data=RiskUpdate(owner="Moussa", version=risk.version))
    service.delete_risk(session=db, actor=ADMIN, risk_id=risk.id)
    # Then each change waits in the ledger of this transaction
    assert ledger.pending_count(db) == 3
