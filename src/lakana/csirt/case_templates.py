"""Case templates, shipped as data (``data/case_templates.json``): ransomware, defacement,
account compromise, personal data breach, phishing.

A template gives a case its default classification, TLP, a severity floor (see severity.py),
the facts it implies (a data breach involves personal data and needs a notice to the data
protection authority) and a list of first tasks in French and English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lakana.core.errors import Invalid
from lakana.csirt import taxonomy
from lakana.csirt.severity import ServiceImpact, Severity
from lakana.csirt.tlp import Tlp

DATA = Path(__file__).parent / "data" / "case_templates.json"


@dataclass(frozen=True)
class TemplateTask:
    """A task a template adds to a case, due ``due_days`` after it is applied."""

    title_fr: str
    title_en: str
    due_days: int

    def title(self, language: str) -> str:
        """The title in ``language`` (French unless ``"en"``)."""
        return self.title_en if language == "en" else self.title_fr


@dataclass(frozen=True)
class CaseTemplate:
    """Defaults for a kind of incident."""

    id: str
    title_fr: str
    title_en: str
    taxonomy_class: str
    taxonomy_type: str
    tlp: Tlp
    severity_floor: Severity
    service_impact: ServiceImpact
    personal_data: bool
    dpa_notice_required: bool
    tasks: tuple[TemplateTask, ...]

    def title(self, language: str) -> str:
        """The title in ``language`` (French unless ``"en"``)."""
        return self.title_en if language == "en" else self.title_fr


@cache
def templates() -> tuple[CaseTemplate, ...]:
    """Every shipped template, in file order (checked against the taxonomy on load)."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    found = []
    for item in doc["templates"]:
        taxonomy.validate(item["taxonomy_class"], item["taxonomy_type"])
        found.append(CaseTemplate(
            id=item["id"], title_fr=item["title_fr"], title_en=item["title_en"],
            taxonomy_class=item["taxonomy_class"], taxonomy_type=item["taxonomy_type"],
            tlp=Tlp(item["tlp"]), severity_floor=Severity(item["severity_floor"]),
            service_impact=ServiceImpact(item["service_impact"]),
            personal_data=bool(item["personal_data"]),
            dpa_notice_required=bool(item["dpa_notice_required"]),
            tasks=tuple(TemplateTask(**t) for t in item["tasks"])))
    return tuple(found)


def get(template_id: str | None) -> CaseTemplate | None:
    """The template ``template_id`` (None for None or an unknown id)."""
    return next((t for t in templates() if t.id == template_id), None)


def require(template_id: str) -> CaseTemplate:
    """The template ``template_id``; :class:`Invalid` when unknown."""
    found = get(template_id)
    if found is None:
        raise Invalid("Unknown case template %(value)s; known: %(known)s.",
                      value=template_id[:40], known=", ".join(t.id for t in templates()))
    return found
