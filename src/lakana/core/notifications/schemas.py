"""API shapes of notifications (separate from the table)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class NotificationOut(BaseModel):
    """A notification, translated into the reader's language."""

    id: int
    title: str
    body: str
    link: str | None
    level: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class UnreadCount(BaseModel):
    """How many notifications the reader has not read."""

    unread: int


class MarkedRead(BaseModel):
    """How many notifications a bulk "mark read" changed."""

    updated: int
