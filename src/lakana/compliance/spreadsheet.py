"""Spreadsheet round trip of catalog versions: XLSX (openpyxl) and CSV.

Format choices:

* One row per requirement, in catalog order; the header is row 1. Besides the requirement's
  own columns, ``domain_title_fr`` and ``domain_title_en`` carry the domain titles (needed to
  rebuild the catalog faithfully); they may be left blank after a domain's first row.
* Lists in one cell (tiers, ISO/IEC 27001:2022 and NIST CSF 2.0 references) are separated by
  ``;`` (``,`` is accepted for tiers). A blank ``tiers`` cell means every tier, a blank
  ``weight`` means 1, a blank ``kind`` means ``requirement``.
* XLSX files also hold a ``catalog`` sheet (titles and maturity scale, key/value); it is
  optional on import. CSV is UTF-8 with a BOM, and cells beginning with ``= + - @`` get a
  leading ``'`` so that no spreadsheet runs them as formulas (removed again on import);
  XLSX cells are always written as text, never as formulas.
* An import always creates a NEW catalog version (catalog id and version given by the
  person), all or nothing: any bad row or column means nothing is written, and each problem
  names its row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook, load_workbook  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from lakana.compliance import oscal, oscal_schema, service
from lakana.compliance.models import CatalogVersion, Requirement
from lakana.compliance.permissions import CompliancePermission as P
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, TooLarge
from lakana.core.i18n import N_

COLUMNS = ("domain", "domain_title_fr", "domain_title_en", "id", "kind", "title_fr",
           "title_en", "statement_fr", "statement_en", "guidance_fr", "guidance_en", "tiers",
           "weight", "iso27001_2022", "nist_csf_2_0", "legal_source")
REQUIRED = frozenset({"domain", "id", "title_fr", "title_en", "statement_fr", "statement_en"})
#: Columns that become OSCAL titles or property values, which hold one line of text.
ONE_LINE = ("domain_title_fr", "domain_title_en", "title_fr", "title_en", "iso27001_2022",
            "nist_csf_2_0", "legal_source")
KIND_CLASSES = {"requirement": "requirement", "legal": "legal-obligation"}
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,79}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- export --------------------------------------------------------------------------------

def _rows(version: CatalogVersion, requirements: list[Requirement]) -> list[list[str]]:
    titles = {d.id: (d.code, d.title_fr, d.title_en) for d in version.domains}
    rows: list[list[str]] = []
    seen: set[str] = set()
    for req in requirements:
        code, title_fr, title_en = titles[req.domain_id]
        first = code not in seen
        seen.add(code)
        rows.append([code, title_fr if first else "", title_en if first else "",
                     req.control_id, req.kind, req.title_fr, req.title_en, req.statement_fr,
                     req.statement_en, req.guidance_fr, req.guidance_en, req.tiers,
                     str(req.weight), "; ".join(req.iso_refs), "; ".join(req.csf_refs),
                     req.legal_source])
    return rows


def _catalog_sheet(version: CatalogVersion) -> list[tuple[str, str]]:
    pairs = [("catalog_id", version.catalog_id), ("version", version.version),
             ("title_fr", version.title_fr), ("title_en", version.title_en)]
    for level in version.maturity_levels:
        pairs += [(f"maturity_level_{level.level}_fr", level.text_fr),
                  (f"maturity_level_{level.level}_en", level.text_en)]
    return pairs


def export_xlsx(*, session: Session, actor: Actor, catalog_version_id: int) -> bytes:
    """The catalog version as an XLSX workbook (sheets ``requirements`` and ``catalog``)."""
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=catalog_version_id)
    requirements = service.all_requirements(session=session, actor=actor,
                                            catalog_version_id=version.id)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "requirements"
    for values in [list(COLUMNS), *_rows(version, requirements)]:
        sheet.append(values)
    meta = book.create_sheet("catalog")
    for pair in _catalog_sheet(version):
        meta.append(list(pair))
    for worksheet in (sheet, meta):
        for row in worksheet.iter_rows():
            for cell in row:
                cell.data_type = "s"  # text, never a formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_csv(*, session: Session, actor: Actor, catalog_version_id: int) -> str:
    """The catalog version's requirements as CSV (UTF-8 with a BOM, comma-separated)."""
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=catalog_version_id)
    requirements = service.all_requirements(session=session, actor=actor,
                                            catalog_version_id=version.id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _rows(version, requirements):
        writer.writerow([_safe(v) for v in row])
    return "\ufeff" + out.getvalue()


# --- import --------------------------------------------------------------------------------

class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, row: int, where: str | None, message: str, **params: Any) -> None:
        self.items.append({"row": row, "column": where, "message": message,
                           "params": {k: str(v) for k, v in params.items()}})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _read_xlsx(content: bytes) -> tuple[list[list[str]], dict[str, str]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on a damaged file
        raise Invalid("This is not a readable XLSX workbook.") from None
    try:
        sheet = book["requirements"] if "requirements" in book.sheetnames else book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        meta: dict[str, str] = {}
        if "catalog" in book.sheetnames:
            for row in book["catalog"].iter_rows(values_only=True):
                if row and row[0]:
                    meta[_cell(row[0])] = _cell(row[1] if len(row) > 1 else "")
    finally:
        book.close()
    return rows, meta


def _read_csv(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The file is not in UTF-8: save it as \"CSV UTF-8\" and try "
                      "again.") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise Invalid("The CSV file is malformed (%(error)s).", error=str(exc)) from None
    return [[_unsafe(v.strip()) for v in row] for row in rows]


def _unsafe(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA_START else value


def _header(rows: list[list[str]], errors: _Errors) -> list[str]:
    if not rows or not any(rows[0]):
        raise Invalid("The file is empty.")
    header = [h.strip().lower() for h in rows[0]]
    for index, name in enumerate(header):
        if name and name not in COLUMNS:
            errors.add(1, name, N_("Unknown column %(column)s; the columns are: %(allowed)s."),
                       column=name, allowed=", ".join(COLUMNS))
        elif name and header.index(name) != index:
            errors.add(1, name, N_("The column %(column)s appears more than once."),
                       column=name)
    for name in sorted(REQUIRED - set(header)):
        errors.add(1, name, N_("The required column %(column)s is missing."), column=name)
    return header


def _split(text: str, separators: str = ";") -> list[str]:
    return [p.strip() for p in re.split(f"[{separators}]", text) if p.strip()]


def _check_row(number: int, row: dict[str, str], errors: _Errors) -> None:
    for name in sorted(REQUIRED):
        if not row.get(name):
            errors.add(number, name, N_("This value is required."))
    for name in ("domain", "id"):
        if row.get(name) and not _ID.match(row[name]):
            errors.add(number, name, N_("%(value)s is not a valid identifier (letters, digits, "
                                        "dots, dashes, underscores)."), value=row[name])
    for name in ONE_LINE:
        if "\n" in row.get(name, "") or "\r" in row.get(name, ""):
            errors.add(number, name, N_("The text must fit on one line."))
    if row.get("kind", "") not in ("", *KIND_CLASSES):
        errors.add(number, "kind", N_("Unknown value %(value)s; allowed: %(allowed)s."),
                   value=row["kind"], allowed=", ".join(KIND_CLASSES))
    for tier in _split(row.get("tiers", ""), ";,"):
        if tier not in oscal.TIERS:
            errors.add(number, "tiers", N_("Unknown criticality tier %(value)s; allowed: "
                                           "1, 2, 3."), value=tier)
    if row.get("weight", "") not in ("", "1", "2", "3"):
        errors.add(number, "weight", N_("The weight must be 1, 2 or 3, not %(value)s."),
                   value=row["weight"])
    if row.get("kind") == "legal" and not row.get("legal_source"):
        errors.add(number, "legal_source",
                   N_("A legal obligation needs its legal-source property."))


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "ns": oscal.NS, "value": value}


def _control(row: dict[str, str]) -> dict[str, Any]:
    ident = row["id"]
    props = [_prop("title-en", row["title_en"])]
    props += [_prop("applies-to-tier", t) for t in _split(row.get("tiers", ""), ";,")]
    props += [_prop("iso27001-2022", r) for r in _split(row.get("iso27001_2022", ""))]
    props += [_prop("nist-csf-2.0", r) for r in _split(row.get("nist_csf_2_0", ""))]
    props.append(_prop("weight", row.get("weight") or "1"))
    if row.get("legal_source"):
        props.append(_prop("legal-source", row["legal_source"]))
    parts: list[dict[str, Any]] = [
        {"id": f"{ident}_smt", "name": "statement", "prose": row["statement_fr"]},
        {"name": "statement-en", "ns": oscal.NS, "prose": row["statement_en"]}]
    if row.get("guidance_fr") or row.get("guidance_en"):
        parts += [{"id": f"{ident}_gdn", "name": "guidance", "prose": row.get("guidance_fr", "")},
                  {"name": "guidance-en", "ns": oscal.NS, "prose": row.get("guidance_en", "")}]
    return {"id": ident, "class": KIND_CLASSES[row.get("kind") or "requirement"],
            "title": row["title_fr"], "props": props, "parts": parts}


def _groups(records: list[tuple[int, dict[str, str]]], errors: _Errors) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    seen_ids: dict[str, int] = {}
    for number, row in records:
        if row["id"] in seen_ids:
            errors.add(number, "id", N_("The id %(id)s already appears on row %(other)s."),
                       id=row["id"], other=seen_ids[row["id"]])
        seen_ids.setdefault(row["id"], number)
        group = groups.get(row["domain"])
        if group is None:
            for name in ("domain_title_fr", "domain_title_en"):
                if not row.get(name):
                    errors.add(number, name, N_("Give the domain's titles on its first row."))
            group = groups[row["domain"]] = {
                "id": row["domain"], "class": "domain", "title": row.get("domain_title_fr", ""),
                "props": [_prop("title-en", row.get("domain_title_en", ""))], "controls": []}
        else:
            known = (group["title"], group["props"][0]["value"])
            for name, value in zip(("domain_title_fr", "domain_title_en"), known, strict=True):
                if row.get(name) and row[name] != value:
                    errors.add(number, name, N_("This domain already has the title %(title)s."),
                               title=value)
        group["controls"].append(_control(row))
    return list(groups.values())


def _records(rows: list[list[str]], header: list[str], errors: _Errors
             ) -> list[tuple[int, dict[str, str]]]:
    records = []
    for index, values in enumerate(rows[1:], start=2):
        if not any(values):
            continue
        row = {name: (values[i] if i < len(values) else "") for i, name in enumerate(header)
               if name}
        _check_row(index, row, errors)
        records.append((index, row))
    if not records and not errors.items:
        raise Invalid("The file has no requirement rows.")
    return records


def _maturity(meta: dict[str, str], previous: CatalogVersion | None
              ) -> list[tuple[int, str, str]]:
    # maturity texts become OSCAL property values: one line, no outer spaces
    levels = [(i, " ".join(meta.get(f"maturity_level_{i}_fr", "").split()),
               " ".join(meta.get(f"maturity_level_{i}_en", "").split())) for i in range(6)]
    if all(fr and en for _, fr, en in levels):
        return levels
    if previous is not None:
        return [(m.level, m.text_fr, m.text_en) for m in previous.maturity_levels]
    return []


def _document(*, catalog_id: str, version: str, title_fr: str, title_en: str,
              last_modified: str, groups: list[dict[str, Any]],
              maturity: Iterable[tuple[int, str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                               f"https://lakana.ml/catalogs/{catalog_id}@{version}")),
        "metadata": {"title": title_fr, "version": version,
                     "oscal-version": oscal_schema.OSCAL_VERSION,
                     "last-modified": last_modified,
                     "props": [_prop("title-en", title_en), _prop("catalog-id", catalog_id)]},
        "groups": groups}
    props = [_prop("resource-kind", "maturity-scale")]
    for level, fr, en in maturity:
        props += [_prop(f"maturity-level-{level}", fr), _prop(f"maturity-level-{level}-en", en)]
    if len(props) > 1:
        body["back-matter"] = {"resources": [{
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, body["uuid"] + "#maturity")),
            "title": "Maturity scale", "props": props}]}
    return {"catalog": body}


