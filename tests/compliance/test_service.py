"""Compliance services: immutable versions, requirement queries, profile resolution."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import demo, service
from lakana.compliance.models import CatalogVersion, Requirement
from lakana.compliance.schemas import RequirementQuery
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid
from tests.compliance.conftest import ADMIN, actor_of, catalog_doc, changed, load, profile_doc
from tests.registry.conftest import ledger_count


def test_import_is_ledgered_and_idempotent(session_factory: sessionmaker[Session],
                                           db: Session) -> None:
    # Given a catalog imported once
    first = load(session_factory, catalog_doc())
    # When the same content is imported again
    with session_factory.begin() as session:
        again, created = service.import_catalog(session=session, actor=ADMIN,
                                                content=catalog_doc())
    # Then nothing new is created and one import is ledgered
    assert again.id == first and not created
    assert ledger_count(db, "compliance.catalog.import") == 1


def test_same_version_with_other_content_is_a_conflict(session_factory: sessionmaker[Session],
                                                       db: Session) -> None:
    # Given an imported version
    version_id = load(session_factory, catalog_doc())
    # When the same version comes back with another statement
    with session_factory() as session, pytest.raises(Conflict):
        service.import_catalog(session=session, actor=ADMIN, content=changed(catalog_doc()))
    # Then the stored version is unchanged
    stored = db.scalar(select(Requirement).where(Requirement.catalog_version_id == version_id,
                                                 Requirement.control_id == "gov-1"))
    assert stored is not None and stored.statement_fr.endswith("(énoncé).")
    assert db.scalar(select(func.count()).select_from(CatalogVersion)) == 1


def test_new_version_leaves_the_old_one_intact(session_factory: sessionmaker[Session],
                                               db: Session) -> None:
    # Given version 2026.1, then a changed 2026.2
    old = load(session_factory, catalog_doc())
    new_doc = changed(catalog_doc(version="2026.2"))
    new = load(session_factory, new_doc)
    # Then both exist, the old one with its own text and source
    assert old != new
    with session_factory() as session:
        assert service.export_catalog(session=session, actor=ADMIN,
                                      catalog_version_id=old) == catalog_doc()
        assert service.export_catalog(session=session, actor=ADMIN,
                                      catalog_version_id=new) == new_doc
        latest = service.latest_version(session=session, actor=ADMIN, catalog_id="ml-test")
        assert latest is not None and latest.id == new


def test_requirement_filters(session_factory: sessionmaker[Session], version_id: int) -> None:
    # Given the small catalog
    with session_factory() as session:
        def ids(**query: object) -> list[str]:
            rows, _total = service.list_requirements(
                session=session, actor=ADMIN, catalog_version_id=version_id,
                query=RequirementQuery.model_validate(query))
            return [r.control_id for r in rows]

        # Then domain, tier, kind, text and mapping filters select what they should
        assert ids() == ["gov-1", "gov-2", "gov-3", "net-1", "net-2"]
        assert ids(domain="net") == ["net-1", "net-2"]
        assert ids(tier=1) == ["gov-1", "gov-2", "gov-3", "net-1"]
        assert ids(kind="legal") == ["gov-3"]
        assert ids(q="SÉCURITÉ net-1") == []
        assert ids(q="Titre NET-2") == ["net-2"]
        assert ids(ref="a.8") == ["net-1", "net-2"]
        assert ids(ref="GV") == ["gov-1", "gov-2", "gov-3"]


def test_focal_point_reads_but_cannot_import(session_factory: sessionmaker[Session],
                                             version_id: int) -> None:
    # Given a focal point
    focal = actor_of(Role.FOCAL_POINT, institution_id=1)
    with session_factory() as session:
        # Then they read the national baseline
        assert service.get_catalog_version(session=session, actor=focal,
                                           catalog_version_id=version_id).version == "2026.1"
        # But may not import
        with pytest.raises(Forbidden):
            service.import_catalog(session=session, actor=focal,
                                   content=catalog_doc(version="9"))


def test_profile_include_and_exclude(session_factory: sessionmaker[Session],
                                     version_id: int) -> None:
    # Given a second catalog and a profile taking all of ml-test but net-2, plus one extra
    load(session_factory, catalog_doc("ml-extra", "1", {"ext": ["ext-1", "ext-2"]}))
    doc = profile_doc("critical", imports=[
        {"href": "ml-test@2026.1", "include-all": {},
         "exclude-controls": [{"with-ids": ["net-2"]}]},
        {"href": "ml-extra@1", "include-controls": [{"with-ids": ["ext-2"]}]}])
    profile_id = load(session_factory, doc)
    with session_factory() as session:
        rows, total = service.list_profile_requirements(session=session, actor=ADMIN,
                                                        profile_id=profile_id)
        # Then the resolved set is in import order
        assert [r.control_id for r in rows] == ["gov-1", "gov-2", "gov-3", "net-1", "ext-2"]
        # And the difference from the baseline is reported
        added, dropped = service.profile_diff(session=session, actor=ADMIN,
                                              profile_id=profile_id)
        assert added == ["ml-extra@1:ext-2"] and dropped == ["net-2"]
        # And the resolved catalog holds those controls
        resolved = service.export_profile(session=session, actor=ADMIN, profile_id=profile_id,
                                          resolved=True)
        assert [g["id"] for g in resolved["catalog"]["groups"]] == ["gov", "net", "ext"]


@pytest.mark.parametrize(("imports", "path"), [
    ([{"href": "ml-test@9.9", "include-all": {}}], "$.profile.imports[0].href"),
    ([{"href": "ml-test@2026.1", "include-controls": [{"with-ids": ["gov-1", "nope"]}]}],
     "$.profile.imports[0].include-controls[0].with-ids[1]"),
    ([{"href": "ml-test@2026.1", "include-all": {},
       "exclude-controls": [{"with-ids": ["nope"]}]}],
     "$.profile.imports[0].exclude-controls[0].with-ids[0]"),
])
def test_profile_resolution_errors(session_factory: sessionmaker[Session], version_id: int,
                                   imports: list[dict[str, object]], path: str) -> None:
    # Given a profile naming an unknown catalog version or control
    with session_factory() as session, pytest.raises(Invalid) as caught:
        service.import_profile(session=session, actor=ADMIN,
                               content=profile_doc(imports=imports))
    # Then it is refused with the path of the culprit
    assert [e["path"] for e in caught.value.errors] == [path]


def test_profile_versions_are_immutable(session_factory: sessionmaker[Session],
                                        version_id: int) -> None:
    # Given an imported profile
    load(session_factory, profile_doc())
    # When the same version returns with other content / Then 409
    other = profile_doc(imports=[{"href": "ml-test@2026.1", "include-all": {}}])
    with session_factory() as session, pytest.raises(Conflict):
        service.import_profile(session=session, actor=ADMIN, content=other)


def test_shipped_data_loads(session_factory: sessionmaker[Session]) -> None:
    # Given the catalogs and profiles shipped with Lakana
    if not demo.shipped_files("catalogs"):
        pytest.skip("the shipped baseline is not there yet")
    # When the demo step runs twice
    with session_factory.begin() as session:
        counts = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        assert demo.load_demo(session=session, actor=ADMIN) == {"catalogs": 0, "profiles": 0}
    assert counts["catalogs"] >= 1 and counts["profiles"] >= 2
    with session_factory() as session:
        base = service.latest_version(session=session, actor=ADMIN, catalog_id="ml-baseline")
        assert base is not None
        # Then the baseline has at least 80 requirements in 14 domains
        requirements = service.all_requirements(session=session, actor=ADMIN,
                                                catalog_version_id=base.id)
        assert len(requirements) >= 80 and len(base.domains) == 14
        assert len(base.maturity_levels) == 6
        # And the small profile has fewer requirements than the baseline, critical more
        sizes = {p.profile_id: service.profile_counts(session=session, profile=p)
                 for p in service.list_profiles(session=session, actor=ADMIN)}
        assert len(sizes) >= 2
        smaller = [k for k, (n, b) in sizes.items() if n < b]
        larger = [k for k, (n, b) in sizes.items() if n > b]
        assert smaller and larger, sizes
        assert any("critical" in k for k in larger), sizes
