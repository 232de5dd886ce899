"""Registry services: institutions (hierarchy) and information systems."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.registry.models import Institution


def get_institution_id_by_acronym(*, session: Session, acronym: str) -> int | None:
    """The id of the institution with this acronym (case-insensitive), if any."""
    return session.scalar(select(Institution.id).where(Institution.acronym == acronym.upper()))
