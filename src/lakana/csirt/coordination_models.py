"""Tables of the CSIRT coordination slice: notices sent to institutions, webhooks and their
deliveries.

A :class:`CaseNotice` is a message the centre sends to an institution about a case. It carries
its own text: the institution reads the notice, not the case (a case of another institution
stays invisible to it). A :class:`Webhook` is an institution's (or the centre's) HTTPS
endpoint; each event sent to it is a :class:`WebhookDelivery`, retried by the job queue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class CaseNotice(Base):
    """A message of the centre to one institution about a case, and its acknowledgement."""

    __tablename__ = "csirt_case_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    #: Plain text, shown escaped; never TLP:RED (RED is for named people only).
    message: Mapped[str] = mapped_column(Text)
    tlp: Mapped[str] = mapped_column(String(15), default="amber")
    sent_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"))
    sent_by: Mapped[str] = mapped_column(String(254), default="")
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"))
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))


class Webhook(Base):
    """An HTTPS endpoint that receives signed events (HMAC-SHA256 of its secret)."""

    __tablename__ = "csirt_webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The owning institution; ``None`` for a centre-wide webhook (every subscribed event).
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: The signing secret, encrypted with a key derived from the platform's secret key
    #: (AES-GCM); shown in clear once, at creation.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    #: Event names subscribed to (``case.notification``, ``advisory.published``...).
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Deliveries failed for good in a row (reset by a success); disabled at the limit.
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    last_success_at: Mapped[dt.datetime | None] = mapped_column()
    last_failure_at: Mapped[dt.datetime | None] = mapped_column()
    disabled_reason: Mapped[str] = mapped_column(String(300), default="")


class WebhookDelivery(Base):
    """One event sent (or to send) to one webhook, with its attempts."""

    __tablename__ = "csirt_webhook_delivery"
    __table_args__ = (Index("ix_csirt_webhook_delivery_hook_created", "webhook_id",
                            "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("csirt_webhook.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: pending, delivered or failed.
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
