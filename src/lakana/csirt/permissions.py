"""Permissions of the incident response centre, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class CsirtPermission(StrEnum):
    """What one may do with incident cases."""

    #: Read cases (institution roles: their own institution's cases, scoped in services).
    CASE_READ = "csirt:case:read"
    #: Report an incident for one's institution (focal points) or any (the centre).
    CASE_REPORT = "csirt:case:report"
    #: Add notes, attachments, observables and timeline entries to a visible case.
    CASE_CONTRIBUTE = "csirt:case:contribute"
    #: Triage, assign, move through the lifecycle, close, manage tasks and clocks.
    CASE_MANAGE = "csirt:case:manage"
    #: See the public reports queue and national metrics.
    NATIONAL_READ = "csirt:national:read"
    #: Coordinate: notify institutions, publish advisories, share with partner sharing
    #: groups, import and export STIX/MISP (the centre).
    COORDINATE = "csirt:coordination:manage"
    #: Read the advisories addressed to institutions (public ones need no account).
    ADVISORY_READ = "csirt:advisory:read"
    #: Register webhook endpoints (institution staff: their own institution's).
    WEBHOOK_MANAGE = "csirt:webhook:manage"
    #: Pull what is shared with one's sharing groups (TAXII): partner CERTs.
    SHARING_PULL = "csirt:sharing:pull"


def register() -> None:
    """Grant the CSIRT permissions: every role reads (scoped); focal points report and
    contribute for their institution; analysts (and the platform administrator) manage;
    auditors and agency officers read nationally."""
    grant([CsirtPermission.CASE_READ], *STAFF_ROLES)
    grant([CsirtPermission.CASE_REPORT, CsirtPermission.CASE_CONTRIBUTE], Role.FOCAL_POINT,
          Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
    grant([CsirtPermission.CASE_MANAGE], Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
    grant([CsirtPermission.NATIONAL_READ], Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN,
          Role.AGENCY_OFFICER, Role.AUDITOR)
    grant([CsirtPermission.COORDINATE], Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
    grant([CsirtPermission.ADVISORY_READ], *STAFF_ROLES)
    grant([CsirtPermission.WEBHOOK_MANAGE], Role.FOCAL_POINT, Role.CSIRT_ANALYST,
          Role.PLATFORM_ADMIN)
    grant([CsirtPermission.SHARING_PULL], Role.PARTNER, Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
