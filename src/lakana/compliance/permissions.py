"""Permissions of the compliance domain, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class CompliancePermission(StrEnum):
    """What one may do with the national baseline's catalogs and profiles."""

    CATALOG_READ = "compliance:catalog:read"
    CATALOG_MANAGE = "compliance:catalog:manage"


def register() -> None:
    """Grant the compliance permissions to roles: the baseline is national, everyone reads it;
    the agency imports catalogs and profiles."""
    grant([CompliancePermission.CATALOG_READ], *STAFF_ROLES)
    grant([CompliancePermission.CATALOG_MANAGE], Role.PLATFORM_ADMIN, Role.AGENCY_OFFICER)
