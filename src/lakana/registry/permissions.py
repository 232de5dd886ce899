"""Permissions of the registry domain, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class RegistryPermission(StrEnum):
    """What one may do with institutions and information systems."""

    INSTITUTION_READ = "registry:institution:read"
    INSTITUTION_CREATE = "registry:institution:create"
    INSTITUTION_WRITE = "registry:institution:write"
    SYSTEM_READ = "registry:system:read"
    SYSTEM_WRITE = "registry:system:write"


def register() -> None:
    """Grant the registry's permissions to roles."""
    from lakana.core.plugins import register_institution_choices, register_institution_lookup
    from lakana.registry.service import get_institution_id_by_acronym, institution_choices

    register_institution_lookup(
        lambda session, acronym: get_institution_id_by_acronym(session=session, acronym=acronym))
    register_institution_choices(lambda session: institution_choices(session=session))
    read = [RegistryPermission.INSTITUTION_READ, RegistryPermission.SYSTEM_READ]
    grant(read, *STAFF_ROLES)
    grant(RegistryPermission, Role.PLATFORM_ADMIN, Role.AGENCY_OFFICER)
    grant([RegistryPermission.INSTITUTION_WRITE, RegistryPermission.SYSTEM_WRITE],
          Role.FOCAL_POINT)
