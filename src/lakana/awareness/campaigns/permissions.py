"""Permissions of awareness campaigns, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class CampaignPermission(StrEnum):
    """What one may do with awareness campaigns."""

    CAMPAIGNS_READ = "awareness:campaign:read"
    CAMPAIGNS_MANAGE = "awareness:campaign:manage"


def register() -> None:
    """Grant the campaign permissions: staff (institution focal points included) read the
    campaigns; the agency plans them and records their reach and outcomes."""
    grant([CampaignPermission.CAMPAIGNS_READ], *STAFF_ROLES)
    grant([CampaignPermission.CAMPAIGNS_MANAGE], Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
