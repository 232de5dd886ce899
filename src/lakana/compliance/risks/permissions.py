"""Permissions of the risk register and of national priorities, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class RiskPermission(StrEnum):
    """What one may do with risk registers and national priorities."""

    RISK_READ = "compliance:risk:read"
    RISK_WRITE = "compliance:risk:write"
    PRIORITY_MANAGE = "compliance:priority:manage"


def register() -> None:
    """Grant the risk permissions: everyone reads (institution roles their own institution's
    risks, scoped in services, and the national priorities); a focal point writes its own
    register; the agency writes every register and manages the national priorities."""
    grant([RiskPermission.RISK_READ], *STAFF_ROLES)
    grant([RiskPermission.RISK_WRITE], Role.FOCAL_POINT, Role.AGENCY_OFFICER,
          Role.PLATFORM_ADMIN)
    grant([RiskPermission.PRIORITY_MANAGE], Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
