"""The awareness overview as CSV, XLSX (the compliance exports' table writers: formula-like
text neutralised, numbers kept as numbers) and PDF (a standalone page, rendered offline)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from sqlalchemy.orm import Session

from lakana.awareness.dashboard import service
from lakana.compliance.reports.exports import XLSX_MEDIA_TYPE, Table, to_csv, to_xlsx
from lakana.core import i18n
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.core.web import pdf
from lakana.core.web.templating import build_environment

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
PDF_TEMPLATE = "awareness/dashboard/overview_pdf.html"
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MEDIA_TYPE,
               "pdf": "application/pdf"}


@functools.cache
def _environment() -> jinja2.Environment:
    return build_environment([TEMPLATES_DIR])


def overview_table(found: service.Overview) -> Table:
    """One row per institution, then the nation's row (acronym ``NATION``)."""
    rows = [row.cells() for row in found.institutions]
    rows.append(["NATION", "", None, *found.total.cells()[3:]])
    return Table(f"awareness-{found.as_of.isoformat()}", service.COLUMNS, rows)


def export(*, session: Session, actor: Actor, fmt: str,
           language: str | None = None) -> tuple[bytes, str, str]:
    """The overview as ``csv``, ``xlsx`` or ``pdf``: bytes, file name and media type; the
    download is ledgered."""
    if fmt not in MEDIA_TYPES:
        raise Invalid("Unknown format %(fmt)s: choose csv, xlsx or pdf.", fmt=fmt[:20])
    found = service.overview(session=session, actor=actor)
    name = f"awareness-{found.as_of.isoformat()}.{fmt}"
    if fmt == "csv":
        data = to_csv(overview_table(found)).encode("utf-8")
    elif fmt == "xlsx":
        data = to_xlsx(overview_table(found))
    else:
        with i18n.use_language(language or actor.language):
            html = _environment().get_template(PDF_TEMPLATE).render({"overview": found})
        data = pdf.to_pdf(html)
    service.ledger_export(session=session, actor=actor, fmt=fmt)
    return data, name, MEDIA_TYPES[fmt]
