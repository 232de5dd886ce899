"""Skills register services: holders, certifications, staffing against the tier, the
national talent gap, scope, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.awareness.skills import service
from lakana.awareness.skills.models import Certification, RoleHolder
from lakana.awareness.skills.profiles import framework, parse_framework
from lakana.awareness.skills.schemas import (
    CertificationCreate,
    HolderCreate,
    HolderQuery,
    HolderUpdate,
)
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.awareness.skills.conftest import ADMIN, DAY, actor_of
from tests.conftest import Factory


def test_the_framework_ships_the_twelve_ecsf_profiles() -> None:
    # Given the data file shipped with the package
    fw = framework()
    # Then it holds the twelve ECSF profiles in French and English, and a staffing table in
    # which the most critical tier requires the most
    assert len(fw.profiles) == 12
    assert fw.profile("ciso") is not None and fw.profile("penetration-tester") is not None
    assert all(p.title_fr and p.title_en and p.mission_fr for p in fw.profiles)
    assert sum(fw.required(1).values()) > sum(fw.required(2).values()) \
        > sum(fw.required(3).values()) > 0


def test_a_staffing_table_naming_an_unknown_profile_is_refused() -> None:
    # Given a framework document whose staffing names a profile it does not define
    document = {"framework": "x", "framework_version": "1",
                "profiles": [{"id": "ciso", "title_fr": "a", "title_en": "b",
                              "mission_fr": "c", "mission_en": "d"}],
                "staffing": {"1": {"cto": 1}}}
    # Then it is refused with the culprit's name
    with pytest.raises(ValueError, match="cto"):
        parse_framework(document)
    document["staffing"] = {"7": {"ciso": 1}}
    with pytest.raises(ValueError, match="tier"):
        parse_framework(document)


def test_institution_staffing_counts_required_held_and_missing(
        db: Session, factory: Factory, make_holder: Callable[..., int]) -> None:
    # Given a tier-1 institution with a CISO whose certification expires in 30 days, one of
    # the two incident responders it needs, and a researcher it does not need
    inst = factory.institution("T1", criticality_tier=1)
    make_holder(inst, "ciso", certs=(("CISSP", DAY + dt.timedelta(days=30)),))
    make_holder(inst, "incident-responder", "Boubacar Sangaré",
                certs=(("GCIH", DAY - dt.timedelta(days=1)),))
    make_holder(inst, "researcher", "Ibrahim Maïga")
    # And a holder who left last year, who no longer counts
    make_holder(inst, "architect", "Seydou Dembélé", until=dt.date(2025, 6, 30))
    # When its staffing is computed
    report = service.institution_staffing(session=db, actor=ADMIN, institution_id=inst,
                                          day=DAY)
    # Then each required profile shows what is held and missing
    rows = {p.profile_id: p for p in report.profiles}
    required = framework().required(1)
    assert report.required == sum(required.values())
    assert rows["ciso"].held == 1 and rows["ciso"].missing == 0
    assert rows["ciso"].certified == 1 and rows["ciso"].expiring == 1
    assert rows["incident-responder"].held == 1 and rows["incident-responder"].missing == 1
    assert rows["incident-responder"].certified == 0 and rows["incident-responder"].expired == 1
    assert rows["architect"].held == 0 and rows["architect"].missing == 1
    # And an extra role is listed but fills no required seat
    assert rows["researcher"].required == 0 and rows["researcher"].held == 1
    assert report.filled == 2 and report.missing == report.required - 2
    assert report.coverage == 2 * 100 // report.required


def test_national_gap_sums_institutions_and_puts_the_largest_gap_first(
        db: Session, factory: Factory, make_holder: Callable[..., int]) -> None:
    # Given a fully staffed tier-3 institution and an empty tier-1 institution
    small = factory.institution("SMALL", criticality_tier=3)
    big = factory.institution("BIG", criticality_tier=1)
    for profile, count in framework().required(3).items():
        for n in range(count):
            make_holder(small, profile, f"Agent {profile} {n}")
    # When the national view is computed
    report = service.national_staffing(session=db, actor=ADMIN, day=DAY)
    # Then totals add up, and the empty critical institution comes first
    need3, need1 = sum(framework().required(3).values()), sum(framework().required(1).values())
    assert report.required == need1 + need3 and report.filled == need3
    assert report.missing == need1 and report.institutions_short == 1
    assert [r.acronym for r in report.institutions] == ["BIG", "SMALL"]
    assert report.institutions[1].coverage == 100 and report.institutions[0].coverage == 0
    ciso = next(p for p in report.profiles if p.profile_id == "ciso")
    assert ciso.required == 2 and ciso.held == 1 and ciso.missing == 1
    assert big in {r.institution_id for r in report.institutions}


def test_a_focal_point_sees_only_its_institution(db: Session, factory: Factory,
                                                make_holder: Callable[..., int]) -> None:
    # Given holders in A and B
    a, b = factory.institution("AAA"), factory.institution("BBB")
    make_holder(a)
    other = make_holder(b, name="Moussa Kanté")
    focal = actor_of(Role.FOCAL_POINT, a)
    # Then the focal point of A lists and aggregates A only, and B's holder is "not found"
    rows, total = service.list_holders(session=db, actor=focal, day=DAY)
    assert total == 1 and rows[0].institution_id == a
    assert [r.acronym for r in service.national_staffing(session=db, actor=focal,
                                                         day=DAY).institutions] == ["AAA"]
    with pytest.raises(NotFound):
        service.get_holder(session=db, actor=focal, holder_id=other)
    with pytest.raises(NotFound):
        service.institution_staffing(session=db, actor=focal, institution_id=b)
    # And a focal point cannot name someone in B
    with pytest.raises(NotFound):
        service.create_holder(session=db, actor=focal, data=HolderCreate(
            institution_id=b, profile_id="ciso", full_name="X Y", since=DAY))


def test_a_viewer_cannot_write(db: Session, factory: Factory,
                               make_holder: Callable[..., int]) -> None:
    a = factory.institution("AAA")
    holder = make_holder(a)
    viewer = actor_of(Role.INSTITUTION_VIEWER, a)
    with pytest.raises(Forbidden):
        service.update_holder(session=db, actor=viewer, holder_id=holder,
                              data=HolderUpdate(position="x", version=1))


def test_bad_input_is_refused_and_nothing_is_written(db: Session, factory: Factory) -> None:
    inst = factory.institution("AAA")
    # An unknown profile, an unknown institution
    with pytest.raises(Invalid, match="role profile"):
        service.create_holder(session=db, actor=ADMIN, data=HolderCreate(
            institution_id=inst, profile_id="wizard", full_name="Awa Traoré", since=DAY))
    with pytest.raises(Invalid, match="institution"):
        service.create_holder(session=db, actor=ADMIN, data=HolderCreate(
            institution_id=99999, profile_id="ciso", full_name="Awa Traoré", since=DAY))
    # A period that ends before it starts, a certification expiring before it was obtained
    with pytest.raises(ValidationError, match="end date"):
        HolderCreate(institution_id=inst, profile_id="ciso", full_name="Awa Traoré",
                     since=DAY, until=DAY - dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="expire after"):
        CertificationCreate(name="CISSP", obtained_on=DAY, expires_on=DAY)
    with pytest.raises(ValidationError):
        HolderCreate(institution_id=inst, profile_id="ciso", full_name="Awa", since=DAY,
                     email="not-an-address")
    db.flush()
    assert db.scalar(select(func.count()).select_from(RoleHolder)) == 0


def test_update_checks_version_and_period(db: Session, factory: Factory,
                                          make_holder: Callable[..., int]) -> None:
    holder_id = make_holder(factory.institution("AAA"))
    # A stale version is a conflict
    with pytest.raises(Conflict):
        service.update_holder(session=db, actor=ADMIN, holder_id=holder_id,
                              data=HolderUpdate(position="RSSI", version=7))
    # An end date before the (unchanged) start date is refused
    with pytest.raises(Invalid, match="end date"):
        service.update_holder(session=db, actor=ADMIN, holder_id=holder_id,
                              data=HolderUpdate(until=dt.date(2020, 1, 1), version=1))
    db.rollback()
    # A person who leaves gets an end date and disappears from the list of people in post
    service.update_holder(session=db, actor=ADMIN, holder_id=holder_id,
                          data=HolderUpdate(until=dt.date(2026, 1, 31), version=1))
    db.flush()
    assert service.list_holders(session=db, actor=ADMIN, day=DAY)[1] == 0
    assert service.list_holders(session=db, actor=ADMIN, day=DAY,
                                query=HolderQuery(include_past=True))[1] == 1


def test_certifications_are_added_and_removed_with_their_holder(
        db: Session, factory: Factory, make_holder: Callable[..., int]) -> None:
    from lakana.core.audit import ledger

    holder_id = make_holder(factory.institution("AAA"), certs=(("CISSP", None),))
    cert = service.add_certification(session=db, actor=ADMIN, holder_id=holder_id,
                                     data=CertificationCreate(name="CISM",
                                                              obtained_on=dt.date(2024, 5, 1),
                                                              expires_on=dt.date(2027, 5, 1)))
    assert service.certification_state(cert, DAY) == "valid"
    assert service.certification_state(cert, dt.date(2027, 4, 1)) == "expiring"
    assert service.certification_state(cert, dt.date(2027, 5, 2)) == "expired"
    assert service.delete_certification(session=db, actor=ADMIN,
                                        certification_id=cert.id) == holder_id
    service.delete_holder(session=db, actor=ADMIN, holder_id=holder_id, version=1)
    db.flush()
    assert db.scalar(select(func.count()).select_from(Certification)) == 0
    # Every change waits in the ledger of this transaction
    assert ledger.pending_count(db) == 3


def test_csv_export_lists_holders_and_their_certifications(
        db: Session, factory: Factory, make_holder: Callable[..., int]) -> None:
    inst = factory.institution("AAA")
    make_holder(inst, certs=(("CISSP", dt.date(2028, 1, 1)),), email="awa@example.ml")
    text = service.export_csv(session=db, actor=ADMIN, institution_id=inst, day=DAY)
    assert text.startswith("\ufeffid,institution,profile_id")
    assert "AAA,ciso" in text and "Awa Traoré,awa@example.ml" in text
    assert "CISSP (2028-01-01)" in text and ",yes," in text
