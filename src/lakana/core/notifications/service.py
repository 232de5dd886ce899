"""Notify people: an inbox row per recipient and, optionally, an e-mail job.

Titles and bodies are English message ids with ``%(name)s`` parameters, translated when
shown (in the reader's language) and when the e-mail is queued (in the recipient's
language). Put free text (a case title, a name) in ``params``, never in the message id.
Each person sees only their own notifications: another person's id answers 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, CorePermission
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.notifications.mail import queue_email
from lakana.core.notifications.models import Notification

LEVELS: tuple[str, ...] = ("info", "success", "warning", "danger")


def render_text(message: str, params: Mapping[str, Any] | None = None) -> str:
    """Translate ``message`` in the current language and fill its parameters safely."""
    text = i18n.gettext(message)
    if not params:
        return text
    try:
        return text % dict(params)
    except (KeyError, ValueError, TypeError):  # a stray "%" must not break a page
        return text


@dataclass(frozen=True)
class NotificationView:
    """A notification as one person reads it: translated, with its state."""

    id: int
    title: str
    body: str
    link: str | None
    level: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @property
    def is_read(self) -> bool:
        """Whether the reader has marked it read."""
        return self.read_at is not None


def to_view(item: Notification) -> NotificationView:
    """Translate a stored notification for the current language."""
    return NotificationView(
        id=item.id, title=render_text(item.title, item.params),
        body=render_text(item.body, item.params) if item.body else "", link=item.link,
        level=item.level, created_at=as_utc(item.created_at),
        read_at=as_utc(item.read_at) if item.read_at else None)


def _check_link(link: str | None) -> None:
    # Browsers read "/\\host" and "/<tab>/host" as "//host": refuse backslashes and spaces too.
    if link is not None and (not link.startswith("/") or link.startswith("//")
                             or "\\" in link or not link.isprintable() or " " in link):
        raise Invalid("A notification's link must be a path on this site (%(link)s).",
                      link=link)


def notify(*, session: Session, user_ids: Iterable[int], title: str, body: str = "",
           params: Mapping[str, Any] | None = None, link: str | None = None,
           level: str = "info", email: bool = True) -> list[Notification]:
    """Put a notification in each user's inbox and, with ``email``, queue an e-mail to each.

    Unknown user ids are skipped; inactive users get the inbox row but no e-mail. Nothing
    is committed: the notifications and their e-mail jobs share the caller's transaction.
    """
    if level not in LEVELS:
        raise Invalid("Unknown notification level %(level)s.", level=level)
    _check_link(link)
    values = dict(params or {})
    users = session.scalars(select(User).where(User.id.in_(set(user_ids)))
                            .order_by(User.id)).all()
    created: list[Notification] = []
    for user in users:
        item = Notification(user_id=user.id, title=title[:200], body=body, params=values,
                            link=link, level=level, created_at=utcnow())
        session.add(item)
        created.append(item)
        if email and user.is_active:
            with i18n.use_language(user.language):
                queue_email(session, to=[user.email], subject=render_text(title, values),
                            body=render_text(body, values) if body else "", link=link)
    session.flush()
    return created


def _own(stmt: Any, actor: Actor) -> Any:
    actor.require(CorePermission.NOTIFICATION_READ)
    if actor.user_id is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("notification"))
    return stmt.where(Notification.user_id == actor.user_id)


def list_notifications(*, session: Session, actor: Actor, limit: int = 50, offset: int = 0,
                       unread_only: bool = False) -> tuple[list[Notification], int]:
    """The actor's own notifications, newest first, and how many there are in all."""
    stmt = _own(select(Notification), actor)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), int(total)


def unread_count(*, session: Session, actor: Actor) -> int:
    """How many of the actor's notifications are unread."""
    stmt = _own(select(func.count()).select_from(Notification), actor)
    return int(session.execute(stmt.where(Notification.read_at.is_(None))).scalar_one())


def get_notification(*, session: Session, actor: Actor, notification_id: int) -> Notification:
    """One of the actor's notifications (404 for anyone else's)."""
    item: Notification | None = session.execute(_own(select(Notification), actor).where(
        Notification.id == notification_id)).scalar_one_or_none()
    if item is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("notification"))
    return item


def mark_read(*, session: Session, actor: Actor, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read (once; later calls keep the first time)."""
    item = get_notification(session=session, actor=actor, notification_id=notification_id)
    if item.read_at is None:
        item.read_at = utcnow()
        session.flush()
    return item


def mark_all_read(*, session: Session, actor: Actor) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    stmt = _own(update(Notification), actor).where(Notification.read_at.is_(None))
    result = session.execute(stmt.values(read_at=utcnow())
                             .execution_options(synchronize_session=False))
    session.expire_all()
    return int(getattr(result, "rowcount", 0))
