"""Tables of the CSIRT advisories: what the centre tells institutions and the public.

An advisory is written as a draft, then published: publishing renders it as an OASIS CSAF
2.0 document, checks it against the official schema, signs it (OpenPGP) and keeps the
document *exactly as published* with its hashes and signature. A published advisory changes
only through a revision, which republishes it at once (so what the pages show is always
what was signed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class Advisory(Base):
    """A security advisory (French text first, optional English version)."""

    __tablename__ = "csirt_advisory"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: CSAF ``/document/tracking/id``, e.g. ``ML-CSIRT-2026-0001``.
    tracking_id: Mapped[str] = mapped_column(String(40), unique=True)
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    summary_fr: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    details_fr: Mapped[str] = mapped_column(Text, default="")
    details_en: Mapped[str] = mapped_column(Text, default="")
    #: ``institutions`` or ``public``.
    audience: Mapped[str] = mapped_column(String(20), index=True)
    #: TLP 2.0: clear (any audience), green or amber (institutions only).
    tlp: Mapped[str] = mapped_column(String(15), index=True)
    #: low, medium, high or critical (CSAF ``aggregate_severity``).
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    #: ``["CVE-2026-12345", ...]``.
    cves: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ``[{"vendor", "product", "affected", "fixed"}]`` (version range, fixed versions).
    products: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: ``[{"category", "details", "url"}]`` (vendor_fix, mitigation, workaround...).
    remediations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: ``[{"url", "summary"}]``.
    references: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: ``draft`` or ``published``.
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    #: The case the advisory came from (never exported).
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("csirt_case.id", ondelete="SET NULL"), index=True)
    #: CSAF ``revision_history``: ``[{"number", "date", "summary"}]``, one per publication.
    revisions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    initial_release_date: Mapped[dt.datetime | None] = mapped_column()
    current_release_date: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: The CSAF document exactly as published (UTF-8 text), its hashes and signature.
    csaf_document: Mapped[str | None] = mapped_column(Text)
    csaf_sha256: Mapped[str | None] = mapped_column(String(64))
    csaf_sha512: Mapped[str | None] = mapped_column(String(128))
    csaf_signature: Mapped[str | None] = mapped_column(Text)
    #: Fingerprint of the OpenPGP key that signed it.
    signing_key: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_by: Mapped[str] = mapped_column(String(254), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Advisory {self.tracking_id} {self.status}>"
