"""Tables of the registry: institutions (a hierarchy), contacts, information systems, endpoints."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class Institution(Base):
    """A ministry, agency, public body, or regional or local administration."""

    __tablename__ = "registry_institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    acronym: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    # NO ACTION rather than RESTRICT: checked at the end of a statement, so deleting a whole
    # subtree at once works; the service refuses to delete a parent that still has children.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id"), index=True
    )
    region: Mapped[str] = mapped_column(String(40), index=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    criticality_tier: Mapped[int] = mapped_column(Integer, index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="institution", cascade="all, delete-orphan", order_by="Contact.id"
    )
    parent: Mapped[Institution | None] = relationship(remote_side=[id], lazy="joined",
                                                      innerjoin=False)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Institution {self.acronym}>"


class Contact(Base):
    """A person to reach at an institution (security focal point, CISO, director...)."""

    __tablename__ = "registry_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))

    institution: Mapped[Institution] = relationship(back_populates="contacts")


class InformationSystem(Base):
    """An information system owned by an institution."""

    __tablename__ = "registry_system"
    __table_args__ = (UniqueConstraint("institution_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True
    )
    purpose: Mapped[str] = mapped_column(Text, default="")
    criticality: Mapped[str] = mapped_column(String(20), index=True)
    data_classification: Mapped[str] = mapped_column(String(30), index=True)
    hosting: Mapped[str] = mapped_column(String(30), index=True)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    biometric_data: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    endpoints: Mapped[list[Endpoint]] = relationship(
        back_populates="system", cascade="all, delete-orphan", order_by="Endpoint.id"
    )
    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<InformationSystem {self.name!r}>"


class Endpoint(Base):
    """An internet-facing address of a system: a URL, a domain name or an IP address."""

    __tablename__ = "registry_endpoint"
    __table_args__ = (UniqueConstraint("system_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(
        ForeignKey("registry_system.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(500), index=True)

    system: Mapped[InformationSystem] = relationship(back_populates="endpoints")
