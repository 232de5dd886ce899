"""Tables of the CSIRT sharing slice: which cases are shared with which sharing group, and
the STIX objects materialised for each group's TAXII collection.

A share materialises the case's STIX objects once (:class:`SharedObject`), so that TAXII
pulls read one indexed table instead of rebuilding STIX on every request; a re-share adds
only new versions. What is served is still filtered at serve time by the case's current TLP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class CaseShare(Base):
    """A case shared with a sharing group (partner CERTs pull it over TAXII)."""

    __tablename__ = "csirt_case_share"
    __table_args__ = (UniqueConstraint("case_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_sharing_group.id", ondelete="CASCADE"), index=True)
    shared_by: Mapped[str] = mapped_column(String(254), default="")
    shared_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When the objects were last materialised again (a re-share after the case changed).
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SharedObject(Base):
    """One version of one STIX object in a sharing group's TAXII collection."""

    __tablename__ = "csirt_shared_object"
    __table_args__ = (
        UniqueConstraint("group_id", "stix_id", "version"),
        # the feed is read in (date_added, id) order, one group at a time
        Index("ix_csirt_shared_object_feed", "group_id", "date_added", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_sharing_group.id", ondelete="CASCADE"))
    stix_id: Mapped[str] = mapped_column(String(120))
    stix_type: Mapped[str] = mapped_column(String(60), index=True)
    spec_version: Mapped[str] = mapped_column(String(10), default="2.1")
    #: The object's version as TAXII names it: its ``modified`` (else ``created``, else the
    #: date it was added) as a STIX timestamp string, exactly as in the payload.
    version: Mapped[str] = mapped_column(String(40))
    #: The same instant as a datetime, for ordering versions (first/last) and matching them.
    version_at: Mapped[dt.datetime] = mapped_column()
    #: TAXII ``date_added``: when this version entered the collection (aware UTC).
    date_added: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: The case it came from (``None`` for the centre's identity), for TLP re-checks.
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("csirt_case.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
