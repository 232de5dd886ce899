"""Helpers of the ABIS tests: synthetic finger templates (cached), CBEFF documents, request
messages, and running the job queue to the end."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.abis.cbeff import build_cbeff
from lakana.biometry.synthetic import synthetic_finger
from lakana.core.config import Settings
from lakana.core.jobs.service import run_next

#: MOSIP subtypes of the positions the tests use.
SUBTYPES = {2: "Right IndexFinger", 7: "Left IndexFinger"}


@functools.cache
def iso_template(seed: int, impression: int = 0, position: int = 2) -> bytes:
    """The ISO/IEC 19794-2 record of a synthetic finger (generated data, not a person)."""
    sample = runtime.engine().finger_from_image(synthetic_finger(seed, impression),
                                                position=position)
    return sample.iso_template


def cbeff_of(seed: int, impression: int = 0, *, positions: tuple[int, ...] = (2,)) -> bytes:
    """A CBEFF document holding minutiae records of synthetic finger ``seed``."""
    return build_cbeff([("Finger", SUBTYPES[p], iso_template(seed + p, impression, p))
                        for p in positions])


def message(operation: str, **fields: Any) -> dict[str, Any]:
    """An ABIS request message with a fresh requestId."""
    body: dict[str, Any] = {"id": f"mosip.abis.{operation}", "version": "1.1",
                            "requestId": str(uuid.uuid4()),
                            "requesttime": dt.datetime.now(dt.UTC).isoformat()}
    body.update(fields)
    return body


def inline(document: bytes) -> str:
    """The Lakana extension field's value for a CBEFF document."""
    return base64.b64encode(document).decode()


def drain(settings: Settings, session_factory: sessionmaker[Session],
          worker_id: str = "tests") -> int:
    """Run every due job; how many ran."""
    ran = 0
    while run_next(settings, session_factory, worker_id=worker_id) is not None:
        ran += 1
    return ran
