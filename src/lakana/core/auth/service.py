"""Accounts: users, password log-in with lockout, sessions, TOTP MFA, recovery codes, tokens.

Services never commit; the caller owns the transaction. Every change is ledgered.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.models import ApiToken, RecoveryCode, User, UserSession
from lakana.core.auth.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    token_digest,
    verify_password,
)
from lakana.core.auth.rbac import (
    INSTITUTION_ROLES,
    MFA_REQUIRED_ROLES,
    Actor,
    CorePermission,
    Role,
    permissions_for,
)
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from lakana.core.i18n import Msg

TOKEN_PREFIX = "lkn"
RECOVERY_CODE_COUNT = 10
LOCKOUT_BASE_SECONDS = 30
LOCKOUT_MAX_SECONDS = 3600
_DUMMY_HASH = hash_password("not-a-real-password-0")


def user_state(user: User) -> dict[str, Any]:
    """The ledgered state of a user (no secrets)."""
    return {"email": user.email, "full_name": user.full_name, "role": user.role,
            "institution_id": user.institution_id, "mfa_enabled": user.mfa_enabled,
            "is_active": user.is_active, "language": user.language,
            "password_changed_at": user.password_changed_at}


def actor_for(user: User, *, source_ip: str | None = None, via: str = "session",
              scopes: list[str] | None = None, token_id: int | None = None) -> Actor:
    """The actor a user acts as; a token's scopes narrow the role's permissions."""
    role = Role(user.role)
    perms = permissions_for(role)
    if scopes is not None:  # an empty scope list grants nothing, never everything
        perms = perms & frozenset(scopes)
    return Actor(user_id=user.id, name=user.email, role=role,
                 institution_id=user.institution_id, permissions=perms, source_ip=source_ip,
                 via=via, token_id=token_id, language=user.language)


# --- users -----------------------------------------------------------------------------

def _check_role_scope(role: Role, institution_id: int | None,
                      session: Session | None = None) -> None:
    if role in INSTITUTION_ROLES and institution_id is None:
        raise Invalid("This role needs an institution.")
    if role not in INSTITUTION_ROLES and institution_id is not None:
        raise Invalid("Agency roles are not tied to an institution.")
    if session is not None and institution_id is not None \
            and not _institution_exists(session, institution_id):
        raise Invalid("Unknown institution.")


def _institution_exists(session: Session, institution_id: int) -> bool:
    # The institution table belongs to a domain: reach it through the account's foreign key
    # rather than importing its model (core imports no domain).
    if not 0 < institution_id < 2**63:
        return False
    (foreign_key,) = User.__table__.c.institution_id.foreign_keys
    target = foreign_key.column
    return session.scalar(select(target).where(target == institution_id)) is not None


def create_user(*, session: Session, actor: Actor, email: str, full_name: str, role: Role,
                password: str, institution_id: int | None = None, language: str = "fr",
                must_change_password: bool = False) -> User:
    """Create an account; the e-mail is unique (case-insensitive)."""
    actor.require(CorePermission.USER_WRITE)
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise Invalid("Not a valid e-mail address: %(email)s.", email=email[:254])
    if language not in ("fr", "en"):
        raise Invalid("Unknown language.")
    _check_role_scope(role, institution_id, session)
    check_policy(password, email=email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with the e-mail %(email)s already exists.", email=email)
    user = User(email=email, full_name=full_name.strip(), role=role.value,
                institution_id=institution_id, password_hash=hash_password(password),
                language=language, must_change_password=must_change_password,
                password_changed_at=utcnow())
    session.add(user)
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.create", object_type="user",
                 object_id=user.id, object_repr=email, after=user_state(user),
                 institution_id=institution_id)
    return user


def get_user(*, session: Session, actor: Actor, user_id: int) -> User:
    """One user, if the actor may see users (institution staff see their colleagues)."""
    user = session.get(User, user_id)
    if user is None or not (actor.user_id == user_id or actor.is_national
                            or user.institution_id == actor.institution_id):
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("user"))
    if actor.user_id != user_id:
        actor.require(CorePermission.USER_READ)
    return user


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """The user with this e-mail, if any (internal: no permission check)."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def list_users(*, session: Session, actor: Actor, limit: int = 50, offset: int = 0,
               q: str | None = None) -> tuple[list[User], int]:
    """Users the actor may see, newest first, with the total count."""
    actor.require(CorePermission.USER_READ)
    stmt = select(User)
    if not actor.is_national:
        stmt = stmt.where(User.institution_id == actor.institution_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(User.email).like(like) | func.lower(User.full_name).like(like))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.email).limit(limit).offset(offset)).all()
    return list(rows), total


