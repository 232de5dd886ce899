"""HTML pages of the self-assessment against the ITU Global Cybersecurity Index: a card per
pillar (score, questions and answers, evidence, plan indicators with their traffic light)
and, for the agency, a form per question to save its answer.

Forms carry the CSRF token and the answer's version; a refused answer shows the page again
with the person's input beside the question (409 when someone saved it meanwhile).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form, text_field
from lakana.core.web.templating import render
from lakana.strategy import gci
from lakana.strategy.gci_api import Year, default_year
from lakana.strategy.gci_schemas import ANSWER_LABELS, GciAnswerIn
from lakana.strategy.measures import STATUS_NAMES, plan_years
from lakana.strategy.pages import _number
from lakana.strategy.permissions import StrategyPermission as P

router = APIRouter(prefix="/strategy/gci")

QuestionCode = Annotated[str, Path(max_length=20)]
#: Badge classes of the stylesheet for each traffic light.
STATUS_BADGES = {"met": "ok", "near": "medium", "off": "bad", "none": ""}
FIELDS = ("answer", "evidence_note", "evidence_url", "indicator_codes")


def _is_link(value: str) -> bool:
    """Whether an evidence reference is a web link (shown as one), not a plain reference."""
    return value.startswith(("https://", "http://"))


def _answer_label(value: str) -> str:
    label = next((text for key, text in ANSWER_LABELS.items() if key.value == value), value)
    return _(label)


def _status_label(value: str) -> str:
    return _(STATUS_NAMES.get(value, value))


def _page(request: Request, session: Session, actor: Actor, year: int, *,
          editing: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    return render(request, "strategy/gci.html", {
        "assessment": gci.self_assessment(session=session, actor=actor, year=year),
        "years": plan_years(), "can_manage": actor.can(P.PLAN_MANAGE),
        "editing": editing or {},
        "answers": [(k.value, _(v)) for k, v in ANSWER_LABELS.items()],
        "answer_label": _answer_label, "status_label": _status_label,
        "status_badge": lambda v: STATUS_BADGES.get(v, ""),
        "reason_text": lambda i: translate(i.reason, **i.reason_args) if i.reason else "",
        "is_link": _is_link, "number": _number}, status_code=status_code)


@router.get("")
def assessment(request: Request, session: DbSession, actor: CurrentActor,
               year: Year = None) -> Response:
    """The GCI self-assessment by pillar, with the plan indicators measured for the year."""
    return _page(request, session, actor, year or default_year())


@router.post("/{question_code}")
def save_answer(request: Request, question_code: QuestionCode, session: DbSession,
                actor: CurrentActor, form: Form) -> Response:
    """Save the answer to one question, or show the page again with the problem."""
    actor.require(P.PLAN_MANAGE)
    gci.question(question_code)  # an unknown question is a 404, not a form problem
    year_text = text_field(form, "year", 4)
    year = int(year_text) if year_text.isdigit() and int(year_text) in plan_years() \
        else default_year()
    values = {name: text_field(form, name, 5000) for name in FIELDS}
    version_text = text_field(form, "version", 12)
    shown = {**values, "version": version_text}
    editing: dict[str, Any] = {"code": question_code, "values": shown, "errors": {}}
    try:
        data = GciAnswerIn(answer=values["answer"], evidence_note=values["evidence_note"],
                           evidence_url=values["evidence_url"],
                           indicator_codes=re.split(r"[\s,;]+", values["indicator_codes"]))
        version = int(version_text) if version_text.lstrip("-").isdigit() else None
        gci.save_answer(session=session, actor=actor, code=question_code, data=data,
                        version=version)
    except ValidationError as exc:
        editing["errors"] = {str(e["loc"][0]) if e.get("loc") else "answer":
                             validation_message(dict(e)) for e in exc.errors()}
        editing["error"] = _("Please correct the fields marked below.")
        return _page(request, session, actor, year, editing=editing, status_code=422)
    except LakanaError as exc:
        session.rollback()
        editing["errors"] = {str(e["field"]): translate(str(e["message"]),
                                                         **e.get("params", {}))
                             for e in exc.errors if "field" in e}
        editing["error"] = _(exc.message, **exc.params)
        return _page(request, session, actor, year, editing=editing, status_code=exc.status)
    return RedirectResponse(f"/strategy/gci?year={year}#q-{question_code}", status_code=303)
