"""Table of the self-assessment against the ITU Global Cybersecurity Index: one saved answer
per question of ``data/gci.yaml`` (the questions themselves live in that file, not here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class StrategyGciAnswer(Base):
    """The agency's answer to one GCI question, with its evidence and the plan indicators
    that back it; ``version`` guards against concurrent edits."""

    __tablename__ = "strategy_gci_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_code: Mapped[str] = mapped_column(String(20), unique=True)
    #: "yes", "partial", "no" or "unknown".
    answer: Mapped[str] = mapped_column(String(10), default="unknown")
    evidence_note: Mapped[str] = mapped_column(Text, default="")
    #: A link or a reference to a document (a law's number, an official journal).
    evidence_url: Mapped[str] = mapped_column(String(500), default="")
    #: Codes of the plan indicators that support the answer.
    indicator_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<StrategyGciAnswer {self.question_code} {self.answer}>"
