"""Tables of awareness campaigns: a campaign (message, audience, channels, languages,
period, target reach), the reach recorded on its channels, and its outcome indicators.

Campaigns are national (run by the agency); a lead institution is referenced by table name,
never through the registry's models.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class AwarenessCampaign(Base):
    """An awareness campaign: a message to an audience over channels, in languages, during a
    period, with a target number of people reached."""

    __tablename__ = "awareness_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(30), index=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_on: Mapped[dt.date] = mapped_column(Date, index=True)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    lead_institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    target_reach: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), index=True, default="planned")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    reach: Mapped[list[CampaignReach]] = relationship(
        back_populates="campaign", order_by="CampaignReach.reached_on")
    outcomes: Mapped[list[CampaignOutcome]] = relationship(
        back_populates="campaign", order_by="CampaignOutcome.id")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<AwarenessCampaign {self.id} {self.title!r}>"


class CampaignReach(Base):
    """People reached on one channel on one date (a broadcast, a mailing, a workshop), with
    impressions or participants and where the figure comes from."""

    __tablename__ = "awareness_campaign_reach"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_campaign.id", ondelete="CASCADE"), index=True)
    reached_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    people: Mapped[int] = mapped_column(Integer)
    impressions: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    campaign: Mapped[AwarenessCampaign] = relationship(back_populates="reach")

    def __repr__(self) -> str:
        return f"<CampaignReach {self.id} of campaign {self.campaign_id}>"


class CampaignOutcome(Base):
    """An outcome indicator of a campaign (a quiz pass rate, reports received during it...)
    with its value, unit and evidence."""

    __tablename__ = "awareness_campaign_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_campaign.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column()
    unit: Mapped[str] = mapped_column(String(40), default="")
    evidence: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    campaign: Mapped[AwarenessCampaign] = relationship(back_populates="outcomes")

    def __repr__(self) -> str:
        return f"<CampaignOutcome {self.id} of campaign {self.campaign_id}>"
