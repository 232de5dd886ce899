"""JSON API of remediation actions (mounted under ``/api/v1``).

``GET`` answers an ``ETag`` with the version; ``PATCH`` needs it back in ``version`` or
``If-Match``; a stale one gets 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from lakana.compliance.remediation import service
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.schemas import (
    ActionCreate,
    ActionFromGap,
    ActionOut,
    ActionQuery,
    ActionUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/compliance", tags=["compliance: remediation"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)


def action_out(action: Action) -> ActionOut:
    """An action with whether it is overdue today."""
    out = ActionOut.model_validate(action)
    out.overdue = action.is_overdue(service.today())
    return out


@router.get("/actions", response_model=Page[ActionOut])
def list_actions(session: DbSession, actor: CurrentActor,
                 query: Annotated[ActionQuery, Query()]) -> Page[ActionOut]:
    """Actions the caller may see: filters ``institution_id, status, priority, overdue``;
    ``sort`` takes ``due, priority, updated, title``."""
    rows, total = service.list_actions(session=session, actor=actor, query=query)
    return Page[ActionOut](items=[action_out(a) for a in rows], total=total,
                           limit=query.limit, offset=query.offset)


@router.post("/actions", response_model=ActionOut, status_code=201)
def create_action(body: ActionCreate, session: DbSession, actor: CurrentActor,
                  response: Response) -> ActionOut:
    """Add a free remediation action to an institution."""
    action = service.create_action(session=session, actor=actor, data=body)
    response.headers["ETag"] = f'"{action.version}"'
    return action_out(action)


@router.post("/answers/{answer_id}/action", response_model=ActionOut, status_code=201)
def create_from_gap(answer_id: int, session: DbSession, actor: CurrentActor,
                    response: Response, body: ActionFromGap | None = None) -> ActionOut:
    """Turn a gap answer into an action (422 when not a gap, 409 when it has one)."""
    action = service.create_from_gap(session=session, actor=actor, answer_id=answer_id,
                                     data=body)
    response.headers["ETag"] = f'"{action.version}"'
    return action_out(action)


@router.get("/actions/{action_id}", response_model=ActionOut)
def get_action(action_id: int, session: DbSession, actor: CurrentActor,
               response: Response) -> ActionOut:
    """One action."""
    action = service.get_action(session=session, actor=actor, action_id=action_id)
    response.headers["ETag"] = f'"{action.version}"'
    return action_out(action)


@router.patch("/actions/{action_id}", response_model=ActionOut)
def update_action(action_id: int, body: ActionUpdate, session: DbSession, actor: CurrentActor,
                  response: Response, if_match: IfMatch = None) -> ActionOut:
    """Change an action; send the version you read (409 when stale)."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    action = service.update_action(session=session, actor=actor, action_id=action_id,
                                   data=body)
    response.headers["ETag"] = f'"{action.version}"'
    return action_out(action)


@router.delete("/actions/{action_id}", status_code=204)
def delete_action(action_id: int, session: DbSession, actor: CurrentActor,
                  if_match: IfMatch = None) -> None:
    """Remove an action."""
    service.delete_action(session=session, actor=actor, action_id=action_id,
                          version=parse_if_match(if_match))
