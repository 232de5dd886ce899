"""Permissions of the skills register, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class SkillsPermission(StrEnum):
    """What one may do with the skills register."""

    SKILLS_READ = "awareness:skills:read"
    SKILLS_WRITE = "awareness:skills:write"


def register() -> None:
    """Grant the skills permissions: staff read (institution roles their own institution's
    register, scoped in services); a focal point keeps its own register; the agency keeps
    every register."""
    grant([SkillsPermission.SKILLS_READ], *STAFF_ROLES)
    grant([SkillsPermission.SKILLS_WRITE], Role.FOCAL_POINT, Role.AGENCY_OFFICER,
          Role.PLATFORM_ADMIN)
