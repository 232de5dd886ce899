"""Administration of accounts: list, create, edit, password and MFA reset, disable/enable.

Platform administrators (``core:user:write``) change accounts; auditors and agency officers
(``core:user:read``) only look. Institutions are offered through the core's plugin hook, so
the core never imports the registry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from lakana.core.auth import service
from lakana.core.auth.deps import CurrentIdentity, DbSession, Identity
from lakana.core.auth.models import User
from lakana.core.auth.passwords import generate_temporary_password
from lakana.core.auth.rbac import INSTITUTION_ROLES, ROLE_LABELS, CorePermission, Role
from lakana.core.errors import Invalid, LakanaError
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.plugins import institution_choices
from lakana.core.web.errors import error_headers
from lakana.core.web.templating import render

router = APIRouter(prefix="/admin/users")

PAGE_SIZE = 25
_NOTICES = {
    "mfa-reset": N_("Two-factor authentication was reset; the person enrols again at log-in."),
    "disabled": N_("The account is disabled and its sessions ended."),
    "enabled": N_("The account is enabled again."),
    "updated": N_("The account was updated."),
}


def _institution_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit():
        raise Invalid("Unknown institution.")
    return int(value)


def _choices(session: DbSession) -> dict[int, str]:
    return dict(institution_choices(session))


def _roles() -> list[tuple[str, str, bool]]:
    return [(role.value, ROLE_LABELS[role], role in INSTITUTION_ROLES) for role in Role]


@router.get("")
def user_list(request: Request, session: DbSession, identity: CurrentIdentity,
              q: Annotated[str | None, Query(max_length=100)] = None,
              page: Annotated[int, Query(ge=1, le=100000)] = 1) -> Response:
    """Accounts, searchable by name or e-mail, one page at a time."""
    users, total = service.list_users(session=session, actor=identity.actor, limit=PAGE_SIZE,
                                      offset=(page - 1) * PAGE_SIZE, q=q or None)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render(request, "admin/users.html", {
        "users": users, "total": total, "q": q or "", "page": page, "pages": pages,
        "institutions": _choices(session),
        "can_write": identity.actor.can(CorePermission.USER_WRITE)},
        fragment="admin/_users_table.html")


def _new_form(request: Request, session: DbSession, *, form: dict[str, Any],
              error: LakanaError | None = None) -> Response:
    return render(request, "admin/user_new.html", {
        "form": form, "roles": _roles(), "institutions": _choices(session),
        "error": _(error.message, **error.params) if error else None},
        status_code=error.status if error else 200)


@router.get("/new")
def user_new(request: Request, session: DbSession, identity: CurrentIdentity) -> Response:
    """The form to create an account."""
    identity.actor.require(CorePermission.USER_WRITE)
    return _new_form(request, session, form={"language": "fr"})


@router.post("")
def user_create(request: Request, session: DbSession, identity: CurrentIdentity,
                email: Annotated[str, Form(max_length=254)],
                full_name: Annotated[str, Form(max_length=200)],
                role: Annotated[str, Form(max_length=40)],
                institution_id: Annotated[str | None, Form(max_length=20)] = None,
                language: Annotated[str, Form(max_length=5)] = "fr") -> Response:
    """Create an account with a temporary password, shown once, to change at first log-in."""
    identity.actor.require(CorePermission.USER_WRITE)
    form = {"email": email, "full_name": full_name, "role": role,
            "institution_id": institution_id or "", "language": language}
    password = generate_temporary_password()
    try:
        if role not in {r.value for r in Role}:
            raise Invalid("Unknown role.")
        if "@" not in email or not full_name.strip():
            raise Invalid("Give a valid e-mail address and a name.")
        user = service.create_user(
            session=session, actor=identity.actor, email=email, full_name=full_name,
            role=Role(role), password=password, institution_id=_institution_id(institution_id),
            language=language if language in ("fr", "en") else "fr",
            must_change_password=True)
    except LakanaError as exc:
        return _new_form(request, session, form=form, error=exc)
    return render(request, "admin/temporary_password.html",
                  {"target": user, "password": password, "created": True})


def _detail(request: Request, session: DbSession, identity: Identity, user: User, *,
            error: LakanaError | None = None, notice: str | None = None) -> Response:
    return render(request, "admin/user_detail.html", {
        "target": user, "roles": _roles(), "institutions": _choices(session),
        "can_write": identity.actor.can(CorePermission.USER_WRITE),
        "is_self": identity.user.id == user.id,
        "recovery_left": service.remaining_recovery_codes(session=session, user=user),
        "error": _(error.message, **error.params) if error else None,
        "notice": _(_NOTICES[notice]) if notice in _NOTICES else None},
        status_code=error.status if error else 200,
        headers=error_headers(error) if error else None)


@router.get("/{user_id}")
def user_detail(request: Request, session: DbSession, identity: CurrentIdentity,
                user_id: int, notice: str | None = None) -> Response:
    """One account, with the administrator's actions."""
    user = service.get_user(session=session, actor=identity.actor, user_id=user_id)
    if identity.user.id == user_id:
        identity.actor.require(CorePermission.USER_READ)
    return _detail(request, session, identity, user, notice=notice)


@router.post("/{user_id}")
def user_update(request: Request, session: DbSession, identity: CurrentIdentity, user_id: int,
                version: Annotated[int, Form()],
                full_name: Annotated[str, Form(max_length=200)],
                role: Annotated[str, Form(max_length=40)],
                institution_id: Annotated[str | None, Form(max_length=20)] = None,
                language: Annotated[str, Form(max_length=5)] = "fr") -> Response:
    """Change name, role, institution or language; a stale form gets 409."""
    identity.actor.require(CorePermission.USER_WRITE)
    try:
        if role not in {r.value for r in Role}:
            raise Invalid("Unknown role.")
        service.update_user(session=session, actor=identity.actor, user_id=user_id,
                            version=version, full_name=full_name, role=Role(role),
                            institution_id=_institution_id(institution_id), language=language)
    except LakanaError as exc:
        session.rollback()
        user = service.get_user(session=session, actor=identity.actor, user_id=user_id)
        return _detail(request, session, identity, user, error=exc)
    return RedirectResponse(f"/admin/users/{user_id}?notice=updated", status_code=303)


@router.post("/{user_id}/reset-password")
def user_reset_password(request: Request, session: DbSession, identity: CurrentIdentity,
                        user_id: int) -> Response:
    """Set a temporary password (shown once); the person changes it at next log-in."""
    password = generate_temporary_password()
    user = service.admin_reset(session=session, actor=identity.actor, user_id=user_id,
                               new_password=password)
    return render(request, "admin/temporary_password.html",
                  {"target": user, "password": password, "created": False})


@router.post("/{user_id}/reset-mfa")
def user_reset_mfa(request: Request, session: DbSession, identity: CurrentIdentity,
                   user_id: int) -> Response:
    """Remove the person's second factor (lost phone)."""
    service.admin_reset_mfa(session=session, actor=identity.actor, user_id=user_id)
    return RedirectResponse(f"/admin/users/{user_id}?notice=mfa-reset", status_code=303)


@router.post("/{user_id}/active")
def user_set_active(request: Request, session: DbSession, identity: CurrentIdentity,
                    user_id: int, active: Annotated[bool, Form()]) -> Response:
    """Disable (ending sessions) or re-enable an account; never one's own."""
    service.set_active(session=session, actor=identity.actor, user_id=user_id, active=active)
    notice = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/users/{user_id}?notice={notice}", status_code=303)
