"""The core's own pages and API (accounts, audit ledger, home), plugged in like a domain."""

from __future__ import annotations

from pathlib import Path

from lakana.core.audit import api as audit_api
from lakana.core.audit import pages as audit_pages
from lakana.core.auth import admin_pages as auth_admin_pages
from lakana.core.auth import api as auth_api
from lakana.core.auth import pages as auth_pages
from lakana.core.auth.rbac import CorePermission
from lakana.core.notifications import api as notifications_api
from lakana.core.notifications import pages as notifications_pages
from lakana.core.plugins import DomainPlugin, MenuEntry
from lakana.core.web import pages as web_pages


def _register() -> None:
    """Core permissions are granted in ``rbac`` itself."""


PLUGIN = DomainPlugin(
    name="core",
    register_permissions=_register,
    api_routers=(auth_api.router, notifications_api.router, audit_api.router),
    pages_routers=(web_pages.router, auth_pages.router, auth_admin_pages.router,
                   notifications_pages.router, audit_pages.router),
    catalog_dir=Path(__file__).parent.parent / "i18n" / "locale",
    menu=(MenuEntry("Users", "/admin/users", CorePermission.USER_READ, order=90,
                    group="Administration"),
          MenuEntry("Audit ledger", "/audit", CorePermission.AUDIT_READ, order=95,
                    group="Administration"),
          MenuEntry("Notifications", "/notifications", CorePermission.NOTIFICATION_READ,
                    order=80),),
)
