"""The public portal's content: security advice shipped with the package as data
(``advice.json``, each topic in French and English), and the CSIRT's latest public
advisories (through the CSIRT's service)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lakana.core.i18n import DEFAULT_LANGUAGE
from lakana.csirt import advisories

ADVICE_FILE = Path(__file__).parent / "advice.json"
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class AdviceTopic:
    """One advice topic in one language."""

    slug: str
    title: str
    summary: str
    tips: tuple[str, ...]


@dataclass(frozen=True)
class PublicAdvisory:
    """A published TLP:CLEAR advisory, as the portal lists it."""

    tracking_id: str
    title: str
    published: str


def _pick(texts: dict[str, Any], language: str) -> Any:
    return texts.get(language) or texts[DEFAULT_LANGUAGE]


@cache
def _raw_topics() -> tuple[dict[str, Any], ...]:
    data = json.loads(ADVICE_FILE.read_text(encoding="utf-8"))
    topics = tuple(data["topics"])
    for topic in topics:  # a broken file must fail loudly at the first visit, not half-render
        for field in ("title", "summary", "tips"):
            missing = set(LANGUAGES) - set(topic[field])
            if missing:
                raise ValueError(f"advice {topic['slug']}: {field} lacks {sorted(missing)}")
    return topics


def advice(language: str) -> list[AdviceTopic]:
    """Every advice topic in ``language`` (French when a text lacks that language)."""
    return [AdviceTopic(slug=t["slug"], title=_pick(t["title"], language),
                        summary=_pick(t["summary"], language),
                        tips=tuple(_pick(t["tips"], language))) for t in _raw_topics()]


def latest_advisories(*, session: Session, limit: int = 3,
                      language: str = DEFAULT_LANGUAGE) -> list[PublicAdvisory]:
    """The CSIRT's newest public advisories (no account needed)."""
    rows, _total = advisories.list_public(session=session, limit=limit)
    found = []
    for row in rows:
        title = row.title_en if language == "en" and row.title_en else row.title_fr
        date = row.current_release_date.strftime("%Y-%m-%d") if row.current_release_date \
            else ""
        found.append(PublicAdvisory(tracking_id=row.tracking_id, title=title, published=date))
    return found
