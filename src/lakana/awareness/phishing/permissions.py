"""Permissions of phishing exercises, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import Role, grant


class PhishingPermission(StrEnum):
    """What one may do with phishing exercises."""

    PHISHING_READ = "awareness:phishing:read"
    PHISHING_MANAGE = "awareness:phishing:manage"


def register() -> None:
    """Grant the phishing permissions: an institution's managers (focal point, viewer) read
    their own exercises' aggregates and pseudonymised rows; the agency's exercise team
    (agency officers) runs exercises and sees who the targets are."""
    grant([PhishingPermission.PHISHING_READ], Role.FOCAL_POINT, Role.INSTITUTION_VIEWER,
          Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
    grant([PhishingPermission.PHISHING_MANAGE], Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
