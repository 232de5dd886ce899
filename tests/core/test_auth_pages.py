"""Log-in, sessions, MFA and the account page, through the real forms."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from lakana.app import create_app
from lakana.core.auth import service
from lakana.core.auth.models import RecoveryCode, User, UserSession
from lakana.core.auth.pages import safe_next
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from tests.conftest import PASSWORD, Factory, csrf_from, totp_now

Login = Callable[[User], TestClient]


def _password_step(client: TestClient, user: User, password: str = PASSWORD,
                   next_: str = "/") -> object:
    page = client.get("/login")
    return client.post("/login", data={"email": user.email, "password": password,
                                       "csrf_token": csrf_from(page.text), "next": next_},
                       follow_redirects=False)


def _cookie_headers(response: object, name: str) -> list[str]:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return [h for h in headers if h.startswith(name + "=")]


def _reload(session_factory: sessionmaker[Session], user_id: int) -> User:
    with session_factory() as db:
        user = db.get(User, user_id)
        assert user is not None
        return user


def test_login_issues_a_new_session_id(client: TestClient, factory: Factory) -> None:
    # Given a browser holding a session id chosen by an attacker
    user = factory.user(Role.PLATFORM_ADMIN, mfa=False)
    client.cookies.set("lakana_session", "attacker-chosen-id")
    # When the person logs in (the forced MFA enrolment comes after the password step)
    response = _password_step(client, user)
    # Then the server sets a fresh, random session id
    cookies = _cookie_headers(response, "lakana_session")
    assert cookies and "attacker-chosen-id" not in cookies[0]
    first = cookies[0].split(";")[0]
    # And a second log-in gets yet another id
    client.cookies.clear()
    again = _cookie_headers(_password_step(client, user), "lakana_session")[0].split(";")[0]
    assert again != first


def test_session_cookie_attributes_over_http(client: TestClient, factory: Factory) -> None:
    # Given plain HTTP / When logging in
    response = _password_step(client, factory.user(Role.AUDITOR))
    cookie = _cookie_headers(response, "lakana_session")[0].lower()
    # Then the cookie is HttpOnly, SameSite=Lax, path / and not Secure
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie


def test_session_cookie_is_secure_over_https(settings: Settings, engine: object,
                                             factory: Factory) -> None:
    # Given an application served over HTTPS
    app = create_app(settings.model_copy(update={"https": True}))
    with TestClient(app, base_url="https://testserver") as client:
        # When logging in
        response = _password_step(client, factory.user(Role.AUDITOR))
        cookie = _cookie_headers(response, "lakana_session")[0].lower()
        # Then the cookie is Secure too, and so is the pre-session cookie of the form
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert all("secure" in c.lower() for c in _cookie_headers(client.get("/login"),
                                                                   "lakana_pre"))


def test_expired_session_redirects_to_login_with_message(
        login_as: Login, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given a logged-in person whose session sat idle too long
    user = factory.user(Role.AUDITOR)
    client = login_as(user)
    with session_factory.begin() as db:
        db.execute(update(UserSession).values(last_seen_at=utcnow() - dt.timedelta(hours=5)))
    # When they open a page
    response = client.get("/account?tab=x", follow_redirects=False)
    # Then they are sent to the log-in page, which says why (in French by default)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account%3Ftab%3Dx&expired=1"
    page = client.get(response.headers["location"])
    assert "Votre session a expiré" in page.text
    # And the API answers 401 problem JSON
    client.cookies.set("lakana_session", "stale")
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")


def test_expired_session_post_changes_nothing(
        login_as: Login, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given a person on their account page whose session then expires
    user = factory.user(Role.AUDITOR)
    client = login_as(user)
    token = csrf_from(client.get("/account").text)
    with session_factory.begin() as db:
        db.execute(update(UserSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    # When they submit the token form
    response = client.post("/account/tokens", data={
        "csrf_token": token, "name": "late", "expires_in_days": "30",
        "scopes": ["core:user:read"]}, follow_redirects=False)
    # Then they go to the log-in page and no token was created
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    with session_factory() as db:
        assert service.list_tokens(session=db, actor=system_actor(), user_id=user.id) == []


def test_pending_mfa_session_is_sent_back_to_the_mfa_step(client: TestClient,
                                                          factory: Factory) -> None:
    # Given a person who passed the password step only
    user = factory.user(Role.AUDITOR)
    _password_step(client, user)
    # When they open the home page
    response = client.get("/", follow_redirects=False)
    # Then they are sent to the second factor, not to a "session expired" message
    assert response.status_code == 303
    assert response.headers["location"] == "/login/mfa?next=/"
    # And the API refuses the half-logged-in session
    assert client.get("/api/v1/me").status_code == 401


def test_enrolment_form_is_not_a_second_mfa_step(client: TestClient, factory: Factory,
                                                 session_factory: sessionmaker[Session]) -> None:
    # Given a person with MFA who passed the password step
    user = factory.user(Role.AUDITOR)
    _password_step(client, user)
    token = csrf_from(client.get("/login/mfa").text)
    # When they post a code to the enrolment form instead of the MFA form
    response = client.post("/login/mfa/enroll", data={
        "csrf_token": token, "code": totp_now(user.mfa_secret or ""), "next": "/"},
        follow_redirects=False)
    # Then they are sent to the MFA step and hold no full session
    assert response.status_code == 303 and response.headers["location"].startswith("/login/mfa?")
    assert client.get("/api/v1/me").status_code == 401
    with session_factory() as db:
        assert service.remaining_recovery_codes(session=db, user=user) == 0


def test_lockout_through_the_form_answers_429_with_retry_after(client: TestClient,
                                                               factory: Factory) -> None:
    # Given a user / When the password is wrong 5 times
    user = factory.user(Role.AUDITOR)
    statuses = [_password_step(client, user, "Wrong-Password-1").status_code  # type: ignore
                for _ in range(5)]
    assert statuses == [401] * 5
    # Then the right password is refused with 429, a wait time and Retry-After
    response = _password_step(client, user)
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert int(response.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert re.search(r"\d+ secondes", response.text)  # type: ignore[attr-defined]


def test_must_change_password_redirects_pages_and_blocks_api(
        client: TestClient, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given an institution-free agency user reset by an administrator
    user = factory.user(Role.AUDITOR)
    with session_factory.begin() as db:
        service.admin_reset(session=db, actor=system_actor(), user_id=user.id,
                            new_password="Temporary-Pass-77")
    # When they log in (password, then their unchanged TOTP)
    response = _password_step(client, user, "Temporary-Pass-77")
    mfa = client.get(response.headers["location"])  # type: ignore[attr-defined]
    client.post("/login/mfa", data={"code": totp_now(user.mfa_secret or ""), "next": "/",
                                    "csrf_token": csrf_from(mfa.text)})
    # Then every page sends them to the password form, and the API says 403
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/account/password"
    assert client.get("/api/v1/users").status_code == 403
    form = client.get("/account/password")
    assert form.status_code == 200 and 'class="main"' not in form.text
    # When the new passwords differ / Then 422 and nothing changes
    token = csrf_from(form.text)
    bad = client.post("/account/password", data={"csrf_token": token, "current":
                      "Temporary-Pass-77", "new": "Brand-New-Pass-88", "confirm": "Other-1-xX"})
    assert bad.status_code == 422
    assert _reload(session_factory, user.id).must_change_password
    # When they choose a new password
    done = client.post("/account/password", data={
        "csrf_token": token, "current": "Temporary-Pass-77", "new": "Brand-New-Pass-88",
        "confirm": "Brand-New-Pass-88"}, follow_redirects=False)
    # Then they can use the platform again
    assert done.status_code == 303
    assert client.get("/").status_code == 200
    assert not _reload(session_factory, user.id).must_change_password


def test_institution_user_enables_renews_and_disables_mfa(
        login_as: Login, factory: Factory, institution: Callable[[str], int],
        session_factory: sessionmaker[Session]) -> None:
    # Given a focal point without MFA
    user = factory.user(Role.FOCAL_POINT, institution_id=institution("MSAN"), mfa=False)
    client = login_as(user)
    assert "/login/mfa/enroll?next=/account" in client.get("/account").text
    # When they enrol through the same flow as agency roles
    page = client.get("/login/mfa/enroll?next=/account")
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page.text)
    assert secret
    done = client.post("/login/mfa/enroll", data={
        "csrf_token": csrf_from(page.text), "code": totp_now(secret.group(1)), "next": "/account"})
    # Then they see ten recovery codes once
    assert done.status_code == 200 and done.text.count("<li>") >= 10
    account = client.get("/account")
    assert "10" in account.text and "/account/mfa/disable" in account.text
    # When they renew recovery codes with a wrong code / Then 422 and the codes stay
    token = csrf_from(account.text)
    with session_factory() as db:
        before = sorted(c.code_hash for c in db.query(RecoveryCode).filter_by(user_id=user.id))
    wrong = client.post("/account/recovery-codes", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 422
    with session_factory() as db:
        assert sorted(c.code_hash for c in db.query(RecoveryCode)
                      .filter_by(user_id=user.id)) == before
    # When they renew with the next code / Then new codes are shown
    renewed = client.post("/account/recovery-codes", data={
        "csrf_token": token, "code": totp_now(secret.group(1), 1)})
    assert renewed.status_code == 200 and "recovery-codes" in renewed.text
    # And the code used for the renewal cannot be replayed to turn MFA off
    replay = client.post("/account/mfa/disable", data={
        "csrf_token": token, "code": totp_now(secret.group(1), 1)})
    assert replay.status_code == 422
    assert _reload(session_factory, user.id).mfa_enabled


def test_institution_user_turns_mfa_off(login_as: Login, factory: Factory,
                                        institution: Callable[[str], int],
                                        session_factory: sessionmaker[Session]) -> None:
    # Given a focal point logged in with MFA (code of the current step used)
    user = factory.user(Role.FOCAL_POINT, institution_id=institution("MEF"), mfa=True)
    client = login_as(user)
    token = csrf_from(client.get("/account").text)
    # When they post a wrong code / Then 422 and MFA stays
    wrong = client.post("/account/mfa/disable", data={"csrf_token": token, "code": "123"})
    assert wrong.status_code == 422 and _reload(session_factory, user.id).mfa_enabled
    # When they post the next code
    off = client.post("/account/mfa/disable", data={
        "csrf_token": token, "code": totp_now(user.mfa_secret or "", 1)}, follow_redirects=False)
    # Then MFA is off, its secret gone, and the account page says so
    assert off.status_code == 303
    fresh = _reload(session_factory, user.id)
    assert not fresh.mfa_enabled and fresh.mfa_secret is None
    assert "Turn on" in client.get("/account", headers={"Accept-Language": "en"}).text or \
        "/login/mfa/enroll" in client.get("/account").text


def test_agency_user_cannot_disable_mfa(login_as: Login, factory: Factory,
                                        session_factory: sessionmaker[Session]) -> None:
    # Given an agency user on their account page
    user = factory.user(Role.CSIRT_ANALYST)
    client = login_as(user)
    account = client.get("/account")
    assert "/account/mfa/disable" not in account.text
    # When they post the disable form anyway / Then 403 and MFA stays on
    response = client.post("/account/mfa/disable", data={
        "csrf_token": csrf_from(account.text), "code": totp_now(user.mfa_secret or "", 1)})
    assert response.status_code == 403
    assert _reload(session_factory, user.id).mfa_enabled


def test_token_created_on_account_page_is_shown_once_and_revocable(
        login_as: Login, factory: Factory, app: FastAPI) -> None:
    # Given an administrator on their account page
    user = factory.user(Role.PLATFORM_ADMIN)
    client = login_as(user)
    account = client.get("/account")
    token = csrf_from(account.text)
    # When they create a read-only token
    created = client.post("/account/tokens", data={
        "csrf_token": token, "name": "backup script", "expires_in_days": "30",
        "scopes": ["core:user:read"]})
    assert created.status_code == 200
    found = re.search(r'value="(lkn_[^"]+)"', created.text)
    assert found
    secret = found.group(1)
    # Then the secret works for reading, is absent from the account page afterwards
    assert secret not in client.get("/account").text
    machine = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    assert machine.get("/api/v1/users").status_code == 200
    # And the token cannot write (scope narrowing): 403
    denied = machine.post("/api/v1/users", json={
        "email": "x@example.ml", "full_name": "X", "role": "auditor", "password": PASSWORD})
    assert denied.status_code == 403
    # When the token is revoked from the page
    token_id = re.search(r'/account/tokens/(\d+)/revoke', client.get("/account").text)
    assert token_id
    revoked = client.post(f"/account/tokens/{token_id.group(1)}/revoke",
                          data={"csrf_token": token}, follow_redirects=False)
    assert revoked.status_code == 303
    # Then replaying it gets 401 problem JSON
    replay = machine.get("/api/v1/users")
    assert replay.status_code == 401 and replay.json()["status"] == 401


def test_token_form_without_scope_is_refused(login_as: Login, factory: Factory) -> None:
    # Given a person / When the token form has no permission ticked / Then 422, no token
    client = login_as(factory.user(Role.AUDITOR))
    token = csrf_from(client.get("/account").text)
    response = client.post("/account/tokens", data={"csrf_token": token, "name": "n",
                                                    "expires_in_days": "30"})
    assert response.status_code == 422
    assert "lkn_" not in response.text


def test_safe_next_refuses_open_redirects() -> None:
    # Given hostile "next" values / Then only same-site paths survive
    for value in ("//evil.example", "https://evil.example", "/\\evil", "/\t/evil.example",
                  "javascript:alert(1)", None, ""):
        assert safe_next(value) == "/"
    assert safe_next("/registry/institutions?q=x") == "/registry/institutions?q=x"


def test_logout_ends_the_session(login_as: Login, factory: Factory) -> None:
    # Given a logged-in person
    client = login_as(factory.user(Role.AUDITOR))
    old = client.cookies.get("lakana_session")
    token = csrf_from(client.get("/").text)
    # When they log out
    client.post("/logout", data={"csrf_token": token})
    # Then the old cookie no longer opens anything
    client.cookies.set("lakana_session", old or "")
    assert client.get("/api/v1/me").status_code == 401


def test_language_switch_is_remembered(login_as: Login, factory: Factory,
                                       session_factory: sessionmaker[Session]) -> None:
    # Given a French-speaking person
    user = factory.user(Role.AUDITOR)
    client = login_as(user)
    page = client.get("/")
    assert '<html lang="fr">' in page.text
    # When they switch to English
    client.post("/language", data={"csrf_token": csrf_from(page.text), "language": "en",
                                   "next": "/"})
    # Then pages are in English and the account remembers it
    assert '<html lang="en">' in client.get("/").text
    assert _reload(session_factory, user.id).language == "en"