def count_users(*, session: Session, actor: Actor) -> int:
    """How many accounts the actor may see (for the dashboard)."""
    return list_users(session=session, actor=actor, limit=1)[1]


def update_user(*, session: Session, actor: Actor, user_id: int, version: int,
                full_name: str | None = None, role: Role | None = None,
                institution_id: int | None = None, language: str | None = None) -> User:
    """Change a user's name, role, institution or language; a stale ``version`` gets 409."""
    user = get_user(session=session, actor=actor, user_id=user_id)  # out of scope: 404 first
    actor.require(CorePermission.USER_WRITE)
    if user.version != version:
        raise Conflict("This user was changed by someone else meanwhile: reload and retry.")
    before = user_state(user)
    new_role = role or Role(user.role)
    changes_scope = role is not None or institution_id is not None
    new_institution = institution_id if changes_scope else user.institution_id
    _check_role_scope(new_role, new_institution,
                      session if new_institution != user.institution_id else None)
    if actor.user_id == user.id and new_role is not Role(user.role):
        raise Forbidden("You cannot change your own role.")
    if language is not None and language not in ("fr", "en"):
        raise Invalid("Unknown language.")
    if full_name is not None:
        if not full_name.strip():
            raise Invalid("The name is required.")
        user.full_name = full_name.strip()[:200]
    user.role = new_role.value
    user.institution_id = new_institution
    if language is not None:
        user.language = language
    if before["role"] != user.role or before["institution_id"] != user.institution_id:
        _end_sessions(session, user.id)  # permissions changed: log in again
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.update", object_type="user",
                 object_id=user.id, object_repr=user.email, before=before,
                 after=user_state(user), institution_id=user.institution_id)
    return user


