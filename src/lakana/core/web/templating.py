"""Jinja2 environment shared by every domain, with gettext and the htmx fragment rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2.ext import i18n as i18n_extension  # noqa: F401  (registers the "i18n" extension)

from lakana.core import i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def build_environment(extra_dirs: Sequence[Path]) -> jinja2.Environment:
    """An autoescaping environment over the core's and the domains' template folders."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES_DIR, *extra_dirs]),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals["current_language"] = i18n.current_language
    env.globals["role_label"] = role_label
    return env


def role_label(role: str) -> str:
    """The English label (a gettext message id) of a role name."""
    from lakana.core.auth.rbac import ROLE_LABELS, Role

    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def is_htmx(request: Request) -> bool:
    """Whether the request comes from htmx (which then wants only a fragment)."""
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           fragment: str | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render the full page, or only ``fragment`` for an htmx request."""
    env: jinja2.Environment = request.app.state.jinja
    ctx = base_context(request)
    ctx.update(context or {})
    name = fragment if fragment and is_htmx(request) else template
    with i18n.use_language(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)):
        body = env.get_template(name).render(ctx)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    attach_presession(request, response)
    return response


def base_context(request: Request) -> dict[str, Any]:
    """What every page needs: the request, who is logged in, the CSRF token, the menu."""
    from lakana.core.auth.deps import csrf_token

    identity = getattr(request.state, "identity", None)
    full = identity is not None and (identity.user_session is None
                                     or identity.user_session.mfa_passed)
    actor = identity.actor if identity is not None and full else None
    user = identity.user if identity is not None and full else None
    entries = request.app.state.jinja.globals.get("menu_entries", [])
    # someone who must change their password sees no menu: every link leads to that form
    navigation = actor is not None and user is not None and not user.must_change_password
    menu = [m for m in entries if navigation and actor is not None
            and (m.permission is None or actor.can(m.permission))]
    return {"request": request, "actor": actor, "user": user, "navigation": navigation,
            "csrf_token": csrf_token(request), "menu": menu,
            "menu_groups": group_menu(menu, request.url.path),
            "language": getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)}


@dataclass(frozen=True)
class MenuGroup:
    """A top-level navigation item: one link (``label`` empty) or a submenu of links;
    ``current`` when the page shown is one of them."""

    label: str
    entries: tuple[Any, ...]
    current: bool = False


def group_menu(entries: list[Any], path: str = "") -> list[MenuGroup]:
    """Entries in menu order, those sharing a ``group`` gathered where the first appears."""
    groups: list[MenuGroup] = []
    positions: dict[str, int] = {}
    for entry in entries:
        name = getattr(entry, "group", "")
        here = bool(path) and path.startswith(entry.path)
        if not name:
            groups.append(MenuGroup("", (entry,), here))
        elif name in positions:
            found = groups[positions[name]]
            groups[positions[name]] = MenuGroup(name, (*found.entries, entry),
                                                found.current or here)
        else:
            positions[name] = len(groups)
            groups.append(MenuGroup(name, (entry,), here))
    return groups


def attach_presession(request: Request, response: HTMLResponse) -> None:
    """Give a new browser the pre-session cookie its forms' CSRF tokens are bound to."""
    from lakana.core.auth.deps import PRESESSION_COOKIE

    basis = getattr(request.state, "new_presession", None)
    if basis:
        response.set_cookie(PRESESSION_COOKIE, basis, httponly=True, samesite="strict",
                            secure=request.app.state.settings.https, path="/")
