"""Account services: password policy, lockout with backoff, TOTP, recovery codes, tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth import service
from lakana.core.auth.models import User
from lakana.core.auth.passwords import check_policy, generate_temporary_password
from lakana.core.auth.rbac import CorePermission, Role, system_actor
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Conflict, Forbidden, Invalid, TooManyRequests, Unauthenticated
from tests.conftest import PASSWORD, Factory, totp_now


@pytest.mark.parametrize("password", [
    "Short-1a", "aaaaaaaaaaaaaaaaaaaa", "password1234", "alllowercase123", "x" * 257,
])
def test_password_policy_refuses_weak_passwords(password: str) -> None:
    # Given a weak password / When it is checked / Then it is refused with a reason
    with pytest.raises(Invalid):
        check_policy(password)


def test_password_policy_accepts_strong_and_passphrases() -> None:
    # Given a mixed password and a long passphrase / When checked / Then both pass
    check_policy("Correct-Horse-42!")
    check_policy("les manguiers de bamako fleurissent")
    # And a password containing the e-mail's local part is refused
    with pytest.raises(Invalid):
        check_policy("Amadou-Secret-42", email="amadou@example.ml")


def test_temporary_passwords_meet_the_policy() -> None:
    # Given generated temporary passwords / Then each passes the policy and they differ
    values = {generate_temporary_password() for _ in range(20)}
    assert len(values) == 20
    for value in values:
        check_policy(value)


def _fail(db: Session, email: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises((Unauthenticated, TooManyRequests)):
            service.authenticate(session=db, email=email, password="wrong", source_ip=None,
                                 max_failures=3)


def test_lockout_after_threshold_then_backoff_doubles_and_success_resets(
        factory: Factory, db: Session) -> None:
    # Given a user
    user = factory.user(Role.AUDITOR)
    # When the password is wrong 3 times (threshold 3)
    _fail(db, user.email, 3)
    fresh = db.get(User, user.id)
    assert fresh is not None and fresh.locked_until is not None
    first = (as_utc(fresh.locked_until) - utcnow()).total_seconds()
    # Then the account is locked ~30 s and even the right password gets 429 with a wait time
    assert 25 <= first <= 31
    with pytest.raises(TooManyRequests) as caught:
        service.authenticate(session=db, email=user.email, password=PASSWORD, source_ip=None,
                             max_failures=3)
    assert 0 < caught.value.params["seconds"] <= 31
    # When the lock runs out and the password is wrong once more
    fresh.locked_until = utcnow() - dt.timedelta(seconds=1)
    _fail(db, user.email, 1)
    second = (as_utc(fresh.locked_until) - utcnow()).total_seconds()
    # Then the lock doubles
    assert 55 <= second <= 61
    # When the lock runs out and the right password is given
    fresh.locked_until = utcnow() - dt.timedelta(seconds=1)
    service.authenticate(session=db, email=user.email, password=PASSWORD, source_ip=None,
                         max_failures=3)
    # Then the failure count is reset
    assert fresh.failed_logins == 0 and fresh.locked_until is None


def test_lockout_seconds_is_capped() -> None:
    # Given many failures / Then the lock never exceeds an hour and starts at the threshold
    assert service.lockout_seconds(4, 5) == 0
    assert service.lockout_seconds(5, 5) == 30
    assert service.lockout_seconds(6, 5) == 60
    assert service.lockout_seconds(50, 5) == 3600


def test_totp_code_is_refused_when_replayed(factory: Factory, db: Session) -> None:
    # Given a user with MFA and a valid code
    user = db.get(User, factory.user(Role.AUDITOR).id)
    assert user is not None and user.mfa_secret
    code = totp_now(user.mfa_secret)
    # When the code is used once, it works
    service.verify_second_factor(session=db, user=user, code=code)
    # Then the same code a second time is refused
    with pytest.raises(Invalid):
        service.verify_second_factor(session=db, user=user, code=code)


def test_second_factor_respects_the_lockout(factory: Factory, db: Session) -> None:
    # Given a user whose second factor failed up to the threshold
    user = db.get(User, factory.user(Role.AUDITOR).id)
    assert user is not None and user.mfa_secret
    for _ in range(3):
        with pytest.raises(Invalid):
            service.verify_second_factor(session=db, user=user, code="000000", max_failures=3)
    # When the right code is then given
    # Then it is refused with 429 (no brute force of the code within a pending session)
    with pytest.raises(TooManyRequests):
        service.verify_second_factor(session=db, user=user, code=totp_now(user.mfa_secret),
                                     max_failures=3)


def test_recovery_code_works_once(factory: Factory, db: Session) -> None:
    # Given fresh recovery codes
    user = db.get(User, factory.user(Role.AUDITOR).id)
    assert user is not None
    codes = service.regenerate_recovery_codes(session=db, user=user)
    assert len(codes) == 10
    # When one is used (with upper case and spaces, as people type)
    service.verify_second_factor(session=db, user=user, code=f" {codes[0].upper()} ")
    # Then it is refused the second time and one fewer remains
    with pytest.raises(Invalid):
        service.verify_second_factor(session=db, user=user, code=codes[0])
    assert service.remaining_recovery_codes(session=db, user=user) == 9


def test_enrolment_cannot_replace_the_mfa_step(factory: Factory, db: Session) -> None:
    # Given a user whose MFA is already active
    user = db.get(User, factory.user(Role.AUDITOR).id)
    assert user is not None and user.mfa_secret
    # When enrolment is confirmed again / Then it is refused (409)
    with pytest.raises(Conflict):
        service.confirm_mfa_enrollment(session=db, actor=system_actor(), user=user,
                                       code=totp_now(user.mfa_secret))


def test_disable_mfa_only_where_optional(factory: Factory, db: Session) -> None:
    # Given an agency user with MFA
    agency = db.get(User, factory.user(Role.AUDITOR).id)
    assert agency is not None and agency.mfa_secret
    # When they try to turn it off / Then it is forbidden
    with pytest.raises(Forbidden):
        service.disable_mfa(session=db, actor=service.actor_for(agency), user=agency,
                            code=totp_now(agency.mfa_secret))
    assert agency.mfa_enabled


def test_empty_scope_list_grants_nothing(factory: Factory, db: Session) -> None:
    # Given an administrator / When acting through a token with an empty scope list
    user = db.get(User, factory.user(Role.PLATFORM_ADMIN).id)
    assert user is not None
    actor = service.actor_for(user, scopes=[], via="token")
    # Then the actor holds no permission (not every permission)
    assert actor.permissions == frozenset()


def test_scoped_token_cannot_mint_a_wider_token(factory: Factory, db: Session) -> None:
    # Given an administrator acting through a token scoped to reading users and managing tokens
    user = db.get(User, factory.user(Role.PLATFORM_ADMIN).id)
    assert user is not None
    actor = service.actor_for(user, via="token", scopes=[
        CorePermission.USER_READ, CorePermission.TOKEN_MANAGE])
    # When it asks for a token with write permission / Then it is refused
    with pytest.raises(Invalid):
        service.create_token(session=db, actor=actor, user=user, name="x",
                             scopes=[CorePermission.USER_WRITE], expires_in_days=10)
    # And a token with default scopes only gets the narrowed scopes
    token, _ = service.create_token(session=db, actor=actor, user=user, name="y", scopes=None,
                                    expires_in_days=10)
    assert set(token.scopes) == {CorePermission.USER_READ, CorePermission.TOKEN_MANAGE}


def test_token_expiry_bounds(factory: Factory, db: Session) -> None:
    # Given a user / When a token would live 0 or 366 days / Then it is refused
    user = db.get(User, factory.user(Role.PLATFORM_ADMIN).id)
    assert user is not None
    for days in (0, 366):
        with pytest.raises(Invalid):
            service.create_token(session=db, actor=system_actor(), user=user, name="x",
                                 scopes=None, expires_in_days=days)


def test_stale_version_gets_conflict(factory: Factory, db: Session) -> None:
    # Given a user read at version 1 and changed since
    user = db.get(User, factory.user(Role.AUDITOR).id)
    assert user is not None
    read = user.version
    service.update_user(session=db, actor=system_actor(), user_id=user.id, version=read,
                        full_name="New name")
    db.flush()
    assert user.version == read + 1
    # When a change is sent with the old version / Then 409 and nothing changes
    with pytest.raises(Conflict):
        service.update_user(session=db, actor=system_actor(), user_id=user.id, version=read,
                            full_name="Other name")
    assert user.full_name == "New name"


def test_admin_cannot_disable_themselves(factory: Factory, db: Session) -> None:
    # Given an administrator / When they disable their own account / Then it is forbidden
    admin = db.get(User, factory.user(Role.PLATFORM_ADMIN).id)
    assert admin is not None
    with pytest.raises(Forbidden):
        service.set_active(session=db, actor=service.actor_for(admin), user_id=admin.id,
                           active=False)


def test_password_change_ends_other_sessions(factory: Factory,
                                             session_factory: sessionmaker[Session]) -> None:
    # Given a user with two sessions
    with session_factory.begin() as db:
        user = db.get(User, factory.user(Role.AUDITOR).id)
        assert user is not None
        keep = service.create_session(session=db, user=user, mfa_passed=True, source_ip=None,
                                      user_agent=None, max_hours=1)
        other = service.create_session(session=db, user=user, mfa_passed=True, source_ip=None,
                                       user_agent=None, max_hours=1)
        kept = service.resolve_session(session=db, secret=keep, idle_minutes=60)
        assert kept is not None
        # When the password is changed from the first
        service.change_password(session=db, actor=service.actor_for(user), user=user,
                                current=PASSWORD, new="Another-Horse-43!",
                                keep_session_id=kept[0].id)
    with session_factory.begin() as db:
        # Then the first session lives and the other ended
        assert service.resolve_session(session=db, secret=keep, idle_minutes=60) is not None
        assert service.resolve_session(session=db, secret=other, idle_minutes=60) is None
