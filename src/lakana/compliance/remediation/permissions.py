"""Permissions of remediation actions, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class ActionPermission(StrEnum):
    """What one may do with remediation actions."""

    ACTION_READ = "compliance:action:read"
    ACTION_WRITE = "compliance:action:write"


def register() -> None:
    """Everyone reads (institution roles their own institution's actions, scoped in
    services); a focal point writes its own institution's; the agency writes all."""
    grant([ActionPermission.ACTION_READ], *STAFF_ROLES)
    grant([ActionPermission.ACTION_WRITE], Role.FOCAL_POINT, Role.AGENCY_OFFICER,
          Role.PLATFORM_ADMIN)
