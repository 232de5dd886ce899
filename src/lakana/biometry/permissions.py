"""Permissions of the biometric registry, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import Role, grant


class BiometryPermission(StrEnum):
    """What one may do in the biometric registry."""

    #: Submit enrollment packets (registration centres' agents and clients).
    ENROL = "biometry:enrollment:write"
    #: Read persons and enrollments (demographics, quality, lifecycle; never templates).
    PERSON_READ = "biometry:person:read"
    #: View a person's biometric images (adjudication side-by-side view).
    IMAGE_READ = "biometry:image:read"
    #: Decide possible duplicates.
    ADJUDICATE = "biometry:adjudication:decide"
    #: Record a death, a lawful deletion, run retention.
    LIFECYCLE = "biometry:person:lifecycle"
    #: Register relying services, their purposes and credentials.
    SERVICE_MANAGE = "biometry:service:manage"
    #: Rotate master keys.
    KEYS_MANAGE = "biometry:keys:manage"
    #: Read the oversight dashboards: accesses, anomalies, deletions, rotations, complaints.
    OVERSIGHT_READ = "biometry:oversight:read"
    #: Handle citizens' complaints (the data protection authority).
    COMPLAINT_HANDLE = "biometry:complaint:handle"
    #: Operate the ABIS API (MOSIP): insert, identify, delete references. Give a machine
    #: an API token of a registry administrator scoped to this permission alone.
    ABIS = "biometry:abis:operate"


def register() -> None:
    """Grant the registry's permissions to its own roles (and the platform administrator,
    who holds every permission)."""
    grant([BiometryPermission.ENROL, BiometryPermission.PERSON_READ], Role.ENROLMENT_AGENT,
          Role.ADJUDICATOR, Role.REGISTRY_ADMIN)
    grant([BiometryPermission.IMAGE_READ, BiometryPermission.ADJUDICATE], Role.ADJUDICATOR,
          Role.REGISTRY_ADMIN)
    grant([BiometryPermission.LIFECYCLE, BiometryPermission.SERVICE_MANAGE,
           BiometryPermission.KEYS_MANAGE, BiometryPermission.OVERSIGHT_READ,
           BiometryPermission.ABIS], Role.REGISTRY_ADMIN)
    grant([BiometryPermission.OVERSIGHT_READ, BiometryPermission.COMPLAINT_HANDLE,
           BiometryPermission.PERSON_READ], Role.PROTECTION_AUDITOR)
