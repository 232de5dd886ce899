"""Where an imported case came from: the id it had in a STIX bundle or a MISP event.

Imports are idempotent: importing the same bundle or event twice finds the case made the
first time through this table instead of creating a second one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class ExternalReference(Base):
    """One imported object (a STIX ``incident``/``report``, a MISP event) and its case."""

    __tablename__ = "csirt_external_reference"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``stix`` or ``misp``.
    source: Mapped[str] = mapped_column(String(10))
    #: The STIX id (``incident--<uuid>``) or the MISP event's uuid.
    external_id: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    #: Who sent it (the bundle's identity name, the MISP organisation), for display.
    producer: Mapped[str] = mapped_column(String(200), default="")
    imported_by: Mapped[str] = mapped_column(String(254), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
