"""Sharing cases with sharing groups: what is materialised, re-shared, withdrawn and served."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth import sharing
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.csirt import observable_service, sharing_feed, sharing_service, stix_export
from lakana.csirt.models import Case, CaseEvent, CaseObservable
from lakana.csirt.sharing_models import CaseShare, SharedObject
from tests.conftest import Factory
from tests.csirt.conftest import ADMIN, Institutions, actor_of

STRICT_IP = "198.51.100.77"


def make_group(session_factory: sessionmaker[Session], name: str) -> int:
    """A committed sharing group."""
    with session_factory.begin() as session:
        return sharing.create_group(session=session, actor=ADMIN, name=name,
                                    description=f"Groupe {name}").id


def make_partner(factory: Factory, session_factory: sessionmaker[Session], group_id: int,
                 email: str) -> User:
    """A partner account (no MFA) in ``group_id``."""
    user = factory.user(Role.PARTNER, email=email, mfa=False)
    with session_factory.begin() as session:
        group = session.get(sharing.SharingGroup, group_id)
        member = session.get(User, user.id)
        assert group is not None and member is not None
        sharing.add_member(session=session, actor=ADMIN, group=group, user=member)
    return user


def add_observables(session_factory: sessionmaker[Session], case_id: int,
                    items: list[tuple[str, str]]) -> None:
    """Sightings on a case: (value, TLP)."""
    with session_factory.begin() as session:
        for value, label in items:
            observable_service.add_to_case(session=session, actor=ADMIN, case_id=case_id,
                                           kind=None, value=value, tlp=label)


def share(session_factory: sessionmaker[Session], case_id: int, group_id: int,
          actor: Any = ADMIN) -> sharing_service.ShareResult:
    """Share through the service, committed."""
    with session_factory.begin() as session:
        return sharing_service.share_case(session=session, actor=actor, case_id=case_id,
                                          group_id=group_id)


def served_payloads(session_factory: sessionmaker[Session], group_id: int,
                    **query: Any) -> list[dict[str, Any]]:
    """Everything the group's collection serves now (every version)."""
    with session_factory() as session:
        page = sharing_feed.objects(session, group_id=group_id, query=sharing_feed.FeedQuery(
            limit=1000, keywords=frozenset({"all"}), **query))
        return [row.payload for row in page.rows]


@pytest.fixture
def green_case(make_case: Callable[..., int], csirt_institutions: Institutions,
               session_factory: sessionmaker[Session]) -> int:
    """A GREEN case with a GREEN domain and an AMBER+STRICT address."""
    case_id = make_case(csirt_institutions.a, tlp="green", title="Botnet régional")
    add_observables(session_factory, case_id, [("c2.example.net", "green"),
                                               (STRICT_IP, "amber+strict")])
    return case_id


def test_share_materialises_the_case_without_strict_observables(
        green_case: int, session_factory: sessionmaker[Session]) -> None:
    # Given a GREEN case with an AMBER+STRICT observable
    group = make_group(session_factory, "ecowas-certs")
    # When an analyst's service call shares it
    result = share(session_factory, green_case, group)
    # Then the incident, the GREEN indicator and the centre's identity are in the collection
    assert result.created and result.added > 3
    payloads = served_payloads(session_factory, group)
    types = {p["type"] for p in payloads}
    assert {"incident", "indicator", "domain-name", "identity", "marking-definition"} <= types
    text = repr(payloads)
    assert "c2.example.net" in text
    # and nothing carries the AMBER+STRICT address or a forbidden marking
    assert STRICT_IP not in text
    assert not any(set(p.get("object_marking_refs", [])) & sharing_service.FORBIDDEN_MARKINGS
                   for p in payloads)
    # and the share is ledgered and on the case's timeline
    with session_factory() as session:
        assert session.scalar(select(AuditEntry.seq).where(
            AuditEntry.action == "csirt.case.share", AuditEntry.object_id == str(green_case))
        ) is not None
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == green_case,
                                                         CaseEvent.kind == "sharing")).all()
        assert [e.params["group"] for e in events] == ["ecowas-certs"]


