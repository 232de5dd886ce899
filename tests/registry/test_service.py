"""Registry services: scope, hierarchy, duplicates, versions, lists and the ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.registry import service
from lakana.registry.schemas import (
    InstitutionCreate,
    InstitutionQuery,
    InstitutionUpdate,
    SystemCreate,
    SystemQuery,
    SystemUpdate,
)
from tests.conftest import Factory
from tests.registry.conftest import ADMIN, actor_of, ledger_count


def _create(db: Session, acronym: str, **fields: object) -> int:
    data = {"name": f"Institution {acronym}", "acronym": acronym, "kind": "ministry",
            "region": "bamako", "sector": "government", "criticality_tier": 2, **fields}
    inst = service.create_institution(session=db, actor=ADMIN, data=InstitutionCreate(**data))
    db.flush()
    return inst.id


def test_acronym_is_upper_cased_and_unique(db: Session) -> None:
    # Given an institution created with a lower-case acronym
    inst_id = _create(db, "mef")
    # Then its acronym is stored upper-case
    assert service.get_institution(session=db, actor=ADMIN, institution_id=inst_id).acronym \
        == "MEF"
    # When another institution takes the same acronym in another case, it is refused
    with pytest.raises(Conflict):
        _create(db, " Mef ")


def test_hierarchy_refuses_self_parent_and_cycles(db: Session) -> None:
    # Given MEF > DGI > SERVICE
    mef = _create(db, "MEF")
    dgi = _create(db, "DGI", parent_id=mef)
    svc = _create(db, "SERVICE", parent_id=dgi)
    v = service.get_institution(session=db, actor=ADMIN, institution_id=mef).version
    # When MEF is made its own parent, or a child of its grandchild, it is refused
    with pytest.raises(Conflict, match="own parent"):
        service.update_institution(session=db, actor=ADMIN, institution_id=mef,
                                   data=InstitutionUpdate(parent_id=mef, version=v))
    with pytest.raises(Conflict, match="cycle"):
        service.update_institution(session=db, actor=ADMIN, institution_id=mef,
                                   data=InstitutionUpdate(parent_id=svc, version=v))
    # Then the hierarchy is intact and readable both ways
    assert [i.acronym for i in service.ancestors(session=db, actor=ADMIN,
                                                 institution_id=svc)] == ["DGI", "MEF"]
    assert [i.acronym for i in service.children(session=db, actor=ADMIN,
                                                institution_id=mef)] == ["DGI"]


def test_unknown_parent_is_invalid(db: Session) -> None:
    # Given no institution 999, when one is created under it, it is refused
    with pytest.raises(Invalid):
        _create(db, "X", parent_id=999)


def test_stale_version_is_a_conflict(db: Session) -> None:
    # Given an institution at version 1, changed once (version 2)
    inst_id = _create(db, "MEF")
    service.update_institution(session=db, actor=ADMIN, institution_id=inst_id,
                               data=InstitutionUpdate(name="Ministère des Finances", version=1))
    db.flush()
    # When someone saves with the version they read before the change
    # Then it is refused, and the first change stays
    with pytest.raises(Conflict):
        service.update_institution(session=db, actor=ADMIN, institution_id=inst_id,
                                   data=InstitutionUpdate(name="Autre", version=1))
    inst = service.get_institution(session=db, actor=ADMIN, institution_id=inst_id)
    assert (inst.name, inst.version) == ("Ministère des Finances", 2)
    # And an update without any version is refused too
    with pytest.raises(Invalid):
        service.update_institution(session=db, actor=ADMIN, institution_id=inst_id,
                                   data=InstitutionUpdate(name="Sans version"))


def test_scope_hides_other_institutions(db: Session) -> None:
    # Given institutions A and B, each with a system
    a, b = _create(db, "AAA"), _create(db, "BBB")
    sys_b = service.create_system(session=db, actor=ADMIN, data=SystemCreate(
        name="Paie", institution_id=b, criticality="high", data_classification="internal",
        hosting="own_premises")).id
    service.create_system(session=db, actor=ADMIN, data=SystemCreate(
        name="Paie", institution_id=a, criticality="high", data_classification="internal",
        hosting="own_premises"))
    db.flush()
    focal = actor_of(Role.FOCAL_POINT, a)
    # When A's focal point looks at B or B's system, it does not exist for them
    with pytest.raises(NotFound):
        service.get_institution(session=db, actor=focal, institution_id=b)
    with pytest.raises(NotFound):
        service.get_system(session=db, actor=focal, system_id=sys_b)
    with pytest.raises(NotFound):
        service.update_system(session=db, actor=focal, system_id=sys_b,
                              data=SystemUpdate(name="XY", version=1))
    # And may not create a system for B nor move one there
    with pytest.raises(NotFound):
        service.create_system(session=db, actor=focal, data=SystemCreate(
            name="Intrus", institution_id=b, criticality="low",
            data_classification="public", hosting="own_premises"))
    # Then lists show only A
    rows, total = service.list_institutions(session=db, actor=focal)
    assert [r.acronym for r in rows] == ["AAA"] and total == 1
    systems, _ = service.list_systems(session=db, actor=focal)
    assert {s.institution_id for s in systems} == {a}
    assert service.dashboard_counts(session=db, actor=focal)["systems"] == 1
    # And an auditor reads everything but may not write
    auditor = actor_of(Role.AUDITOR)
    assert service.list_institutions(session=db, actor=auditor)[1] == 2
    with pytest.raises(Forbidden):
        service.update_system(session=db, actor=auditor, system_id=sys_b,
                              data=SystemUpdate(name="XY", version=1))


def test_focal_point_edits_own_but_not_agency_fields(db: Session) -> None:
    # Given A's focal point and viewer
    a = _create(db, "AAA")
    focal, viewer = actor_of(Role.FOCAL_POINT, a), actor_of(Role.INSTITUTION_VIEWER, a)
    # When the focal point changes the description and contacts, it works
    inst = service.update_institution(session=db, actor=focal, institution_id=a,
                                      data=InstitutionUpdate(description="Nouvelle", contacts=[
                                          {"full_name": "Awa Traoré", "email":
                                           "awa@example.ml"}], version=1))
    assert inst.contacts[0].full_name == "Awa Traoré"
    # But the criticality tier is the agency's call, and the viewer may not write at all
    with pytest.raises(Forbidden):
        service.update_institution(session=db, actor=focal, institution_id=a,
                                   data=InstitutionUpdate(criticality_tier=3, version=2))
    with pytest.raises(Forbidden):
        service.update_institution(session=db, actor=viewer, institution_id=a,
                                   data=InstitutionUpdate(description="x", version=2))
    with pytest.raises(Forbidden):
        service.create_institution(session=db, actor=focal, data=InstitutionCreate(
            name="Nouvelle", acronym="NEW", kind="agency", region="kayes", sector="health",
            criticality_tier=3))


def test_delete_refused_with_children_or_systems(db: Session) -> None:
    # Given MEF with a child, and DGI with a system
    mef = _create(db, "MEF")
    dgi = _create(db, "DGI", parent_id=mef)
    service.create_system(session=db, actor=ADMIN, data=SystemCreate(
        name="e-Impôts", institution_id=dgi, criticality="critical",
        data_classification="restricted", hosting="government_datacentre"))
    db.flush()
    # When either is deleted, it is refused
    with pytest.raises(Conflict, match="sub-institutions"):
        service.delete_institution(session=db, actor=ADMIN, institution_id=mef)
    with pytest.raises(Conflict, match="information systems"):
        service.delete_institution(session=db, actor=ADMIN, institution_id=dgi)
    # And an empty institution can be deleted
    leaf = _create(db, "LEAF")
    service.delete_institution(session=db, actor=ADMIN, institution_id=leaf)
    with pytest.raises(NotFound):
        service.get_institution(session=db, actor=ADMIN, institution_id=leaf)


def test_search_filter_sort_and_paginate(db: Session) -> None:
    # Given five institutions across regions and tiers
    for i, (acr, region, tier) in enumerate([("DGI", "bamako", 1), ("GOUV-KAYES", "kayes", 3),
                                             ("GOUV-GAO", "gao", 3), ("INPS", "bamako", 1),
                                             ("CANAM", "bamako", 2)]):
        _create(db, acr, name=f"{i} Institution {acr}", region=region, criticality_tier=tier)
    # When searching, filtering, sorting and paging
    rows, total = service.list_institutions(session=db, actor=ADMIN,
                                            query=InstitutionQuery(q="gouv"))
    assert total == 2
    rows, total = service.list_institutions(session=db, actor=ADMIN, query=InstitutionQuery(
        region="bamako", sort="-acronym", limit=2, offset=0))
    assert total == 3 and [r.acronym for r in rows] == ["INPS", "DGI"]
    rows, _ = service.list_institutions(session=db, actor=ADMIN, query=InstitutionQuery(
        region="bamako", sort="-acronym", limit=2, offset=2))
    assert [r.acronym for r in rows] == ["CANAM"]
    rows, _ = service.list_institutions(session=db, actor=ADMIN,
                                        query=InstitutionQuery(tier=3, sort="acronym"))
    assert [r.acronym for r in rows] == ["GOUV-GAO", "GOUV-KAYES"]
    # Then an unknown sort column is refused
    with pytest.raises(Invalid):
        service.list_institutions(session=db, actor=ADMIN,
                                  query=InstitutionQuery(sort="password"))


def test_system_filters_and_endpoints(db: Session) -> None:
    # Given two systems, one internet-facing with biometric data
    a = _create(db, "CTDEC")
    service.create_system(session=db, actor=ADMIN, data=SystemCreate(
        name="RAVEC", institution_id=a, criticality="critical", data_classification="secret",
        hosting="government_datacentre", personal_data=True, biometric_data=True,
        endpoints=[{"kind": "url", "value": "https://ravec.example.ml/"},
                   {"kind": "ip", "value": "192.0.2.10"}]))
    service.create_system(session=db, actor=ADMIN, data=SystemCreate(
        name="Intranet", institution_id=a, criticality="low", data_classification="internal",
        hosting="own_premises"))
    db.flush()
    # When filtering on biometric data, internet exposure, or searching an address
    assert service.list_systems(session=db, actor=ADMIN,
                                query=SystemQuery(biometric_data=True))[1] == 1
    assert service.list_systems(session=db, actor=ADMIN,
                                query=SystemQuery(internet_facing=False))[1] == 1
    found, _ = service.list_systems(session=db, actor=ADMIN, query=SystemQuery(q="192.0.2"))
    assert [s.name for s in found] == ["RAVEC"]
    ranked, _ = service.list_systems(session=db, actor=ADMIN,
                                     query=SystemQuery(sort="-criticality"))
    assert [s.name for s in ranked] == ["RAVEC", "Intranet"]
    # Then the dashboard counts them
    assert service.dashboard_counts(session=db, actor=ADMIN) == {
        "institutions": 1, "systems": 2, "internet_facing": 1, "biometric": 1}


def test_duplicate_system_name_in_one_institution(db: Session) -> None:
    # Given a system "Paie" at A
    a = _create(db, "AAA")
    data = SystemCreate(name="Paie", institution_id=a, criticality="low",
                        data_classification="internal", hosting="own_premises")
    service.create_system(session=db, actor=ADMIN, data=data)
    # When another "Paie" is registered at A, it is refused
    with pytest.raises(Conflict):
        service.create_system(session=db, actor=ADMIN, data=data)


def test_every_change_is_ledgered(db: Session, factory: Factory,
                                  make_system: Callable[..., int]) -> None:
    # Given an institution and a system created, changed and deleted
    before = ledger_count(db)
    a = factory.institution("LEDG")
    sys_id = make_system(a)
    db.expire_all()
    service.update_system(session=db, actor=ADMIN, system_id=sys_id,
                          data=SystemUpdate(criticality="critical", version=1))
    service.delete_system(session=db, actor=ADMIN, system_id=sys_id)
    db.commit()
    # Then each change wrote one ledger entry
    assert ledger_count(db) - before == 4
    for action in ("registry.institution.create", "registry.system.create",
                   "registry.system.update", "registry.system.delete"):
        assert ledger_count(db, action) == 1


def test_demo_loads_once(db: Session) -> None:
    # Given an empty registry, when the demo loads twice
    from lakana.registry.demo import load_demo

    first = load_demo(session=db, actor=ADMIN)
    db.flush()
    second = load_demo(session=db, actor=ADMIN)
    # Then about 30 institutions and 150 systems exist, loaded once
    assert 25 <= first["institutions"] <= 35 and 130 <= first["systems"] <= 170
    assert second == {"institutions": 0, "systems": 0}
    assert service.count_institutions(db, ADMIN) == first["institutions"]
    assert service.count_systems(db, ADMIN) == first["systems"]
