"""A case's timeline: what happened to the case, and to the incident itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.csirt.models import Case, CaseEvent
from lakana.csirt.tlp import Tlp


def add_event(session: Session, case: Case, *, kind: str, message: str, actor: Actor,
              params: dict[str, Any] | None = None, tlp: str | None = None,
              at: dt.datetime | None = None) -> CaseEvent:
    """Append an event to ``case``'s timeline.

    ``message`` is an English msgid (mark it with ``N_``) with ``%(name)s`` placeholders
    filled from ``params`` when displayed, so each reader sees it in their language.
    ``tlp`` defaults to the case's label.
    """
    now = utcnow()
    event = CaseEvent(case_id=case.id, at=at or now, recorded_at=now, kind=kind,
                      message=message, params=dict(params or {}),
                      tlp=(tlp or case.tlp or Tlp.AMBER.value), actor=actor.name)
    session.add(event)
    return event
