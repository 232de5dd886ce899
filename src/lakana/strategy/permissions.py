"""Permissions of the national strategy's action plan, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class StrategyPermission(StrEnum):
    """What one may do with the action plan."""

    PLAN_READ = "strategy:plan:read"
    PLAN_MANAGE = "strategy:plan:manage"


def register() -> None:
    """Grant the plan permissions: every staff member reads the plan; the agency edits,
    imports and exports it."""
    grant([StrategyPermission.PLAN_READ], *STAFF_ROLES)
    grant([StrategyPermission.PLAN_MANAGE], Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
