"""Permissions of exposure monitoring, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class ExposurePermission(StrEnum):
    """What one may do with scans and findings."""

    #: Read findings, scan results and scores (institution roles: their own institution's).
    READ = "exposure:finding:read"
    #: Start a scan of one's institution's endpoints (focal points) or of any (the centre).
    SCAN = "exposure:scan:run"
    #: Triage findings: accept a risk, mark a false positive, open a CSIRT case.
    TRIAGE = "exposure:finding:triage"
    #: The national exposure dashboard and every institution's page.
    NATIONAL_READ = "exposure:national:read"
    #: Import vulnerability feeds (CISA KEV, NVD CVE JSON 2.0).
    FEEDS_MANAGE = "exposure:feeds:manage"


def register() -> None:
    """Grant the exposure permissions: every staff role reads (scoped); focal points scan
    their own endpoints; analysts (and the platform administrator) scan anything, triage and
    import feeds; agency officers and auditors read nationally."""
    grant([ExposurePermission.READ], *STAFF_ROLES)
    grant([ExposurePermission.SCAN], Role.FOCAL_POINT, Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
    grant([ExposurePermission.TRIAGE, ExposurePermission.FEEDS_MANAGE], Role.CSIRT_ANALYST,
          Role.PLATFORM_ADMIN)
    grant([ExposurePermission.NATIONAL_READ], Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN,
          Role.AGENCY_OFFICER, Role.AUDITOR)
