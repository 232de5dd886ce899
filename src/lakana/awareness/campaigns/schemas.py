"""Pydantic schemas of awareness campaigns: inputs, outputs and reach summaries."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakana.core.i18n import N_
from lakana.registry.schemas import lakana_error


class Audience(StrEnum):
    """Whom a campaign speaks to."""

    PUBLIC_SERVANTS = "public_servants"
    GENERAL_PUBLIC = "general_public"
    YOUTH = "youth"
    PARENTS = "parents"
    BUSINESSES = "businesses"
    ELDERLY = "elderly"


class Channel(StrEnum):
    """How a campaign's message travels."""

    EMAIL = "email"
    SMS = "sms"
    RADIO = "radio"
    TELEVISION = "television"
    SOCIAL_MEDIA = "social_media"
    POSTER = "poster"
    WORKSHOP = "workshop"


class Language(StrEnum):
    """Languages a campaign speaks (ISO 639 codes)."""

    FRENCH = "fr"
    BAMBARA = "bm"
    FULFULDE = "ff"
    SONGHAY = "son"
    TAMASHEQ = "tmh"
    SONINKE = "snk"
    ARABIC = "ar"
    ENGLISH = "en"


class CampaignStatus(StrEnum):
    """Where a campaign stands."""

    PLANNED = "planned"
    RUNNING = "running"
    FINISHED = "finished"


AUDIENCE_LABELS = {Audience.PUBLIC_SERVANTS: N_("Public servants"),
                   Audience.GENERAL_PUBLIC: N_("General public"), Audience.YOUTH: N_("Youth"),
                   Audience.PARENTS: N_("Parents"), Audience.BUSINESSES: N_("Businesses"),
                   Audience.ELDERLY: N_("Elderly people")}
CHANNEL_LABELS = {Channel.EMAIL: N_("E-mail"), Channel.SMS: N_("SMS"), Channel.RADIO: N_("Radio"),
                  Channel.TELEVISION: N_("Television"), Channel.SOCIAL_MEDIA: N_("Social media"),
                  Channel.POSTER: N_("Poster"), Channel.WORKSHOP: N_("Workshop")}
LANGUAGE_LABELS = {Language.FRENCH: N_("French"), Language.BAMBARA: N_("Bambara"),
                   Language.FULFULDE: N_("Fulfulde"), Language.SONGHAY: N_("Songhay"),
                   Language.TAMASHEQ: N_("Tamasheq"), Language.SONINKE: N_("Soninke"),
                   Language.ARABIC: N_("Arabic"), Language.ENGLISH: N_("English")}
STATUS_LABELS = {CampaignStatus.PLANNED: N_("Planned"), CampaignStatus.RUNNING: N_("Running"),
                 CampaignStatus.FINISHED: N_("Finished")}

#: The most people one reach record may count (Mali has about 23 million inhabitants; a
#: national broadcast's audience stays well below this).
MAX_PEOPLE = 100_000_000


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _unique(values: list[StrEnum]) -> list[StrEnum]:
    return list(dict.fromkeys(values))


class CampaignCreate(BaseModel):
    """A new awareness campaign (at least one channel and one language; the end date not
    before the start)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    message: str = Field(default="", max_length=5000)
    audience: Audience
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    languages: list[Language] = Field(min_length=1, max_length=len(Language))
    starts_on: dt.date
    ends_on: dt.date
    lead_institution_id: int | None = Field(default=None, gt=0)
    target_reach: int = Field(default=0, ge=0, le=MAX_PEOPLE)
    status: CampaignStatus = CampaignStatus.PLANNED

    _blank = field_validator("lead_institution_id", mode="before")(_blank_to_none)
    _dedupe = field_validator("channels", "languages")(_unique)

    @model_validator(mode="after")
    def _period(self) -> CampaignCreate:
        if self.ends_on < self.starts_on:
            raise lakana_error(N_("The end date may not be before the start date."))
        return self


class CampaignUpdate(BaseModel):
    """Changes to a campaign; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str | None = Field(default=None, min_length=3, max_length=200)
    message: str | None = Field(default=None, max_length=5000)
    audience: Audience | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1,
                                           max_length=len(Channel))
    languages: list[Language] | None = Field(default=None, min_length=1,
                                             max_length=len(Language))
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    lead_institution_id: int | None = Field(default=None, gt=0)
    target_reach: int | None = Field(default=None, ge=0, le=MAX_PEOPLE)
    status: CampaignStatus | None = None
    version: int | None = None

    _blank = field_validator("lead_institution_id", mode="before")(_blank_to_none)
    _dedupe = field_validator("channels", "languages")(_unique)


class ReachCreate(BaseModel):
    """People reached on one channel on one date."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    reached_on: dt.date
    channel: Channel
    people: int = Field(ge=0, le=MAX_PEOPLE)
    impressions: int | None = Field(default=None, ge=0, le=10 * MAX_PEOPLE)
    note: str = Field(default="", max_length=500)
    source: str = Field(default="", max_length=200)

    _blank = field_validator("impressions", mode="before")(_blank_to_none)


class OutcomeCreate(BaseModel):
    """An outcome indicator of a campaign."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    value: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)
    unit: str = Field(default="", max_length=40)
    evidence: str = Field(default="", max_length=500)


class CampaignQuery(BaseModel):
    """Filters of the list of campaigns."""

    model_config = ConfigDict(extra="forbid")

    status: CampaignStatus | None = None
    audience: Audience | None = None


class CampaignOut(BaseModel):
    """A campaign as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    message: str
    audience: Audience
    channels: list[Channel]
    languages: list[Language]
    starts_on: dt.date
    ends_on: dt.date
    lead_institution_id: int | None
    target_reach: int
    status: CampaignStatus
    version: int
    people_reached: int = 0


class ReachOut(BaseModel):
    """A reach record as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    reached_on: dt.date
    channel: Channel
    people: int
    impressions: int | None
    note: str
    source: str


class OutcomeOut(BaseModel):
    """An outcome indicator as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    name: str
    value: float
    unit: str
    evidence: str


class ChannelTotal(BaseModel):
    """People reached and impressions on one channel."""

    channel: Channel
    people: int
    impressions: int
    records: int


class ReachSummary(BaseModel):
    """A campaign's reach against its target, in total and per channel."""

    campaign_id: int
    target_reach: int
    people_reached: int
    impressions: int
    progress: int | None = Field(description="People reached against the target, in percent "
                                             "(may exceed 100); none without a target.")
    channels: list[ChannelTotal]