def set_active(*, session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Disable or re-enable an account; disabling ends its sessions and tokens."""
    user = get_user(session=session, actor=actor, user_id=user_id)  # out of scope: 404 first
    actor.require(CorePermission.USER_WRITE)
    if not active:
        require_not_self_lockout(actor, user_id)
    before = user_state(user)
    user.is_active = active
    if not active:
        _end_sessions(session, user.id)
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.activate" if active
                 else "core.user.deactivate", object_type="user", object_id=user.id,
                 object_repr=user.email, before=before, after=user_state(user),
                 institution_id=user.institution_id)
    return user


def admin_reset(*, session: Session, actor: Actor, user_id: int, new_password: str,
                reset_mfa: bool = False) -> User:
    """An administrator sets a temporary password (changed at next log-in), optionally MFA too."""
    user = get_user(session=session, actor=actor, user_id=user_id)  # out of scope: 404 first
    actor.require(CorePermission.USER_WRITE)
    check_policy(new_password, email=user.email)
    before = user_state(user)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    if reset_mfa:
        _clear_mfa(session, user)
    _end_sessions(session, user.id)
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.reset", object_type="user",
                 object_id=user.id, object_repr=user.email, before=before,
                 after=user_state(user), institution_id=user.institution_id,
                 details={"mfa_reset": reset_mfa})
    return user


def change_password(*, session: Session, actor: Actor, user: User, current: str,
                    new: str, keep_session_id: int | None = None) -> None:
    """A person changes their own password; their other sessions end."""
    if not verify_password(user.password_hash, current):
        raise Invalid("The current password is wrong.")
    if current == new:
        raise Invalid("The new password must differ from the current one.")
    check_policy(new, email=user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    stmt = update(UserSession).where(UserSession.user_id == user.id,
                                     UserSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(UserSession.id != keep_session_id)
    session.execute(stmt.values(revoked_at=utcnow()))
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.password", object_type="user",
                 object_id=user.id, object_repr=user.email, institution_id=user.institution_id)


def set_language(*, session: Session, user: User, language: str) -> None:
    """Remember the person's interface language."""
    if language not in ("fr", "en"):
        raise Invalid("Unknown language.")
    user.language = language
    session.flush()


# --- log-in, lockout -------------------------------------------------------------------

@dataclass(frozen=True)
class LoginResult:
    """Outcome of the password step: the user, and whether MFA must follow."""

    user: User
    mfa_required: bool
    mfa_enrollment_required: bool


def lockout_seconds(failures: int, threshold: int) -> int:
    """Lock duration after ``failures`` consecutive failures: doubles from 30 s, at most 1 h."""
    if failures < threshold:
        return 0
    return int(min(LOCKOUT_MAX_SECONDS, LOCKOUT_BASE_SECONDS * 2 ** (failures - threshold)))


def _refuse_if_locked(user: User) -> None:
    now = utcnow()
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        wait = int((as_utc(user.locked_until) - now).total_seconds()) + 1
        raise TooManyRequests("Too many failed attempts: try again in %(seconds)s seconds.",
                              seconds=wait)


def authenticate(*, session: Session, email: str, password: str, source_ip: str | None,
                 max_failures: int = 5) -> LoginResult:
    """Check e-mail and password, applying lockout with exponential backoff."""
    user = get_user_by_email(session=session, email=email)
    now = utcnow()
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same timing as a real check
        raise Unauthenticated("Wrong e-mail address or password.")
    _refuse_if_locked(user)
    system = Actor(user_id=user.id, name=user.email, role=Role(user.role), source_ip=source_ip,
                   via="login", institution_id=user.institution_id)
    if not verify_password(user.password_hash, password) or not user.is_active:
        user.failed_logins += 1
        wait = lockout_seconds(user.failed_logins, max_failures)
        if wait:
            user.locked_until = now + dt.timedelta(seconds=wait)
        audit.record(session=session, actor=system, action="core.login.failure",
                     object_type="user", object_id=user.id, object_repr=user.email,
                     institution_id=user.institution_id,
                     details={"failures": user.failed_logins, "locked_seconds": wait})
        session.flush()
        raise Unauthenticated("Wrong e-mail address or password.")
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    needs_mfa = Role(user.role) in MFA_REQUIRED_ROLES or user.mfa_enabled
    return LoginResult(user=user, mfa_required=needs_mfa,
                       mfa_enrollment_required=needs_mfa and not user.mfa_enabled)


# --- sessions --------------------------------------------------------------------------

def create_session(*, session: Session, user: User, mfa_passed: bool, source_ip: str | None,
                   user_agent: str | None, max_hours: int) -> str:
    """Open a server-side session and return the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(UserSession(token_hash=token_digest(secret), user_id=user.id,
                            mfa_passed=mfa_passed, created_at=now, last_seen_at=now,
                            expires_at=now + dt.timedelta(hours=max_hours),
                            source_ip=source_ip, user_agent=(user_agent or "")[:300]))
    if mfa_passed:
        user.last_login_at = now
        audit.record(session=session, actor=actor_for(user, source_ip=source_ip, via="login"),
                     action="core.login.success", object_type="user", object_id=user.id,
                     object_repr=user.email, institution_id=user.institution_id)
    session.flush()
    return secret


def resolve_session(*, session: Session, secret: str, idle_minutes: int
                    ) -> tuple[UserSession, User] | None:
    """The live session and its user for a cookie secret, or ``None`` if expired or unknown."""
    found = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                            .where(UserSession.token_hash == token_digest(secret))).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None:
        return None
    now = utcnow()
    if as_utc(row.expires_at) <= now or \
            as_utc(row.last_seen_at) + dt.timedelta(minutes=idle_minutes) <= now:
        return None
    if not user.is_active:
        return None
    return row, user


#: "Last seen"/"last used" stamps are written at most this often (reads rarely write).
TOUCH_EVERY = dt.timedelta(seconds=60)


def needs_touch(last: dt.datetime | None) -> bool:
    """Whether a "last seen/used" stamp is old enough to be rewritten."""
    return last is None or utcnow() - as_utc(last) > TOUCH_EVERY


def touch_session(*, session: Session, session_id: int) -> None:
    """Stamp a browser session as seen now (its own short transaction: see deps)."""
    now = utcnow()
    session.execute(update(UserSession).where(
        UserSession.id == session_id, UserSession.last_seen_at < now - TOUCH_EVERY)
        .values(last_seen_at=now))


def touch_token(*, session: Session, token_id: int) -> None:
    """Stamp an API token as used now (its own short transaction: see deps)."""
    now = utcnow()
    session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - TOUCH_EVERY))
        .values(last_used_at=now))


def mark_mfa_passed(*, session: Session, user_session: UserSession, user: User,
                    source_ip: str | None = None) -> None:
    """The second factor succeeded: the session becomes a full session."""
    user_session.mfa_passed = True
    user.last_login_at = utcnow()
    audit.record(session=session, actor=actor_for(user, via="login", source_ip=source_ip),
                 action="core.login.success",
                 object_type="user", object_id=user.id, object_repr=user.email,
                 institution_id=user.institution_id, details={"mfa": True})
    session.flush()


def end_session(*, session: Session, secret: str) -> None:
    """Log out: revoke the session of this cookie secret."""
    session.execute(update(UserSession).where(UserSession.token_hash == token_digest(secret))
                    .values(revoked_at=utcnow()))


def _end_sessions(session: Session, user_id: int) -> None:
    session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                              UserSession.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


# --- TOTP MFA and recovery codes -------------------------------------------------------

def start_mfa_enrollment(*, session: Session, user: User) -> str:
    """Create (or keep) a pending TOTP secret; return the ``otpauth://`` URI for the QR code."""
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already active.")
    if not user.mfa_secret:
        user.mfa_secret = pyotp.random_base32()
        session.flush()
    return pyotp.TOTP(user.mfa_secret).provisioning_uri(name=user.email, issuer_name="Lakana")


def _accept_totp(user: User, code: str) -> bool:
    if not user.mfa_secret:
        return False
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(user.mfa_secret)
    now = int(utcnow().timestamp())
    for drift in (-1, 0, 1):
        step = now // 30 + drift
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue  # a code is valid once: no replay within its window
        if secrets.compare_digest(totp.at(step * 30), code):
            user.mfa_last_step = step
            return True
    return False


def confirm_mfa_enrollment(*, session: Session, actor: Actor, user: User, code: str
                           ) -> list[str]:
    """Activate MFA after a first valid code; return fresh recovery codes (shown once)."""
    if user.mfa_enabled:  # else this form would be a second MFA step without lockout
        raise Conflict("Two-factor authentication is already active.")
    if not _accept_totp(user, code):
        raise Invalid("The code is wrong or expired.")
    user.mfa_enabled = True
    codes = regenerate_recovery_codes(session=session, user=user)
    audit.record(session=session, actor=actor, action="core.user.mfa_enable", object_type="user",
                 object_id=user.id, object_repr=user.email, institution_id=user.institution_id)
    session.flush()
    return codes


def verify_second_factor(*, session: Session, user: User, code: str,
                         max_failures: int = 5) -> None:
    """Accept a TOTP code or an unused recovery code; failures count toward lockout."""
    _refuse_if_locked(user)
    cleaned = code.strip().replace(" ", "").replace("-", "").lower()
    if _accept_totp(user, cleaned):
        user.failed_logins = 0
        session.flush()
        return
    digest = token_digest(cleaned)
    recovery = session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest,
        RecoveryCode.used_at.is_(None)))
    if recovery is not None:
        recovery.used_at = utcnow()
        user.failed_logins = 0
        audit.record(session=session, actor=actor_for(user, via="login"),
                     action="core.user.recovery_code_used", object_type="user",
                     object_id=user.id, object_repr=user.email,
                     institution_id=user.institution_id)
        session.flush()
        return
    _refuse_code(session, user, max_failures)