def import_spreadsheet(*, session: Session, actor: Actor, content: bytes, filename: str,
                       catalog_id: str, version: str, title_fr: str | None = None,
                       title_en: str | None = None, max_bytes: int = 10_000_000
                       ) -> tuple[CatalogVersion, bool]:
    """Import an XLSX or CSV file as a new version of ``catalog_id``; all or nothing, and
    every problem names its row (the header is row 1) and column."""
    actor.require(P.CATALOG_MANAGE)
    if len(content) > max_bytes:
        raise TooLarge("The file is larger than %(max)s bytes.", max=max_bytes)
    if not content:
        raise Invalid("The file is empty.")
    is_xlsx = content[:2] == b"PK" or filename.lower().endswith(".xlsx")
    rows, meta = _read_xlsx(content) if is_xlsx else (_read_csv(content), {})
    errors = _Errors()
    header = _header(rows, errors)
    records = _records(rows, header, errors) if not errors.items else []
    groups = _groups(records, errors)
    if errors.items:
        raise Invalid("The file has %(count)s error(s); nothing was imported.",
                      count=len(errors.items), errors=errors.items)
    previous = service.latest_version(session=session, actor=actor, catalog_id=catalog_id)
    existing = service.get_version_or_none(session=session, catalog_id=catalog_id,
                                           version=version)
    doc = _document(
        catalog_id=catalog_id, version=version,
        title_fr=title_fr or meta.get("title_fr") or (previous.title_fr if previous else "")
        or catalog_id,
        title_en=title_en or meta.get("title_en") or (previous.title_en if previous else "")
        or catalog_id,
        # the same file imported twice must give the same document (a no-op, not a 409)
        last_modified=existing.last_modified if existing else
        dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        groups=groups, maturity=_maturity(meta, previous))
    return service.store_catalog(session=session, actor=actor,
                                 parsed=oscal.parse_catalog(doc), origin="spreadsheet")
