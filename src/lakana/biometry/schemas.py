"""Pydantic shapes of the biometric registry: demographics, enrollment packets and the
answers given to relying services (never a template or an image)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: ISO/IEC 19794-2 finger position codes.
FINGER_POSITIONS: dict[int, str] = {
    1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring",
    5: "right little", 6: "left thumb", 7: "left index", 8: "left middle",
    9: "left ring", 10: "left little",
}

#: The regions of Mali (and the district of Bamako), as recorded for statistics.
REGIONS: tuple[str, ...] = (
    "Bamako", "Kayes", "Koulikoro", "Sikasso", "Ségou", "Mopti", "Tombouctou", "Gao",
    "Kidal", "Ménaka", "Taoudénit", "Nioro", "Kita", "Dioïla", "Nara", "Bougouni", "Koutiala",
    "San", "Douentza", "Bandiagara",
)


class Demographics(BaseModel):
    """The person's demographic data; sealed as one JSON object."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    nin: str = Field(min_length=6, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    surname: str = Field(min_length=1, max_length=100)
    given_names: str = Field(min_length=1, max_length=200)
    sex: Literal["F", "M", "X"]
    date_of_birth: dt.date
    place_of_birth: str = Field(min_length=1, max_length=120)
    region: str = Field(min_length=1, max_length=40)
    #: Mobile number for one-time codes (E.164), optional.
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")


class CaptureIn(BaseModel):
    """One capture in a packet: base64 image (PNG/JPEG/WSQ for fingers, PNG/JPEG for the
    face) or, for a finger, an ISO/IEC 19794-2 template."""

    model_config = ConfigDict(extra="forbid")

    modality: Literal["face", "finger"]
    #: ISO/IEC 19794-2 finger position (1-10); 0 for the face.
    position: int = Field(default=0, ge=0, le=10)
    image_base64: str | None = Field(default=None, max_length=4_000_000)
    #: Resolution of a finger image, pixels per inch (500 expected).
    ppi: int = Field(default=500, ge=250, le=1000)
    iso_template_base64: str | None = Field(default=None, max_length=100_000)


class EnrollmentPacket(BaseModel):
    """What a registration client sends: one packet per enrollment, with its own id so a
    replay is recognised."""

    model_config = ConfigDict(extra="forbid")

    packet_id: str = Field(min_length=8, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$")
    kind: Literal["new", "update"] = "new"
    centre: str = Field(min_length=1, max_length=120)
    device: str = Field(min_length=1, max_length=120)
    captured_at: dt.datetime
    demographics: Demographics
    captures: list[CaptureIn] = Field(min_length=1, max_length=11)
