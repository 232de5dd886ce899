"""JSON API of the plan's editing by the agency (mounted under ``/api/v1``): an axis's and an
objective's title and description, an indicator, and new objectives, indicators and actions.

As for actions: ``GET`` answers an ``ETag`` with the version (an indicator's version is in the
plan's tree); ``PATCH`` needs it back in ``version`` or ``If-Match``, a stale one gets 409.
Writes check the permission before the body, so a reader learns nothing from validation.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.concurrency import parse_if_match
from lakana.strategy import editing, service
from lakana.strategy.api import IfMatch, Manager
from lakana.strategy.editing_schemas import (
    ActionCreate,
    AxisEditOut,
    IndicatorCreate,
    IndicatorUpdate,
    ObjectiveCreate,
    ObjectiveEditOut,
    TextUpdate,
)
from lakana.strategy.schemas import ActionOut, IndicatorOut

router = APIRouter(prefix="/strategy", tags=["strategy"])
UpdateT = TypeVar("UpdateT", TextUpdate, IndicatorUpdate)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _with_version(body: UpdateT, if_match: str | None) -> UpdateT:
    if body.version is None and if_match is not None:
        return body.model_copy(update={"version": parse_if_match(if_match)})
    return body


@router.get("/axes/{axis_code}", response_model=AxisEditOut)
def get_axis(axis_code: str, session: DbSession, actor: CurrentActor,
             response: Response) -> AxisEditOut:
    """One axis (its objectives are in the plan's tree)."""
    found = editing.axis_out(editing.get_axis(session=session, actor=actor,
                                              axis_code=axis_code))
    _etag(response, found.version)
    return found


@router.patch("/axes/{axis_code}", response_model=AxisEditOut)
def update_axis(axis_code: str, body: TextUpdate, session: DbSession, actor: Manager,
                response: Response, if_match: IfMatch = None) -> AxisEditOut:
    """Change an axis's title or description; send the version you read."""
    found = editing.axis_out(editing.update_axis(
        session=session, actor=actor, axis_code=axis_code,
        data=_with_version(body, if_match)))
    _etag(response, found.version)
    return found


@router.post("/axes/{axis_code}/objectives", response_model=ObjectiveEditOut,
             status_code=201)
def create_objective(axis_code: str, body: ObjectiveCreate, session: DbSession,
                     actor: Manager, response: Response) -> ObjectiveEditOut:
    """Add an objective at the end of an axis (409 when its code is taken)."""
    found = editing.objective_out(editing.create_objective(
        session=session, actor=actor, axis_code=axis_code, data=body))
    _etag(response, found.version)
    return found


@router.get("/objectives/{objective_code}", response_model=ObjectiveEditOut)
def get_objective(objective_code: str, session: DbSession, actor: CurrentActor,
                  response: Response) -> ObjectiveEditOut:
    """One objective (its actions and indicators are in the plan's tree)."""
    found = editing.objective_out(editing.get_objective(
        session=session, actor=actor, objective_code=objective_code))
    _etag(response, found.version)
    return found


@router.patch("/objectives/{objective_code}", response_model=ObjectiveEditOut)
def update_objective(objective_code: str, body: TextUpdate, session: DbSession,
                     actor: Manager, response: Response,
                     if_match: IfMatch = None) -> ObjectiveEditOut:
    """Change an objective's title or description; send the version you read."""
    found = editing.objective_out(editing.update_objective(
        session=session, actor=actor, objective_code=objective_code,
        data=_with_version(body, if_match)))
    _etag(response, found.version)
    return found


@router.post("/objectives/{objective_code}/indicators", response_model=IndicatorOut,
             status_code=201)
def create_indicator(objective_code: str, body: IndicatorCreate, session: DbSession,
                     actor: Manager, response: Response) -> IndicatorOut:
    """Add an indicator at the end of an objective (409 when its code is taken; a computed
    one names a source an installed domain declares)."""
    found = editing.indicator_out(editing.create_indicator(
        session=session, actor=actor, objective_code=objective_code, data=body))
    _etag(response, found.version)
    return found


@router.post("/objectives/{objective_code}/actions", response_model=ActionOut,
             status_code=201)
def create_action(objective_code: str, body: ActionCreate, session: DbSession,
                  actor: Manager, response: Response) -> ActionOut:
    """Add a planned action at the end of an objective (lead and partners from the
    registry, period within 2026–2030; 409 when its code is taken)."""
    created = editing.create_action(session=session, actor=actor,
                                    objective_code=objective_code, data=body)
    found = service.action_out(session=session, actor=actor, action_id=created.id)
    _etag(response, found.version)
    return found


@router.patch("/indicators/{indicator_code}", response_model=IndicatorOut)
def update_indicator(indicator_code: str, body: IndicatorUpdate, session: DbSession,
                     actor: Manager, response: Response,
                     if_match: IfMatch = None) -> IndicatorOut:
    """Change an indicator (only the fields sent; ``targets``: the whole set by year); send
    the version you read."""
    found = editing.indicator_out(editing.update_indicator(
        session=session, actor=actor, indicator_code=indicator_code,
        data=_with_version(body, if_match)))
    _etag(response, found.version)
    return found
