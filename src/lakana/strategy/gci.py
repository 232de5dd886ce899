"""Benchmarking against the ITU Global Cybersecurity Index (GCI): the agency answers a
self-assessment modelled on the five pillars of the ITU questionnaire (``data/gci.yaml``),
with evidence, and sees beside each pillar the plan indicators that report on it.

A pillar's score is the share of its questions answered yes, a partial answer counting half;
the overall score is the mean of the five (the ITU weighs the pillars equally). Reading needs
the plan permission; answering needs to manage the plan. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, current_language
from lakana.strategy import measures
from lakana.strategy.gci_models import StrategyGciAnswer
from lakana.strategy.gci_schemas import (
    ANSWER_WEIGHTS,
    GciAnswer,
    GciAnswerIn,
    GciAssessmentOut,
    GciEvidenceOut,
    GciIndicatorOut,
    GciPillarOut,
    GciQuestionOut,
)
from lakana.strategy.models import StrategyIndicator
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import GCI_PILLARS

GCI_FILE = Path(__file__).parent / "data" / "gci.yaml"
NEEDS_EVIDENCE = N_("A “yes” or “partly” answer needs evidence: a note, or a link or "
                    "reference to a document.")
UNKNOWN_INDICATOR = N_("The plan has no indicator %(code)s.")


@dataclass(frozen=True)
class Question:
    """A self-assessment question; ``text`` by language ("fr", "en")."""

    code: str
    pillar: str
    text: dict[str, str]


@dataclass(frozen=True)
class Pillar:
    """A GCI pillar, its titles and description by language, and its questions."""

    code: str
    title: dict[str, str]
    description: dict[str, str]
    questions: tuple[Question, ...]


def _localized(texts: dict[str, str]) -> str:
    return texts.get(current_language()) or texts["fr"]


@lru_cache(maxsize=1)
def pillars() -> tuple[Pillar, ...]:
    """The five pillars in the ITU's order, with their questions (read once)."""
    data = yaml.safe_load(GCI_FILE.read_text(encoding="utf-8"))
    found = tuple(
        Pillar(code=p["code"], title=dict(p["title"]),
               description={k: " ".join(v.split()) for k, v in p["description"].items()},
               questions=tuple(Question(code=q["code"], pillar=p["code"], text=dict(q["text"]))
                               for q in p["questions"]))
        for p in data["pillars"])
    codes = [q.code for p in found for q in p.questions]
    if tuple(p.code for p in found) != GCI_PILLARS or len(codes) != len(set(codes)):
        raise ValueError(f"{GCI_FILE.name}: the pillars must be {GCI_PILLARS} and the "
                         "question codes unique")
    return found


def question(code: str) -> Question:
    """The question with this code; :class:`NotFound` when there is none."""
    for pillar in pillars():
        for found in pillar.questions:
            if found.code == code:
                return found
    raise NotFound("There is no GCI question %(code)s.", code=code)


# --- reading ------------------------------------------------------------------------------

def _question_out(found: Question, saved: StrategyGciAnswer | None) -> GciQuestionOut:
    if saved is None:
        return GciQuestionOut(code=found.code, text=_localized(found.text),
                              answer=GciAnswer.UNKNOWN, evidence_note="", evidence_url="",
                              indicator_codes=[], updated_by="", updated_at=None, version=0)
    return GciQuestionOut(code=found.code, text=_localized(found.text),
                          answer=GciAnswer(saved.answer), evidence_note=saved.evidence_note,
                          evidence_url=saved.evidence_url,
                          indicator_codes=list(saved.indicator_codes),
                          updated_by=saved.updated_by, updated_at=saved.updated_at,
                          version=saved.version)


def _indicator_out(found: measures.Evaluation) -> GciIndicatorOut:
    return GciIndicatorOut(code=found.code, name=found.name, unit=found.unit,
                           value=found.value, target=found.target, status=found.status,
                           reason=found.reason, reason_args=dict(found.reason_args))


def _evidence(questions: list[GciQuestionOut],
              evaluations: list[measures.Evaluation]) -> list[GciEvidenceOut]:
    found = [GciEvidenceOut(kind="answer", code=q.code, note=q.evidence_note,
                            url=q.evidence_url)
             for q in questions if q.evidence_note or q.evidence_url]
    found += [GciEvidenceOut(kind="indicator", code=e.code,
                             note=e.evidence.note if e.evidence else e.name, value=e.value,
                             unit=e.unit)
              for e in evaluations if e.value is not None]
    return found


def score_of(answers: list[GciAnswer]) -> float:
    """The share of ``answers`` that are yes (partial counting half), in percent."""
    if not answers:
        return 0.0
    return round(100 * sum(ANSWER_WEIGHTS[a] for a in answers) / len(answers), 1)


