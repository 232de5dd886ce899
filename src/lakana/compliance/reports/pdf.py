"""Printable PDF reports, drawn by WeasyPrint from the same Jinja templates as the HTML
print previews.

WeasyPrint never reaches out: its URL fetcher refuses every URL but ``data:`` URIs, the
templates link no stylesheet, image or font (print CSS is inlined, bars and charts are
inline SVG) and the only font is DejaVu Sans, found locally by fontconfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from lakana.compliance.remediation.schemas import LABELS as ACTION_LABELS
from lakana.compliance.reports import peers, service
from lakana.compliance.risks import schemas as risk_schemas
from lakana.compliance.risks.schemas import LEVEL_CLASSES
from lakana.compliance.scoring import service as scoring
from lakana.core import i18n
from lakana.core.auth.rbac import Actor
from lakana.core.web import pdf
from lakana.core.web.templating import build_environment
from lakana.registry.schemas import label

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
INSTITUTION_PDF = "compliance/reports/institution_pdf.html"
NATIONAL_PDF = "compliance/reports/national_pdf.html"
#: Colour of each score band in the SVG bars and charts (the stylesheet's own colours).
BAND_COLOURS = {"ok": "#0b6b3a", "medium": "#b8860b", "bad": "#b3261e", "": "#888888"}


def _risk_class(score: int) -> str:
    return LEVEL_CLASSES[risk_schemas.level_of(score)]


def _risk_label(score: int) -> str:
    return risk_schemas.label(risk_schemas.level_of(score))


def _band_colour(score: float | None) -> str:
    return BAND_COLOURS[scoring.band(score)]


def helpers() -> dict[str, Any]:
    """Functions the report templates use (score bands and colours, ranks, labels)."""
    return {"band": scoring.band, "band_colour": _band_colour, "ordinal": peers.ordinal,
            "registry_label": label, "risk_class": _risk_class, "risk_label": _risk_label,
            "action_label": lambda status: ACTION_LABELS.get(status, status)}


def institution_context(report: service.InstitutionReport) -> dict[str, Any]:
    """The template context of an institution report."""
    return {"report": report, **helpers()}


def national_context(report: service.NationalReport) -> dict[str, Any]:
    """The template context of the national report."""
    return {"report": report, **helpers()}


def environment() -> jinja2.Environment:
    """The app's Jinja environment over the core's and the compliance templates (CLI)."""
    return build_environment([TEMPLATES_DIR])


def render_html(env: jinja2.Environment, template: str, context: dict[str, Any],
                language: str) -> str:
    """A standalone report page in ``language``."""
    with i18n.use_language(language):
        return env.get_template(template).render(context)


def to_pdf(html: str) -> bytes:
    """The PDF of a standalone report page (A4; nothing fetched from outside)."""
    return pdf.to_pdf(html)


def institution_pdf(*, session: Session, actor: Actor, env: jinja2.Environment,
                    campaign_id: int, institution_id: int, language: str | None = None
                    ) -> tuple[bytes, str]:
    """An institution's report as PDF with its file name; the download is ledgered."""
    report = service.institution_report(session=session, actor=actor, campaign_id=campaign_id,
                                        institution_id=institution_id)
    html = render_html(env, INSTITUTION_PDF, institution_context(report),
                       language or actor.language)
    service.ledger_download(session=session, actor=actor, object_type="compliance.report",
                            object_id=report.institution.id,
                            object_repr=f"{report.institution.acronym} — "
                                        f"{report.campaign.name}",
                            institution_id=report.institution.id, fmt="pdf")
    return (to_pdf(html),
            f"report-{report.campaign.id}-{report.institution.acronym.lower()}.pdf")


def national_pdf(*, session: Session, actor: Actor, env: jinja2.Environment,
                 campaign_id: int, language: str | None = None) -> tuple[bytes, str]:
    """The national report as PDF with its file name (agency roles only); ledgered."""
    report = service.national_report(session=session, actor=actor, campaign_id=campaign_id)
    html = render_html(env, NATIONAL_PDF, national_context(report),
                       language or actor.language)
    service.ledger_download(session=session, actor=actor, object_type="compliance.campaign",
                            object_id=report.campaign.id, object_repr=report.campaign.name,
                            institution_id=None, fmt="pdf")
    return to_pdf(html), f"report-{report.campaign.id}-national.pdf"