def test_red_and_amber_strict_cases_cannot_be_shared(
        make_case: Callable[..., int], csirt_institutions: Institutions,
        session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-red")
    for label in ("red", "amber+strict"):
        case_id = make_case(csirt_institutions.a, tlp=label)
        # When someone tries to share it
        with pytest.raises(Invalid) as refused:
            share(session_factory, case_id, group)
        # Then the reason names the label, and nothing was written
        assert f"TLP:{label.upper()}" in str(refused.value)
    with session_factory() as session:
        assert session.scalar(select(CaseShare.id)) is None
        assert session.scalar(select(SharedObject.id)) is None


def test_reshare_adds_only_new_versions_and_withdraws_what_left(
        green_case: int, session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-versions")
    share(session_factory, green_case, group)
    # When nothing changed, a re-share adds nothing
    again = share(session_factory, green_case, group)
    assert not again.created and again.added == 0 and again.withdrawn == 0
    # When the case changes, the incident gets a second version; both stay available
    with session_factory.begin() as session:
        case = session.get(Case, green_case)
        assert case is not None
        case.title = "Botnet régional (mis à jour)"
    changed = share(session_factory, green_case, group)
    assert changed.added == 1
    incident_id = next(p["id"] for p in served_payloads(session_factory, group)
                       if p["type"] == "incident")
    with session_factory() as session:
        last = sharing_feed.objects(session, group_id=group, query=sharing_feed.FeedQuery(
            ids=(incident_id,)))
        every = sharing_feed.versions(session, group_id=group, stix_id=incident_id,
                                      query=sharing_feed.FeedQuery())
    assert [r.payload["name"].endswith("(mis à jour)") for r in last.rows] == [True]
    assert len(every.rows) == 2
    # When the GREEN domain is re-labelled AMBER+STRICT, a re-share withdraws it
    with session_factory.begin() as session:
        for link in session.scalars(select(CaseObservable).where(
                CaseObservable.case_id == green_case)):
            link.tlp = "amber+strict"
    withdrawn = share(session_factory, green_case, group)
    assert withdrawn.withdrawn > 0
    assert "c2.example.net" not in repr(served_payloads(session_factory, group))


def test_raised_to_red_after_sharing_disappears_from_the_feed(
        green_case: int, session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-raise")
    share(session_factory, green_case, group)
    assert any(p["type"] == "incident" for p in served_payloads(session_factory, group))
    # When the case is raised to RED after sharing (no re-share)
    with session_factory.begin() as session:
        case = session.get(Case, green_case)
        assert case is not None
        case.tlp = "red"
    # Then nothing of it is served any more; only the centre's own objects remain
    remaining = served_payloads(session_factory, group)
    assert {p["type"] for p in remaining} <= {"identity", "marking-definition"}
    # and a re-share is refused
    with pytest.raises(Invalid):
        share(session_factory, green_case, group)


def test_unshare_stops_serving(green_case: int,
                               session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-unshare")
    result = share(session_factory, green_case, group)
    with session_factory.begin() as session:
        withdrawn = sharing_service.unshare(session=session, actor=ADMIN,
                                            share_id=result.share.id)
    assert withdrawn > 0
    assert not any(p["type"] == "incident" for p in served_payloads(session_factory, group))
    with session_factory() as session:
        assert session.scalar(select(CaseShare.id)) is None


def test_partners_see_only_their_groups_and_cannot_share(
        green_case: int, factory: Factory, focal_a: User,
        session_factory: sessionmaker[Session]) -> None:
    a = make_group(session_factory, "group-a")
    b = make_group(session_factory, "group-b")
    partner = make_partner(factory, session_factory, a, "cert@partner-a.example.org")
    with session_factory() as session:
        actor = actor_of(partner)
        # A partner pulls only its groups' collections; another group's id is unknown (404)
        assert [g.id for g in sharing_service.pullable_groups(session=session, actor=actor)] \
            == [a]
        with pytest.raises(NotFound):
            sharing_service.group_for_collection(session=session, actor=actor,
                                                 collection=sharing_service.collection_id(b))
        # The centre sees every group
        assert len(sharing_service.pullable_groups(session=session, actor=ADMIN)) == 2
        # A partner and a focal point cannot share (the case is invisible to the partner)
        with pytest.raises(NotFound):
            sharing_service.share_case(session=session, actor=actor, case_id=green_case,
                                       group_id=a)
        with pytest.raises(Forbidden):
            sharing_service.share_case(session=session, actor=actor_of(focal_a),
                                       case_id=green_case, group_id=a)
        # and a focal point pulls nothing
        with pytest.raises(Forbidden):
            sharing_service.pullable_groups(session=session, actor=actor_of(focal_a))


def test_paging_is_keyset_and_filters_apply(green_case: int,
                                            session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-pages")
    share(session_factory, green_case, group)
    every = served_payloads(session_factory, group)
    with session_factory() as session:
        seen: list[str] = []
        query = sharing_feed.FeedQuery(limit=2)
        while True:
            page = sharing_feed.objects(session, group_id=group, query=query)
            seen.extend(row.stix_id for row in page.rows)
            if not page.more:
                break
            assert page.next is not None
            query = sharing_feed.FeedQuery(limit=2, cursor=sharing_feed.decode_cursor(page.next))
        assert sorted(seen) == sorted(p["id"] for p in every)
        only = sharing_feed.objects(session, group_id=group, query=sharing_feed.FeedQuery(
            types=("indicator",)))
        assert {r.stix_type for r in only.rows} == {"indicator"}


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"limit": "0"}, {"limit": "abc"},
                                    {"added_after": "not-a-date"},
                                    {"added_after": "2026-13-01T00:00:00Z"},
                                    {"next": "garbage!"}, {"next": "Zm9vYmFy"},
                                    {"match[version]": "yesterday"}])
def test_garbage_query_parameters_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(Invalid):
        sharing_feed.parse_query(params)  # type: ignore[arg-type]


def test_stamps_round_trip() -> None:
    parsed = sharing_service.parse_stamp("2026-03-04T05:06:07.123456Z")
    assert sharing_service.stamp_micro(parsed) == "2026-03-04T05:06:07.123456Z"
    assert sharing_service.parse_stamp("2026-03-04T05:06:07Z").microsecond == 0
    assert stix_export.stamp(parsed) == "2026-03-04T05:06:07.123Z"


def test_demo_shares_a_green_case_with_a_partner_group(
        session_factory: sessionmaker[Session]) -> None:
    from lakana.core.auth.rbac import system_actor
    from lakana.csirt import sharing_demo
    from lakana.registry import demo as registry_demo

    actor = system_actor("tests")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
        first = sharing_demo.load_sharing_demo(session=session, actor=actor)
    with session_factory.begin() as session:
        again = sharing_demo.load_sharing_demo(session=session, actor=actor)
    assert (first["groups"], first["partners"], first["shared_cases"]) == (1, 1, 1)
    assert (again["groups"], again["partners"], again["shared_cases"]) == (0, 0, 0)
    with session_factory() as session:
        group = sharing.get_group_by_name(session=session, name="ecowas-certs")
        partner = session.scalars(select(User).where(
            User.email == sharing_demo.PARTNER[0])).one()
        assert partner.role == "partner" and not partner.mfa_enabled
        assert sharing_service.pullable_groups(
            session=session, actor=actor_of(partner))[0].id == group.id
    text = repr(served_payloads(session_factory, group.id))
    assert "c2-botnet.example.net" in text and "198.51.100.77" not in text