def self_assessment(*, session: Session, actor: Actor, year: int,
                    today: dt.date | None = None) -> GciAssessmentOut:
    """Every pillar with its questions and saved answers, score, evidence, and the plan
    indicators mapped to it measured for ``year``."""
    actor.require(P.PLAN_READ)
    saved = {a.question_code: a for a in session.scalars(select(StrategyGciAnswer))}
    mapped = [i for i in measures.all_indicators(session) if i.gci_pillar]
    evaluations = measures.evaluate(session=session, actor=actor, year=year, today=today,
                                    indicators=mapped)
    by_pillar: dict[str, list[measures.Evaluation]] = {}
    for indicator, evaluation in zip(mapped, evaluations, strict=True):
        by_pillar.setdefault(indicator.gci_pillar, []).append(evaluation)
    found = []
    for pillar in pillars():
        questions = [_question_out(q, saved.get(q.code)) for q in pillar.questions]
        measured = by_pillar.get(pillar.code, [])
        found.append(GciPillarOut(
            code=pillar.code, title=_localized(pillar.title),
            description=_localized(pillar.description),
            score=score_of([q.answer for q in questions]),
            answered=sum(q.answer != GciAnswer.UNKNOWN for q in questions),
            questions=questions, indicators=[_indicator_out(e) for e in measured],
            evidence=_evidence(questions, measured)))
    overall = round(sum(p.score for p in found) / len(found), 1) if found else 0.0
    return GciAssessmentOut(year=year, score=overall, pillars=found)


# --- answering ----------------------------------------------------------------------------

def _state(found: StrategyGciAnswer | None) -> dict[str, Any]:
    if found is None:
        return {"answer": GciAnswer.UNKNOWN.value, "evidence_note": "", "evidence_url": "",
                "indicator_codes": []}
    return {"answer": found.answer, "evidence_note": found.evidence_note,
            "evidence_url": found.evidence_url, "indicator_codes": list(found.indicator_codes)}


def _check(session: Session, data: GciAnswerIn, codes: list[str]) -> None:
    if data.answer in (GciAnswer.YES, GciAnswer.PARTIAL) and not (
            data.evidence_note or data.evidence_url):
        raise Invalid("A “yes” or “partly” answer needs evidence: a note, or a link or "
                      "reference to a document.",
                      errors=[{"field": "evidence_note", "message": NEEDS_EVIDENCE}])
    known = set(session.scalars(select(StrategyIndicator.code)
                                .where(StrategyIndicator.code.in_(codes)))) if codes else set()
    for code in codes:
        if code not in known:
            raise Invalid("The plan has no indicator %(code)s.", code=code, errors=[
                {"field": "indicator_codes", "message": UNKNOWN_INDICATOR,
                 "params": {"code": code}}])


def save_answer(*, session: Session, actor: Actor, code: str, data: GciAnswerIn,
                version: int | None) -> GciQuestionOut:
    """Save the answer to question ``code`` with its evidence and linked indicators;
    ``version`` is the one read (0 for a question never answered), a stale one is a 409."""
    actor.require(P.PLAN_MANAGE)
    asked = question(code)
    found = session.scalar(select(StrategyGciAnswer)
                           .where(StrategyGciAnswer.question_code == asked.code))
    check_version(0 if found is None else found.version, version)
    codes = data.normalized_codes()
    _check(session, data, codes)
    before = _state(found)
    after = {"answer": data.answer.value, "evidence_note": data.evidence_note,
             "evidence_url": data.evidence_url, "indicator_codes": codes}
    if after == before:
        return _question_out(asked, found)
    verb = "update"
    if found is None:
        verb = "create"
        found = StrategyGciAnswer(question_code=asked.code)
        try:
            with session.begin_nested():  # someone may have answered it meanwhile
                session.add(found)
                _apply(found, after, actor)
                session.flush()
        except IntegrityError:
            raise Conflict("This record was changed by someone else meanwhile: reload it and "
                           "apply your change again.") from None
    else:
        _apply(found, after, actor)
        _flush(session)
    audit.record(session=session, actor=actor, action=f"strategy.gci_answer.{verb}",
                 object_type="strategy_gci_answer", object_id=found.id,
                 object_repr=f"{asked.code} {found.answer}", before=before, after=after)
    return _question_out(asked, found)


def _apply(found: StrategyGciAnswer, state: dict[str, Any], actor: Actor) -> None:
    for key, value in state.items():
        setattr(found, key, value)
    found.updated_by = actor.name
    found.updated_at = utcnow()


def frozen(*, session: Session, actor: Actor) -> dict[str, Any]:
    """The self-assessment as a snapshot keeps it: by pillar code, the score and each
    answer with its evidence (language-free: the report words it from ``gci.yaml``)."""
    actor.require(P.PLAN_READ)
    saved = {a.question_code: a for a in session.scalars(select(StrategyGciAnswer))}
    found = []
    for pillar in pillars():
        answers: list[dict[str, Any]] = []
        for q in pillar.questions:
            row = saved.get(q.code)
            answers.append({
                "code": q.code, "answer": row.answer if row else GciAnswer.UNKNOWN.value,
                "evidence_note": row.evidence_note if row else "",
                "evidence_url": row.evidence_url if row else "",
                "indicator_codes": list(row.indicator_codes) if row else []})
        found.append({"code": pillar.code,
                      "score": score_of([GciAnswer(a["answer"]) for a in answers]),
                      "answered": sum(a["answer"] != GciAnswer.UNKNOWN.value
                                      for a in answers),
                      "answers": answers})
    overall = round(sum(p["score"] for p in found) / len(found), 1) if found else 0.0
    return {"score": overall, "pillars": found}


def pillar_title(code: str) -> str:
    """A pillar's title in the current language (the code itself if unknown)."""
    found = next((p for p in pillars() if p.code == code), None)
    return _localized(found.title) if found else code


def question_text(code: str) -> str:
    """A question's text in the current language (the code itself if unknown)."""
    try:
        return _localized(question(code).text)
    except NotFound:
        return code
