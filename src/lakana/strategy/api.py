"""JSON API of the national strategy's action plan (mounted under ``/api/v1``): the plan as a
tree, one action and its edit, and the import and export of the whole plan.

Optimistic concurrency as elsewhere: ``GET`` answers an ``ETag`` with the action's version;
``PATCH`` needs it back in ``version`` or ``If-Match``; a stale one gets 409. Writes check the
permission before the body, so a reader learns nothing from validation errors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import parse_if_match
from lakana.core.errors import Invalid
from lakana.strategy import service, transfer
from lakana.strategy.permissions import StrategyPermission
from lakana.strategy.schemas import ActionOut, ActionUpdate, ImportResult, PlanOut

router = APIRouter(prefix="/strategy", tags=["strategy"])

IfMatch = Annotated[str | None, Header(max_length=40)]
MEDIA_TYPES = {"yaml": "application/yaml", "xlsx": transfer.XLSX_MEDIA_TYPE}


def _manager(actor: CurrentActor) -> Actor:
    """The caller, once known to manage the plan (checked before the body is read)."""
    actor.require(StrategyPermission.PLAN_MANAGE)
    return actor


Manager = Annotated[Actor, Depends(_manager)]


@router.get("/plan", response_model=PlanOut)
def get_plan(session: DbSession, actor: CurrentActor) -> PlanOut:
    """The whole plan: axes → objectives → actions and indicators with their targets."""
    return service.get_plan(session=session, actor=actor)


@router.get("/actions/{strategy_action_id}", response_model=ActionOut)
def get_action(strategy_action_id: int, session: DbSession, actor: CurrentActor,
               response: Response) -> ActionOut:
    """One action, with its milestones and dependencies."""
    found = service.action_out(session=session, actor=actor, action_id=strategy_action_id)
    response.headers["ETag"] = f'"{found.version}"'
    return found


@router.patch("/actions/{strategy_action_id}", response_model=ActionOut)
def update_action(strategy_action_id: int, body: ActionUpdate, session: DbSession,
                  actor: Manager, response: Response, if_match: IfMatch = None) -> ActionOut:
    """Change an action's status, period, budget committed or milestones done; send the
    version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    service.update_action(session=session, actor=actor, action_id=strategy_action_id,
                          data=body)
    found = service.action_out(session=session, actor=actor, action_id=strategy_action_id)
    response.headers["ETag"] = f'"{found.version}"'
    return found


@router.post("/import", response_model=ImportResult)
async def import_plan(request: Request, session: DbSession, actor: Manager) -> ImportResult:
    """Import a YAML or XLSX plan (multipart ``file``): all or nothing, 422 with each
    problem's line (YAML) or sheet and row (XLSX)."""
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("Choose a file to import.")
    content = await upload.read(transfer.MAX_BYTES + 1)
    return await run_in_threadpool(service.import_plan, session=session, actor=actor,
                                   content=content, filename=upload.filename or "")


@router.get("/export")
def export_plan(session: DbSession, actor: CurrentActor,
                format: Annotated[Literal["yaml", "xlsx"], Query()] = "yaml") -> Response:
    """The plan as a YAML or XLSX file (it imports back unchanged)."""
    content = service.export_plan(session=session, actor=actor, fmt=format)
    return Response(content, media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="plan-strategie.{format}"'})
