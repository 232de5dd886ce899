"""Sharing pages: the centre shares and unshares from the browser; a RED case says why it
cannot leave; partner CERTs land on their own short page and see no other menu entry."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.csirt import sharing_service
from lakana.csirt.sharing_models import CaseShare, SharedObject
from tests.conftest import Factory, csrf_from
from tests.csirt.conftest import Institutions
from tests.csirt.test_sharing_service import add_observables, make_group, make_partner

LoginAs = Callable[[User], TestClient]


def test_analyst_shares_and_unshares_a_case(
        login_as: LoginAs, analyst: User, make_case: Callable[..., int],
        csirt_institutions: Institutions, session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "ecowas-certs")
    case_id = make_case(csirt_institutions.a, tlp="green")
    add_observables(session_factory, case_id, [("c2.example.net", "green")])
    client = login_as(analyst)
    # When the analyst opens the case's sharing page and shares it with the group
    page = client.get(f"/csirt/sharing/cases/{case_id}")
    assert page.status_code == 200 and "ecowas-certs" in page.text
    done = client.post(f"/csirt/sharing/cases/{case_id}", data={
        "csrf_token": csrf_from(page.text), "group_id": str(group)}, follow_redirects=False)
    assert done.status_code == 303
    # Then the case is in the group's collection and on the overview, with a stop button
    overview = client.get("/csirt/sharing")
    assert overview.status_code == 200
    assert "ecowas-certs" in overview.text and sharing_service.collection_id(group) in \
        overview.text
    with session_factory() as session:
        share = session.scalars(select(CaseShare)).one()
        assert session.scalar(select(SharedObject.id).where(
            SharedObject.case_id == case_id)) is not None
    assert f"/csirt/sharing/shares/{share.id}/unshare" in overview.text
    stopped = client.post(f"/csirt/sharing/shares/{share.id}/unshare", data={
        "csrf_token": csrf_from(overview.text), "back": "overview"}, follow_redirects=False)
    assert stopped.status_code == 303 and stopped.headers["location"].startswith(
        "/csirt/sharing?done=unshared")
    with session_factory() as session:
        assert session.scalar(select(SharedObject.id).where(
            SharedObject.case_id == case_id)) is None


def test_red_case_page_says_why_and_refuses(
        login_as: LoginAs, analyst: User, make_case: Callable[..., int],
        csirt_institutions: Institutions, session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "g-red")
    case_id = make_case(csirt_institutions.a, tlp="red")
    client = login_as(analyst)
    page = client.get(f"/csirt/sharing/cases/{case_id}")
    # Then the page explains, and offers no share form
    assert page.status_code == 200 and "TLP:RED" in page.text
    assert f'action="/csirt/sharing/cases/{case_id}"' not in page.text
    # and a forged post is refused with the reason
    refused = client.post(f"/csirt/sharing/cases/{case_id}", data={
        "csrf_token": csrf_from(page.text), "group_id": str(group)})
    assert refused.status_code == 422 and "TLP:RED" in refused.text
    with session_factory() as session:
        assert session.scalar(select(CaseShare.id)) is None


def test_focal_point_cannot_share(login_as: LoginAs, focal_a: User,
                                  make_case: Callable[..., int],
                                  csirt_institutions: Institutions) -> None:
    case_id = make_case(csirt_institutions.a, tlp="green")
    client = login_as(focal_a)
    assert client.get(f"/csirt/sharing/cases/{case_id}").status_code == 403
    assert client.get("/csirt/sharing").status_code == 403
    assert client.get("/csirt/partner").status_code == 403


def test_partner_lands_on_its_own_page(login_as: LoginAs, factory: Factory,
                                       session_factory: sessionmaker[Session]) -> None:
    group = make_group(session_factory, "ecowas-certs")
    make_group(session_factory, "other-group")
    partner = make_partner(factory, session_factory, group, "cert@partner.example.org")
    client = login_as(partner)
    # The home page works for a partner and its menu offers only what it may use
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/csirt/partner"' in home.text
    for path in ("/csirt/cases", "/csirt/sharing", "/admin/users", "/audit", "/registry"):
        assert f'href="{path}"' not in home.text, path
    # The partner page lists its collection and the TAXII address, not the other group's
    page = client.get("/csirt/partner")
    assert page.status_code == 200
    assert sharing_service.collection_id(group) in page.text and "/taxii2/" in page.text
    assert "other-group" not in page.text
    # and it reads nothing else
    assert client.get("/csirt/cases").status_code == 403