def _refuse_code(session: Session, user: User, max_failures: int) -> NoReturn:
    """Count a wrong second-factor code toward the lockout, then refuse it."""
    user.failed_logins += 1
    wait = lockout_seconds(user.failed_logins, max_failures)
    if wait:
        user.locked_until = utcnow() + dt.timedelta(seconds=wait)
    session.flush()
    raise Invalid("The code is wrong or expired.")


def _check_current_code(session: Session, user: User, code: str, max_failures: int) -> None:
    """A current TOTP code confirming a sensitive change; wrong codes count toward lockout."""
    _refuse_if_locked(user)
    if not _accept_totp(user, code):
        _refuse_code(session, user, max_failures)
    user.failed_logins = 0


def regenerate_recovery_codes(*, session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes; return them in clear (shown once)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=token_digest(code.replace("-", ""))))
    session.flush()
    return codes


def renew_recovery_codes(*, session: Session, actor: Actor, user: User, code: str,
                         max_failures: int = 5) -> list[str]:
    """Replace the recovery codes after a current TOTP code; return them (shown once)."""
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not active.")
    _check_current_code(session, user, code, max_failures)
    codes = regenerate_recovery_codes(session=session, user=user)
    audit.record(session=session, actor=actor, action="core.user.recovery_codes",
                 object_type="user", object_id=user.id, object_repr=user.email,
                 institution_id=user.institution_id)
    return codes


def mfa_optional(user: User) -> bool:
    """Whether the user's role lets them turn two-factor authentication off."""
    return Role(user.role) not in MFA_REQUIRED_ROLES


