"""Review: narrowly scoped tokens cannot manage the account's tokens, and the TOTP checks of
the account page count failures toward the lockout like the log-in step does."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lakana.core.auth import service
from lakana.core.auth.models import ApiToken, User
from lakana.core.auth.rbac import Role
from lakana.core.errors import Forbidden, Invalid, TooManyRequests
from tests.conftest import Factory, totp_now


def test_scoped_token_cannot_revoke_or_list_tokens(app: FastAPI, factory: Factory,
                                                   db: Session) -> None:
    # Given a focal point with a full token and a read-only token for a script
    user = factory.user(Role.FOCAL_POINT)
    full = factory.token(user)
    read_only = factory.token(user, ["registry:system:read"])
    full_id = db.query(ApiToken.id).filter(ApiToken.user_id == user.id).order_by(
        ApiToken.id).first()
    assert full_id is not None
    with TestClient(app, headers={"Authorization": f"Bearer {read_only}"}) as script:
        # When the read-only token lists or revokes the account's tokens
        listed = script.get("/api/v1/tokens")
        revoked = script.delete(f"/api/v1/tokens/{full_id[0]}")
    # Then both are refused (403), and the full token still works
    assert listed.status_code == 403
    assert revoked.status_code == 403
    with TestClient(app, headers={"Authorization": f"Bearer {full}"}) as owner:
        assert owner.get("/api/v1/me").status_code == 200
        # And a token holding the permission may still revoke its own siblings
        assert owner.get("/api/v1/tokens").status_code == 200


@pytest.mark.parametrize("step", ["disable", "renew"])
def test_account_totp_checks_count_toward_lockout(factory: Factory, db: Session,
                                                  step: str) -> None:
    # Given a focal point with MFA on, whose session someone else holds
    user = db.get(User, factory.user(Role.FOCAL_POINT, mfa=True).id)
    assert user is not None and user.mfa_secret
    actor = service.actor_for(user)

    def attempt(code: str) -> None:
        if step == "disable":
            service.disable_mfa(session=db, actor=actor, user=user, code=code, max_failures=3)
        else:
            service.renew_recovery_codes(session=db, actor=actor, user=user, code=code,
                                         max_failures=3)

    # When wrong codes are tried up to the threshold
    for _ in range(3):
        with pytest.raises(Invalid):
            attempt("000000")
    # Then even the right code is refused for a while (no brute force of the code)
    with pytest.raises(TooManyRequests):
        attempt(totp_now(user.mfa_secret))
    assert user.mfa_enabled


def test_own_token_revocation_needs_token_permission(factory: Factory, db: Session) -> None:
    # Given a token-authenticated actor without core:token:manage
    user = db.get(User, factory.user(Role.FOCAL_POINT).id)
    assert user is not None
    factory.token(user)
    token = db.query(ApiToken).filter(ApiToken.user_id == user.id).one()
    actor = service.actor_for(user, via="token", scopes=["registry:system:read"])
    # When it revokes the account's token / Then it is forbidden
    with pytest.raises(Forbidden):
        service.revoke_token(session=db, actor=actor, token_id=token.id)
    assert token.revoked_at is None


@pytest.mark.parametrize(("email", "language"), [("not-an-address", "fr"),
                                                 ("ok@example.ml", "xx"),
                                                 ("a@" + "b" * 260 + ".ml", "fr")])
def test_create_user_checks_email_and_language(db: Session, email: str,
                                               language: str) -> None:
    # Given the service used by the CLI (which has no schema in front of it)
    from lakana.core.auth.rbac import system_actor
    from tests.conftest import PASSWORD

    # When an account gets a malformed e-mail or an unknown language / Then 422
    with pytest.raises(Invalid):
        service.create_user(session=db, actor=system_actor("tests"), email=email,
                            full_name="X", role=Role.AUDITOR, password=PASSWORD,
                            language=language)
