"""Permissions of the training catalogue and tracking, and which roles hold them."""

from enum import StrEnum

from lakana.core.auth.rbac import STAFF_ROLES, Role, grant


class TrainingPermission(StrEnum):
    """What one may do with training."""

    TRAINING_READ = "awareness:training:read"
    TRAINING_WRITE = "awareness:training:write"
    TRAINING_MANAGE = "awareness:training:manage"


def register() -> None:
    """Grant the training permissions: staff read the catalogue (and their own institution's
    trainees, scoped in services); a focal point registers and enrols its own public
    servants; the agency keeps the catalogue, runs sessions and records attendance."""
    grant([TrainingPermission.TRAINING_READ], *STAFF_ROLES)
    grant([TrainingPermission.TRAINING_WRITE], Role.FOCAL_POINT, Role.AGENCY_OFFICER,
          Role.PLATFORM_ADMIN)
    grant([TrainingPermission.TRAINING_MANAGE], Role.AGENCY_OFFICER, Role.PLATFORM_ADMIN)
