"""Permissions of assessment campaigns, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class CampaignPermission(StrEnum):
    """What one may do with campaigns, assessments and answers."""

    CAMPAIGN_READ = "compliance:campaign:read"
    CAMPAIGN_MANAGE = "compliance:campaign:manage"
    ASSESSMENT_READ = "compliance:assessment:read"
    ANSWER_WRITE = "compliance:answer:write"
    ASSESSMENT_REVIEW = "compliance:assessment:review"
    ASSESSMENT_APPROVE = "compliance:assessment:approve"


def register() -> None:
    """Grant the campaign permissions: everyone reads (institution roles only their own
    institution's assessments, by scope); focal points answer; auditors and agency officers
    review and override; agency officers manage campaigns and approve."""
    grant([CampaignPermission.CAMPAIGN_READ, CampaignPermission.ASSESSMENT_READ], *STAFF_ROLES)
    grant([CampaignPermission.CAMPAIGN_MANAGE, CampaignPermission.ASSESSMENT_APPROVE],
          Role.PLATFORM_ADMIN, Role.AGENCY_OFFICER)
    grant([CampaignPermission.ASSESSMENT_REVIEW], Role.PLATFORM_ADMIN, Role.AGENCY_OFFICER,
          Role.AUDITOR)
    grant([CampaignPermission.ANSWER_WRITE], Role.PLATFORM_ADMIN, Role.FOCAL_POINT)
