"""The inbox page and the notifications API: each person sees and changes only their own."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.auth.service import actor_for
from lakana.core.notifications import service
from tests.conftest import Factory, csrf_from

Login = Callable[[User], TestClient]


def _notify(session_factory: sessionmaker[Session], user: User, title: str,
            link: str | None = None) -> int:
    with session_factory.begin() as session:
        (item,) = service.notify(session=session, user_ids=[user.id], title=title, link=link,
                                 body="Details of %(ref)s", params={"ref": "<b>INC-7</b>"},
                                 email=False)
        return item.id


def test_inbox_page_lists_own_notifications_in_french(
        session_factory: sessionmaker[Session], factory: Factory, login_as: Login) -> None:
    # Given Alice (French) with a notification, and Bob with his own
    alice = factory.user(Role.FOCAL_POINT)
    bob = factory.user(Role.FOCAL_POINT)
    _notify(session_factory, alice, "You have new notifications.")
    _notify(session_factory, bob, "Bob's secret notice")
    browser = login_as(alice)
    # When she opens the inbox
    page = browser.get("/notifications")
    # Then she sees hers, translated and escaped, and the menu links to the inbox
    assert page.status_code == 200
    assert "Vous avez de nouvelles notifications." in page.text
    assert "&lt;b&gt;INC-7&lt;/b&gt;" in page.text and "<b>INC-7</b>" not in page.text
    assert 'href="/notifications"' in page.text and "Tout marquer comme lu" in page.text
    assert "Bob" not in page.text


def test_mark_read_with_and_without_htmx(session_factory: sessionmaker[Session],
                                         factory: Factory, login_as: Login) -> None:
    # Given Alice with two unread notifications and Bob with one
    alice, bob = factory.user(Role.FOCAL_POINT), factory.user(Role.FOCAL_POINT)
    first = _notify(session_factory, alice, "first")
    _notify(session_factory, alice, "second", link="/account")
    bobs = _notify(session_factory, bob, "bob's")
    browser = login_as(alice)
    token = csrf_from(browser.get("/notifications").text)
    # When she marks the first read with htmx
    fragment = browser.post(f"/notifications/{first}/read", data={"csrf_token": token},
                            headers={"HX-Request": "true"})
    # Then only the list fragment comes back, with one unread left
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="notifications"' in fragment.text and "(1)" in fragment.text
    # When she tries to mark Bob's, Then it does not exist for her
    assert browser.post(f"/notifications/{bobs}/read", data={"csrf_token": token},
                        follow_redirects=False).status_code == 404
    # When she posts without a CSRF token, Then it is refused
    assert browser.post(f"/notifications/{first}/read").status_code == 403
    # When she marks all read with a plain form, Then she is sent back to the inbox
    done = browser.post("/notifications/read-all", data={"csrf_token": token},
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/notifications")
    unread = browser.get("/notifications?unread=1")
    assert "Aucune notification." in unread.text
    # And opening a notification follows its link
    with session_factory() as session:
        rows, _ = service.list_notifications(session=session, actor=actor_for(alice))
    linked = next(r for r in rows if r.link)
    opened = browser.post(f"/notifications/{linked.id}/open", data={"csrf_token": token},
                          follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/account"


def test_inbox_requires_login(client: TestClient) -> None:
    # Given an anonymous browser / When it asks for the inbox / Then it is sent to log in
    response = client.get("/notifications", follow_redirects=False)
    assert response.status_code in (303, 401)


def test_api_lists_pages_and_marks_only_own(session_factory: sessionmaker[Session],
                                            factory: Factory,
                                            api_as: Callable[[User], TestClient]) -> None:
    # Given Alice with three notifications and Bob with one
    alice, bob = factory.user(Role.FOCAL_POINT), factory.user(Role.FOCAL_POINT)
    ids = [_notify(session_factory, alice, f"n{i}") for i in range(3)]
    bobs = _notify(session_factory, bob, "bob's")
    api = api_as(alice)
    # When she lists with a page size of two
    page = api.get("/api/v1/notifications", params={"limit": 2})
    # Then she gets a page envelope of her own notifications, newest first, translated
    body = page.json()
    assert page.status_code == 200 and body["total"] == 3 and body["limit"] == 2
    assert [i["id"] for i in body["items"]] == [ids[2], ids[1]]
    assert body["items"][0]["body"] == "Details of <b>INC-7</b>"
    # When she marks one read, Then it has a read time and the unread count drops
    marked = api.post(f"/api/v1/notifications/{ids[0]}/read")
    assert marked.status_code == 200 and marked.json()["read_at"] is not None
    assert api.get("/api/v1/notifications/unread-count").json() == {"unread": 2}
    assert api.get("/api/v1/notifications", params={"unread": True}).json()["total"] == 2
    # When she tries Bob's, Then it is a 404 problem document
    other = api.post(f"/api/v1/notifications/{bobs}/read")
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    # When she marks all read, Then two change and Bob's stays unread
    assert api.post("/api/v1/notifications/read-all").json() == {"updated": 2}
    assert api_as(bob).get("/api/v1/notifications/unread-count").json() == {"unread": 1}
