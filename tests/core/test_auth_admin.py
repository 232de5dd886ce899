"""Administration of accounts in the web interface (/admin/users)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth import service
from lakana.core.auth.models import User, UserSession
from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from

Login = Callable[[User], TestClient]


def _user(session_factory: sessionmaker[Session], email: str) -> User | None:
    with session_factory() as db:
        return service.get_user_by_email(session=db, email=email)


def test_menu_shows_users_only_to_readers(login_as: Login, factory: Factory) -> None:
    # Given an administrator and a CSIRT analyst (no core:user:read)
    admin = login_as(factory.user(Role.PLATFORM_ADMIN)).get("/")
    analyst = login_as(factory.user(Role.CSIRT_ANALYST)).get("/")
    # Then the Users entry appears for the first only
    assert 'href="/admin/users"' in admin.text
    assert 'href="/admin/users"' not in analyst.text


def test_list_searches_and_pages(login_as: Login, factory: Factory) -> None:
    # Given 30 auditors and an administrator
    for number in range(30):
        factory.user(Role.AUDITOR, email=f"auditor{number:02d}@example.ml")
    client = login_as(factory.user(Role.PLATFORM_ADMIN, email="boss@example.ml"))
    # When listing the first page / Then 25 rows and a link to the next page
    first = client.get("/admin/users")
    assert first.status_code == 200
    assert first.text.count('href="/admin/users/') - first.text.count("/admin/users/new") == 25
    assert "page=2" in first.text
    # When searching / Then only matches are shown
    found = client.get("/admin/users", params={"q": "auditor07"})
    assert "auditor07@example.ml" in found.text and "auditor08@example.ml" not in found.text
    # And an htmx search answers only the table fragment
    fragment = client.get("/admin/users", params={"q": "boss"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "boss@example.ml" in fragment.text


def test_create_user_with_institution_and_temporary_password(
        login_as: Login, factory: Factory, institution: Callable[[str], int],
        institution_choices: None, session_factory: sessionmaker[Session]) -> None:
    # Given an administrator and an institution offered through the plug-in hook
    inst = institution("MSAN")
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    form = client.get("/admin/users/new")
    assert f'<option value="{inst}"' in form.text and "MSAN" in form.text
    token = csrf_from(form.text)
    # When a focal point is created without an institution / Then 422 and nothing is created
    missing = client.post("/admin/users", data={
        "csrf_token": token, "email": "fp@example.ml", "full_name": "Awa Traoré",
        "role": "focal_point", "institution_id": "", "language": "fr"})
    assert missing.status_code == 422 and "nécessite une institution" in missing.text
    assert _user(session_factory, "fp@example.ml") is None
    # When created with the institution
    created = client.post("/admin/users", data={
        "csrf_token": token, "email": "fp@example.ml", "full_name": "Awa Traoré",
        "role": "focal_point", "institution_id": str(inst), "language": "fr"})
    # Then a temporary password is shown once, and the account must change it
    assert created.status_code == 200
    assert re.search(r'id="temporary-password"[^>]*value="[^"]{12,}"', created.text)
    user = _user(session_factory, "fp@example.ml")
    assert user is not None and user.institution_id == inst and user.must_change_password


def test_auditor_reads_but_cannot_change(login_as: Login, factory: Factory,
                                         session_factory: sessionmaker[Session]) -> None:
    # Given an auditor and another user
    target = factory.user(Role.CSIRT_ANALYST)
    client = login_as(factory.user(Role.AUDITOR))
    # When they open the list and the detail / Then they see them without action forms
    assert client.get("/admin/users").status_code == 200
    detail = client.get(f"/admin/users/{target.id}")
    assert detail.status_code == 200 and "/reset-password" not in detail.text
    assert client.get("/admin/users/new").status_code == 403
    # When they post an action anyway / Then 403 and nothing changes
    token = csrf_from(detail.text)
    actions = (("reset-password", {}), ("reset-mfa", {}), ("active", {"active": "false"}))
    for action, data in actions:
        response = client.post(f"/admin/users/{target.id}/{action}",
                                data={"csrf_token": token, **data})
        assert response.status_code == 403, action
    fresh = _user(session_factory, target.email)
    assert fresh is not None and fresh.is_active and fresh.mfa_enabled


def test_reset_password_and_mfa_disable_and_enable(
        login_as: Login, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given an administrator and a logged-in analyst
    target = factory.user(Role.CSIRT_ANALYST)
    victim_browser = login_as(target)
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    token = csrf_from(client.get(f"/admin/users/{target.id}").text)
    # When the administrator resets the password
    reset = client.post(f"/admin/users/{target.id}/reset-password", data={"csrf_token": token})
    # Then a temporary password is shown and the analyst's sessions end
    assert reset.status_code == 200 and "temporary-password" in reset.text
    assert victim_browser.get("/api/v1/me").status_code == 401
    assert _user(session_factory, target.email).must_change_password  # type: ignore[union-attr]
    # When MFA is reset / Then it is off
    mfa = client.post(f"/admin/users/{target.id}/reset-mfa", data={"csrf_token": token},
                      follow_redirects=False)
    assert mfa.status_code == 303
    assert not _user(session_factory, target.email).mfa_enabled  # type: ignore[union-attr]
    # When the account is disabled, then enabled
    off = client.post(f"/admin/users/{target.id}/active",
                      data={"csrf_token": token, "active": "false"})
    assert off.status_code == 200
    assert not _user(session_factory, target.email).is_active  # type: ignore[union-attr]
    on = client.post(f"/admin/users/{target.id}/active",
                     data={"csrf_token": token, "active": "true"})
    assert on.status_code == 200
    assert _user(session_factory, target.email).is_active  # type: ignore[union-attr]


def test_admin_cannot_disable_themselves_from_the_page(
        login_as: Login, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given an administrator on their own detail page
    admin = factory.user(Role.PLATFORM_ADMIN)
    client = login_as(admin)
    detail = client.get(f"/admin/users/{admin.id}")
    assert "/active" not in detail.text
    # When they post the disable form anyway / Then 403 and they stay active
    response = client.post(f"/admin/users/{admin.id}/active",
                           data={"csrf_token": csrf_from(detail.text), "active": "false"})
    assert response.status_code == 403
    assert _user(session_factory, admin.email).is_active  # type: ignore[union-attr]


def test_stale_edit_form_gets_409(login_as: Login, factory: Factory,
                                  session_factory: sessionmaker[Session]) -> None:
    # Given an administrator who opened the edit form of an auditor
    target = factory.user(Role.AUDITOR)
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    page = client.get(f"/admin/users/{target.id}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version
    form = {"csrf_token": csrf_from(page.text), "version": version.group(1),
            "full_name": "Renamed", "role": "auditor", "institution_id": "", "language": "fr"}
    # When the form is saved once / Then it works
    assert client.post(f"/admin/users/{target.id}", data=form,
                       follow_redirects=False).status_code == 303
    # When the same (now stale) form is saved again / Then 409 and nothing changes
    form["full_name"] = "Renamed twice"
    stale = client.post(f"/admin/users/{target.id}", data=form)
    assert stale.status_code == 409
    assert _user(session_factory, target.email).full_name == "Renamed"  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new"])
def test_admin_pages_need_a_login(client: TestClient, path: str) -> None:
    # Given an anonymous browser / When it opens an admin page / Then it goes to log in
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_disabling_ends_sessions(login_as: Login, factory: Factory,
                                 session_factory: sessionmaker[Session]) -> None:
    # Given a logged-in analyst and an administrator
    target = factory.user(Role.CSIRT_ANALYST)
    browser = login_as(target)
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    token = csrf_from(client.get(f"/admin/users/{target.id}").text)
    # When the analyst is disabled
    client.post(f"/admin/users/{target.id}/active", data={"csrf_token": token, "active": "false"})
    # Then the analyst's browser is logged out
    assert browser.get("/", follow_redirects=False).status_code == 303
    with session_factory() as db:
        assert all(s.revoked_at is not None
                   for s in db.query(UserSession).filter_by(user_id=target.id))
