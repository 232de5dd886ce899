"""The ENISA Reference Security Incident Taxonomy (RSIT), shipped as data
(``data/enisa_rsit.json``): 11 classes and their types, with French and English labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lakana.core.errors import Invalid

DATA = Path(__file__).parent / "data" / "enisa_rsit.json"


@dataclass(frozen=True)
class IncidentType:
    """A type within a class."""

    id: str
    title_en: str
    title_fr: str

    def title(self, language: str) -> str:
        """The title in ``language`` (French unless ``"en"``)."""
        return self.title_en if language == "en" else self.title_fr


@dataclass(frozen=True)
class IncidentClass:
    """One of the 11 classes, with its types."""

    id: str
    title_en: str
    title_fr: str
    types: tuple[IncidentType, ...]

    def title(self, language: str) -> str:
        """The title in ``language`` (French unless ``"en"``)."""
        return self.title_en if language == "en" else self.title_fr


@cache
def classes() -> tuple[IncidentClass, ...]:
    """Every class of the taxonomy, in its published order."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    return tuple(
        IncidentClass(id=c["id"], title_en=c["title_en"], title_fr=c["title_fr"],
                      types=tuple(IncidentType(**t) for t in c["types"]))
        for c in doc["classes"])


def get_class(class_id: str) -> IncidentClass | None:
    """The class ``class_id``, or None."""
    return next((c for c in classes() if c.id == class_id), None)


def validate(class_id: str | None, type_id: str | None) -> tuple[str | None, str | None]:
    """Check a (class, type) pair; a type needs its class. Raise :class:`Invalid` otherwise."""
    if class_id is None:
        if type_id is not None:
            raise Invalid("An incident type needs its class.")
        return None, None
    found = get_class(class_id)
    if found is None:
        raise Invalid("Unknown incident class %(value)s.", value=class_id[:60])
    if type_id is not None and type_id not in {t.id for t in found.types}:
        raise Invalid("Unknown incident type %(value)s for class %(klass)s.",
                      value=type_id[:60], klass=class_id)
    return class_id, type_id


def label(class_id: str | None, type_id: str | None, language: str) -> str:
    """``"Class / Type"`` in ``language`` (empty when unclassified)."""
    found = get_class(class_id) if class_id else None
    if found is None:
        return ""
    kind = next((t for t in found.types if t.id == type_id), None)
    return found.title(language) + (f" / {kind.title(language)}" if kind else "")
