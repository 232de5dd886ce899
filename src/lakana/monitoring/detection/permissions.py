"""Permissions of detection, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class DetectionPermission(StrEnum):
    """What one may do with log events and alerts."""

    #: Send logs for one's institution (a focal point's API token in a shipper).
    INGEST = "detection:event:ingest"
    #: Read alerts and events (institution roles: their own institution's).
    READ = "detection:alert:read"
    #: Triage alerts, suppress rules, open CSIRT cases from alerts.
    TRIAGE = "detection:alert:triage"
    #: See the loaded rules and the unsupported ones.
    RULES_READ = "detection:rules:read"
    #: Register and remove the senders the syslog receiver accepts.
    SOURCES_MANAGE = "detection:source:manage"
    #: Set retention per institution and the rules that escalate alerts to cases.
    POLICY_MANAGE = "detection:policy:manage"


def register() -> None:
    """Grant the detection permissions: focal points ship their institution's logs; every
    staff role reads (scoped); CSIRT analysts (and the platform administrator) triage."""
    grant([DetectionPermission.INGEST], Role.FOCAL_POINT, Role.CSIRT_ANALYST,
          Role.PLATFORM_ADMIN)
    grant([DetectionPermission.READ, DetectionPermission.RULES_READ], *STAFF_ROLES)
    grant([DetectionPermission.TRIAGE], Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
    grant([DetectionPermission.SOURCES_MANAGE, DetectionPermission.POLICY_MANAGE],
          Role.CSIRT_ANALYST, Role.PLATFORM_ADMIN)
