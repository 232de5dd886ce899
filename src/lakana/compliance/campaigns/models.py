"""Tables of assessment campaigns: campaigns, their targets and frozen requirement sets,
assessments (one per target institution), answers, evidence links.

Institutions and systems belong to the registry: they are referenced by string foreign keys,
without relationships across domains.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.compliance.models import Profile, Requirement
from lakana.core.db import Base, utcnow


class Campaign(Base):
    """A yearly campaign: a profile assessed by a set of institutions before a deadline."""

    __tablename__ = "compliance_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer, index=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_profile.id", ondelete="RESTRICT"), index=True)
    deadline: Mapped[dt.date] = mapped_column(Date)
    #: draft, open or closed.
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    profile: Mapped[Profile] = relationship(lazy="joined", innerjoin=True)
    targets: Mapped[list[CampaignTarget]] = relationship(
        cascade="all, delete-orphan", order_by="CampaignTarget.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def target_ids(self) -> list[int]:
        """The ids of the target institutions."""
        return [t.institution_id for t in self.targets]


class CampaignTarget(Base):
    """An institution a campaign assesses."""

    __tablename__ = "compliance_campaign_target"
    __table_args__ = (UniqueConstraint("campaign_id", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_campaign.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)


class CampaignRequirement(Base):
    """One requirement of the profile's resolved set, frozen when the campaign is launched."""

    __tablename__ = "compliance_campaign_requirement"
    __table_args__ = (UniqueConstraint("campaign_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_campaign.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_requirement.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer)


class Assessment(Base):
    """The self-assessment of one institution (optionally one of its systems) in a campaign.

    At most one per campaign × system, and one institution-level assessment (no system) per
    campaign × institution: both are guaranteed by the database, not only by the service.
    """

    __tablename__ = "compliance_assessment"
    __table_args__ = (
        UniqueConstraint("campaign_id", "system_id"),
        Index("uq_compliance_assessment_institution_level", "campaign_id", "institution_id",
              unique=True, sqlite_where=text("system_id IS NULL"),
              postgresql_where=text("system_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_campaign.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="RESTRICT"), index=True)
    #: draft, submitted, reviewed or approved.
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    submitted_by: Mapped[str | None] = mapped_column(String(254))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column()
    reviewed_by: Mapped[str | None] = mapped_column(String(254))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(254))
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    campaign: Mapped[Campaign] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}


class Answer(Base):
    """The answer to one requirement; an auditor's override is kept beside it."""

    __tablename__ = "compliance_answer"
    __table_args__ = (UniqueConstraint("assessment_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_assessment.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_requirement.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: implemented, partial, not_implemented, not_applicable; None while unanswered.
    status: Mapped[str | None] = mapped_column(String(20))
    maturity: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")
    carried_over: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[str | None] = mapped_column(String(254))
    answered_at: Mapped[dt.datetime | None] = mapped_column()
    override_status: Mapped[str | None] = mapped_column(String(20))
    override_maturity: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by: Mapped[str | None] = mapped_column(String(254))
    overridden_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    requirement: Mapped[Requirement] = relationship(lazy="joined", innerjoin=True)
    evidence: Mapped[list[AnswerEvidence]] = relationship(
        cascade="all, delete-orphan", order_by="AnswerEvidence.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def control_id(self) -> str:
        """The requirement's control id (stable across catalog versions)."""
        return self.requirement.control_id

    @property
    def effective_status(self) -> str | None:
        """The auditor's status when overridden, else the institution's."""
        return self.override_status or self.status

    @property
    def effective_maturity(self) -> int | None:
        """The auditor's maturity when overridden, else the institution's."""
        return self.override_maturity if self.override_maturity is not None else self.maturity

    @property
    def is_overridden(self) -> bool:
        """Whether an auditor overrode the rating."""
        return self.overridden_at is not None


class AnswerEvidence(Base):
    """A file of the core store given as evidence for an answer."""

    __tablename__ = "compliance_answer_evidence"
    __table_args__ = (UniqueConstraint("answer_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_answer.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("core_file.id", ondelete="RESTRICT"),
                                         index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(254))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