def disable_mfa(*, session: Session, actor: Actor, user: User, code: str,
                max_failures: int = 5) -> None:
    """Turn off one's own MFA (roles where it is optional), confirmed by a current code."""
    if not mfa_optional(user):
        raise Forbidden("Your role requires two-factor authentication.")
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not active.")
    _check_current_code(session, user, code, max_failures)
    before = user_state(user)
    _clear_mfa(session, user)
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.mfa_disable",
                 object_type="user", object_id=user.id, object_repr=user.email, before=before,
                 after=user_state(user), institution_id=user.institution_id)


def admin_reset_mfa(*, session: Session, actor: Actor, user_id: int) -> User:
    """An administrator removes a user's MFA (lost phone); agency roles re-enrol at log-in."""
    user = get_user(session=session, actor=actor, user_id=user_id)  # out of scope: 404 first
    actor.require(CorePermission.USER_WRITE)
    before = user_state(user)
    _clear_mfa(session, user)
    _end_sessions(session, user.id)
    session.flush()
    audit.record(session=session, actor=actor, action="core.user.mfa_reset",
                 object_type="user", object_id=user.id, object_repr=user.email, before=before,
                 after=user_state(user), institution_id=user.institution_id)
    return user


def _clear_mfa(session: Session, user: User) -> None:
    user.mfa_enabled = False
    user.mfa_secret = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def remaining_recovery_codes(*, session: Session, user: User) -> int:
    """How many unused recovery codes the user has left."""
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


# --- API tokens ------------------------------------------------------------------------

def create_token(*, session: Session, actor: Actor, user: User, name: str,
                 scopes: list[str] | None, expires_in_days: int) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return it with its secret (shown once)."""
    if actor.user_id != user.id:
        actor.require(CorePermission.USER_WRITE)
    else:
        actor.require(CorePermission.TOKEN_MANAGE)
    allowed = permissions_for(Role(user.role))
    if actor.user_id == user.id:
        allowed &= actor.permissions  # a scoped token cannot mint a wider one
    chosen = sorted(set(scopes)) if scopes else sorted(allowed)
    unknown = [s for s in chosen if s not in allowed]
    if unknown:
        raise Invalid("Scopes not allowed for this user: %(scopes)s.", scopes=", ".join(unknown))
    if not 1 <= expires_in_days <= 365:
        raise Invalid("A token expires after 1 to 365 days.")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:100], prefix=prefix,
                     token_hash=token_digest(secret), scopes=chosen,
                     expires_at=utcnow() + dt.timedelta(days=expires_in_days))
    session.add(token)
    session.flush()
    audit.record(session=session, actor=actor, action="core.token.create", object_type="token",
                 object_id=token.id, object_repr=f"{user.email}:{token.name}",
                 institution_id=user.institution_id,
                 details={"scopes": chosen, "expires_at": token.expires_at.isoformat()})
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def resolve_token(*, session: Session, presented: str) -> tuple[ApiToken, User]:
    """The token and its user for a presented bearer secret; raise if unknown, expired, revoked."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise Unauthenticated("The API token is malformed.")
    # One round trip for the token and its account: this runs on every API call.
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.prefix == parts[1])).first()
    if row is None or not secrets.compare_digest(row[0].token_hash, token_digest(parts[2])):
        raise Unauthenticated("The API token is unknown.")
    token, user = row
    if token.revoked_at is not None:
        raise Unauthenticated("The API token was revoked.")
    if as_utc(token.expires_at) <= utcnow():
        raise Unauthenticated("The API token has expired.")
    if not user.is_active:
        raise Unauthenticated("The API token's account is disabled.")
    return token, user


def list_tokens(*, session: Session, actor: Actor, user_id: int) -> list[ApiToken]:
    """Tokens of a user (one's own, or anyone's for an administrator)."""
    actor.require(CorePermission.TOKEN_MANAGE if actor.user_id == user_id
                  else CorePermission.USER_WRITE)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.created_at.desc())))


def revoke_token(*, session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token at once; a revoked token is refused ever after."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user_id
                         and not actor.can(CorePermission.USER_WRITE)):
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("token"))
    # a narrowly scoped token (a script's) may not revoke the account's other tokens
    actor.require(CorePermission.TOKEN_MANAGE if token.user_id == actor.user_id
                  else CorePermission.USER_WRITE)
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = utcnow()
    session.flush()
    audit.record(session=session, actor=actor, action="core.token.revoke", object_type="token",
                 object_id=token.id, object_repr=token.name)
    return token


def require_not_self_lockout(actor: Actor, user_id: int) -> None:
    """Refuse to let an administrator disable their own account."""
    if actor.user_id == user_id:
        raise Forbidden("You cannot disable your own account.")
