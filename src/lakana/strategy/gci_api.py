"""JSON API of the self-assessment against the ITU Global Cybersecurity Index (mounted under
``/api/v1``): the assessment by pillar for a year, and the answer to one question.

Optimistic concurrency as for actions: send back the question's ``version`` (0 for a
question never answered) in the body or ``If-Match``; a stale one gets 409. The write checks
the permission before the body, so a reader learns nothing from validation errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import parse_if_match
from lakana.strategy import gci
from lakana.strategy.gci_schemas import GciAnswerIn, GciAssessmentOut, GciQuestionOut
from lakana.strategy.measures import plan_years
from lakana.strategy.permissions import StrategyPermission
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

router = APIRouter(prefix="/strategy/gci", tags=["strategy"])

IfMatch = Annotated[str | None, Header(max_length=40)]
QuestionCode = Annotated[str, Path(max_length=20)]
Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]


def _manager(actor: CurrentActor) -> Actor:
    """The caller, once known to manage the plan (checked before the body is read)."""
    actor.require(StrategyPermission.PLAN_MANAGE)
    return actor


Manager = Annotated[Actor, Depends(_manager)]


def default_year(today: dt.date | None = None) -> int:
    """The latest year of the plan that has begun (the first one before the plan starts)."""
    return plan_years(today)[-1]


@router.get("", response_model=GciAssessmentOut)
def get_assessment(session: DbSession, actor: CurrentActor,
                   year: Year = None) -> GciAssessmentOut:
    """Every GCI pillar: score, questions and answers, evidence, and the plan indicators
    mapped to it, measured for ``year`` (the current year of the plan by default)."""
    return gci.self_assessment(session=session, actor=actor, year=year or default_year())


@router.put("/{question_code}", response_model=GciQuestionOut)
def save_answer(question_code: QuestionCode, body: GciAnswerIn, session: DbSession,
                actor: Manager, response: Response,
                if_match: IfMatch = None) -> GciQuestionOut:
    """Answer one question (yes, partial, no, unknown) with its evidence; a yes or partial
    answer needs a note or a link; send the version you read."""
    version = body.version if body.version is not None else parse_if_match(if_match)
    found = gci.save_answer(session=session, actor=actor, code=question_code, data=body,
                            version=version)
    response.headers["ETag"] = f'"{found.version}"'
    return found
