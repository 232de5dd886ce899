"""Tables of the skills register: people holding security roles, and their certifications.

Role profiles themselves are data shipped with the package (``data/ecsf.json``), referenced
here by their identifier. Institutions belong to the registry domain: referenced by table
name, never through the registry's models.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class RoleHolder(Base):
    """A person holding an ECSF role profile in an institution, from ``since`` to ``until``
    (open-ended while ``until`` is empty)."""

    __tablename__ = "awareness_role_holder"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    profile_id: Mapped[str] = mapped_column(String(40), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    position: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date, index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    certifications: Mapped[list[Certification]] = relationship(
        back_populates="holder", cascade="all, delete-orphan",
        order_by="Certification.obtained_on")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<RoleHolder {self.id} {self.profile_id}>"


class Certification(Base):
    """A certification a role holder earned (CISSP, ISO 27001 Lead Auditor...), with its
    expiry when it has one."""

    __tablename__ = "awareness_certification"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_role_holder.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(120), default="")
    credential_id: Mapped[str | None] = mapped_column(String(120))
    obtained_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    holder: Mapped[RoleHolder] = relationship(back_populates="certifications")

    def __repr__(self) -> str:
        return f"<Certification {self.id} {self.name!r}>"
