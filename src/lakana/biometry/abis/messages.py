"""The MOSIP ABIS API v0.9 messages (docs.mosip.io, "ABIS API"), field names as the
specification spells them.

A request is first read loosely (every field optional, unknown flags kept) so that a wrong
or missing field is answered with the specification's ``failureReason`` code rather than an
HTTP validation error. Tolerated spellings of older revisions of the specification: ``ver``
for ``version``, ``referenceUrl`` for ``referenceURL`` and ``requestTime`` for
``requesttime``. ``lakanaCbeff`` (base64 of a CBEFF XML document) is a Lakana extension
for offline use and tests: the biometric data inline instead of behind ``referenceURL``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

INSERT = "mosip.abis.insert"
IDENTIFY = "mosip.abis.identify"
DELETE = "mosip.abis.delete"
PING = "mosip.abis.ping"
PENDING_JOBS = "mosip.abis.pendingJobs"
REFERENCE_COUNT = "mosip.abis.referenceCount"
#: Operations answered by a background job (the response is fetched later).
QUEUED_OPERATIONS = frozenset({INSERT, IDENTIFY, DELETE})
#: Operations answered at once.
IMMEDIATE_OPERATIONS = frozenset({PING, PENDING_JOBS, REFERENCE_COUNT})
OPERATIONS = QUEUED_OPERATIONS | IMMEDIATE_OPERATIONS
#: Message versions accepted (the specification's examples all say 1.1).
SUPPORTED_VERSIONS = frozenset({"1.1"})

SUCCESS = "1"
FAILED = "2"


class FailureReason(StrEnum):
    """The specification's failure reason codes."""

    INTERNAL_ERROR = "1"
    ABORTED = "2"
    UNEXPECTED_ERROR = "3"
    INVALID_STRUCTURE = "4"
    MISSING_REFERENCE_ID = "5"
    MISSING_REQUEST_ID = "6"
    UNABLE_TO_FETCH = "7"
    MISSING_REFERENCE_URL = "8"
    MISSING_REQUEST_TIME = "9"
    REFERENCE_ID_EXISTS = "10"
    CBEFF_NO_DATA = "11"
    REFERENCE_ID_NOT_FOUND = "12"
    INVALID_VERSION = "13"
    INVALID_ID = "14"
    INVALID_REQUEST_TIME = "15"
    INVALID_CBEFF = "16"
    DATASHARE_EXPIRED = "17"
    QUALITY_CHECK_FAILED = "18"


class AbisFailure(Exception):  # noqa: N818  (carries a protocol answer, not a bug)
    """An operation ends with a failure response carrying ``reason``. ``detail`` is for
    Lakana's own logs and ledger (never biometric content)."""

    def __init__(self, reason: FailureReason, detail: str = "") -> None:
        super().__init__(f"ABIS failure {reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class GalleryEntry(BaseModel):
    """One ``gallery.referenceIds`` entry."""

    model_config = ConfigDict(extra="ignore")

    referenceId: str | None = None  # noqa: N815  (the specification's name)


class Gallery(BaseModel):
    """Identify's optional gallery: only these references are searched."""

    model_config = ConfigDict(extra="ignore")

    referenceIds: list[GalleryEntry] = Field(default_factory=list)  # noqa: N815


class AbisRequestMessage(BaseModel):
    """Any ABIS request, read loosely; :func:`check_request` says what is wrong with it."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    version: str | None = None
    ver: str | None = None
    requestId: str | None = None  # noqa: N815
    requesttime: str | None = None
    requestTime: str | None = None  # noqa: N815
    referenceId: str | None = None  # noqa: N815
    referenceURL: str | None = None  # noqa: N815
    referenceUrl: str | None = None  # noqa: N815
    flags: dict[str, Any] | None = None
    gallery: Gallery | None = None
    #: Lakana extension: the CBEFF XML document, base64, instead of referenceURL.
    lakanaCbeff: str | None = None  # noqa: N815

    @property
    def message_version(self) -> str | None:
        """``version`` (or the older ``ver``)."""
        return self.version or self.ver

    @property
    def request_time(self) -> str | None:
        """``requesttime`` (or ``requestTime``)."""
        return self.requesttime or self.requestTime

    @property
    def reference_url(self) -> str:
        """``referenceURL`` (or ``referenceUrl``); empty when absent."""
        return (self.referenceURL or self.referenceUrl or "").strip()

    @property
    def gallery_ids(self) -> list[str] | None:
        """The gallery's referenceIds, or ``None`` to search every reference."""
        if self.gallery is None:
            return None
        return [g.referenceId for g in self.gallery.referenceIds if g.referenceId]

    def flag_int(self, name: str) -> int | None:
        """A flag given as a number or a numeric string (the examples use strings)."""
        value = (self.flags or {}).get(name)
        if value is None or value == "":
            return None
        try:
            return int(str(value).strip())
        except ValueError:
            raise AbisFailure(FailureReason.INVALID_STRUCTURE,
                              f"flag {name} is not a number") from None


def check_request(message: AbisRequestMessage) -> None:
    """Raise :class:`AbisFailure` with the specification's code for a malformed request."""
    if message.id not in OPERATIONS:
        raise AbisFailure(FailureReason.INVALID_ID, "unknown id")
    if not message.requestId:
        raise AbisFailure(FailureReason.MISSING_REQUEST_ID)
    if len(message.requestId) > 80:
        raise AbisFailure(FailureReason.INVALID_STRUCTURE, "requestId longer than 80")
    if message.message_version not in SUPPORTED_VERSIONS:
        raise AbisFailure(FailureReason.INVALID_VERSION)
    if not message.request_time:
        raise AbisFailure(FailureReason.MISSING_REQUEST_TIME)
    try:
        dt.datetime.fromisoformat(message.request_time)
    except ValueError:
        raise AbisFailure(FailureReason.INVALID_REQUEST_TIME) from None
    if message.id in (INSERT, DELETE) and not message.referenceId:
        raise AbisFailure(FailureReason.MISSING_REFERENCE_ID)
    if message.referenceId is not None and len(message.referenceId) > 80:
        raise AbisFailure(FailureReason.INVALID_STRUCTURE, "referenceId longer than 80")
    has_data = bool(message.reference_url or message.lakanaCbeff)
    if message.id == INSERT and not has_data:
        raise AbisFailure(FailureReason.MISSING_REFERENCE_URL)
    if message.id == IDENTIFY:
        if not message.referenceId and not has_data:
            raise AbisFailure(FailureReason.MISSING_REFERENCE_ID,
                              "neither referenceId nor referenceURL")
        message.flag_int("maxResults")
        message.flag_int("targetFPIR")


def response_time(now: dt.datetime | None = None) -> str:
    """``responsetime`` as the specification writes it: UTC, milliseconds, ``Z``."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def success(message_id: str, request_id: str, **extra: Any) -> dict[str, Any]:
    """A success response message (``returnValue`` "1")."""
    return {"id": message_id, "requestId": request_id, "responsetime": response_time(),
            "returnValue": SUCCESS, **extra}


def failure(message_id: str | None, request_id: str | None,
            reason: FailureReason) -> dict[str, Any]:
    """A failure response message (``returnValue`` "2" and ``failureReason``)."""
    return {"id": message_id, "requestId": request_id, "responsetime": response_time(),
            "returnValue": FAILED, "failureReason": reason.value}
