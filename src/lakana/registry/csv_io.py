"""CSV export and import of institutions and information systems.

Format choices:

* Export is UTF-8 **with** a byte-order mark, comma-separated, so that spreadsheet software
  used in administrations opens accented names (é, è, ç...) correctly. Import accepts UTF-8
  with or without a BOM, separated by commas or semicolons (the separator is read from the
  header line, as French spreadsheets save with ``;``). Any other encoding is refused with
  a clear message rather than guessed.
* Institutions are matched by acronym, systems by (owner acronym, name): a known key updates
  the record, an unknown one creates it. A row identical to the stored record is left
  untouched. Missing optional columns leave the stored values as they are.
* Lists in one cell: endpoints and contacts are separated by ``;``; a contact is
  ``full name|position|e-mail|phone``. The parent and the owner are given by acronym.
* Cells beginning with ``= + - @`` are prefixed with ``'`` on export so that a spreadsheet
  never runs them as formulas (CSV injection); import removes that prefix again.
* All or nothing by default: every row is checked before anything is written, and any bad
  row means nothing is written. With ``skip_invalid`` the good rows are written and the bad
  ones reported. Row numbers are the spreadsheet's: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, TooLarge
from lakana.core.i18n import gettext
from lakana.registry import service
from lakana.registry.models import InformationSystem, Institution
from lakana.registry.permissions import RegistryPermission as P
from lakana.registry.schemas import (
    ImportReportOut,
    InstitutionCreate,
    RowErrorOut,
    SystemCreate,
    describe_errors,
    guess_endpoint_kind,
)

INSTITUTION_COLUMNS = ("acronym", "name", "kind", "parent_acronym", "region", "sector",
                       "criticality_tier", "website", "description", "contacts")
INSTITUTION_REQUIRED = frozenset({"acronym", "name", "kind", "region", "sector",
                                  "criticality_tier"})
SYSTEM_COLUMNS = ("institution_acronym", "name", "purpose", "criticality",
                  "data_classification", "hosting", "personal_data", "biometric_data",
                  "endpoints")
SYSTEM_REQUIRED = frozenset({"institution_acronym", "name", "criticality",
                             "data_classification", "hosting"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TRUE = {"1", "true", "yes", "y", "oui", "o", "vrai", "x"}
_FALSE = {"", "0", "false", "no", "n", "non", "faux"}

Progress = Callable[[int, int], None]


@dataclass
class RowError:
    """One problem of an import, with a gettext message id and its parameters."""

    row: int
    column: str | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The shape of :class:`LakanaError` ``errors`` items (translated by the handler)."""
        return {"row": self.row, "column": self.column, "message": self.message,
                "params": self.params}


@dataclass
class ImportReport:
    """The outcome of an import."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    applied: bool = False
    errors: list[RowError] = field(default_factory=list)

    def out(self) -> ImportReportOut:
        """The report with messages translated into the current language."""
        return ImportReportOut(
            applied=self.applied, rows=self.rows, created=self.created, updated=self.updated,
            unchanged=self.unchanged, skipped=self.skipped,
            errors=[RowErrorOut(row=e.row, column=e.column,
                                message=gettext(e.message, **e.params)) for e in self.errors])


# --- export -----------------------------------------------------------------------------

def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _write(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def _contact_cell(inst: Institution) -> str:
    return ";".join("|".join(x or "" for x in (c.full_name, c.position, c.email, c.phone))
                    for c in inst.contacts)


def export_institutions(*, session: Session, actor: Actor) -> str:
    """Every institution the actor may see, as CSV text (starting with a BOM)."""
    rows = service.all_institutions(session=session, actor=actor)
    return _write(INSTITUTION_COLUMNS, (
        (i.acronym, i.name, i.kind, i.parent.acronym if i.parent else "", i.region, i.sector,
         i.criticality_tier, i.website, i.description, _contact_cell(i)) for i in rows))


def export_systems(*, session: Session, actor: Actor) -> str:
    """Every information system the actor may see, as CSV text (starting with a BOM)."""
    rows = service.all_systems(session=session, actor=actor)
    return _write(SYSTEM_COLUMNS, (
        (s.institution.acronym, s.name, s.purpose, s.criticality, s.data_classification,
         s.hosting, s.personal_data, s.biometric_data, ";".join(e.value for e in s.endpoints))
        for s in rows))


# --- reading ----------------------------------------------------------------------------

def decode_upload(content: bytes, *, max_bytes: int) -> str:
    """Strictly decode an uploaded CSV file as UTF-8 (a BOM is accepted)."""
    if len(content) > max_bytes:
        raise TooLarge("The file is larger than the limit of %(limit)s bytes.", limit=max_bytes)
    if not content.strip():
        raise Invalid("The file is empty.")
    if b"\x00" in content[:4096]:
        raise Invalid("This is not a CSV text file (it looks binary, or UTF-16).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise Invalid("The file is not in UTF-8 (line %(line)s): it looks like it was saved as "
                      "Latin-1/Windows-1252, which would corrupt accented names. Save it again "
                      "as \u201cCSV UTF-8\u201d and import it again.", line=line) from None


def _clean(value: str) -> str:
    text = value.strip()
    if text.startswith("'") and text[1:2] and text[1] in "=+-@":
        return text[1:]
    return text


def read_rows(text: str, *, columns: tuple[str, ...], required: frozenset[str]
              ) -> tuple[list[str], list[tuple[int, dict[str, str] | RowError]]]:
    """Parse CSV text: check the header, then give each data row (or its shape error)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        _check_header(header, columns, required)
        rows: list[tuple[int, dict[str, str] | RowError]] = []
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                rows.append((number, RowError(
                    number, None, "This row has %(found)s values but the header has "
                    "%(expected)s columns.", {"found": len(values), "expected": len(header)})))
                continue
            rows.append((number, {h: _clean(v) for h, v in zip(header, values, strict=True)}))
    except csv.Error as exc:
        raise Invalid("The CSV file is malformed near line %(line)s (%(error)s): check its "
                      "quotes and separators.", line=reader.line_num, error=str(exc)) from None
    return header, rows


def _check_header(header: list[str], columns: tuple[str, ...], required: frozenset[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise Invalid("The column %(column)s appears more than once in the header.",
                          column=name)
        seen.add(name)
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise Invalid("Unknown column %(column)s; the columns are: %(allowed)s.",
                      column=unknown[0] or '""', allowed=", ".join(columns))
    missing = sorted(required - set(header))
    if missing:
        raise Invalid("Missing required column(s): %(columns)s.", columns=", ".join(missing))


def _bool(value: str) -> bool | str:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value


def _validation_errors(number: int, exc: ValidationError, fields: dict[str, str]
                       ) -> list[RowError]:
    return [RowError(number, fields.get(item["field"], item["field"]) or None, item["message"],
                     item["params"]) for item in describe_errors(exc)]


def _finish(report: ImportReport, skip_invalid: bool) -> None:
    if report.errors and not skip_invalid:
        raise Invalid("The file has %(count)s error(s); nothing was imported. Correct them, or "
                      "ask to skip the invalid rows.", count=len(report.errors),
                      errors=[e.as_dict() for e in report.errors])


# --- institutions -----------------------------------------------------------------------

@dataclass
class _InstitutionRow:
    number: int
    data: InstitutionCreate
    parent_acronym: str | None
    present: set[str]


def _parse_contacts(cell: str) -> list[dict[str, str]]:
    contacts = []
    for chunk in cell.split(";"):
        if chunk.strip():
            parts = [p.strip() for p in chunk.split("|")] + ["", "", ""]
            contacts.append({"full_name": parts[0], "position": parts[1], "email": parts[2],
                             "phone": parts[3]})
    return contacts


def _institution_row(number: int, row: dict[str, str]) -> _InstitutionRow | list[RowError]:
    payload: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()
                               if k not in ("parent_acronym", "contacts")
                               and not (v == "" and k in INSTITUTION_REQUIRED)}
    if "contacts" in row:
        payload["contacts"] = _parse_contacts(row["contacts"])
    try:
        data = InstitutionCreate(**payload)
    except ValidationError as exc:
        return _validation_errors(number, exc, {})
    parent = (row.get("parent_acronym") or "").strip().upper() or None
    return _InstitutionRow(number, data, parent, set(row))


def _hierarchy_errors(session: Session, rows: list[_InstitutionRow]) -> list[RowError]:
    """Unknown parents and cycles, judged on the stored hierarchy overlaid with the file."""
    stored = session.execute(select(Institution.id, Institution.acronym,
                                    Institution.parent_id)).all()
    acronyms = {row.id: row.acronym for row in stored}
    parents: dict[str, str | None] = {
        row.acronym: acronyms.get(row.parent_id) if row.parent_id else None for row in stored}
    for r in rows:
        if "parent_acronym" in r.present or r.data.acronym not in parents:
            parents[r.data.acronym] = r.parent_acronym
    errors: list[RowError] = []
    for r in rows:
        if r.parent_acronym is None:
            continue
        if r.parent_acronym not in parents:
            errors.append(RowError(r.number, "parent_acronym",
                                   "Unknown parent institution %(acronym)s.",
                                   {"acronym": r.parent_acronym}))
            continue
        seen = {r.data.acronym}
        current: str | None = r.parent_acronym
        while current is not None:
            if current in seen:
                errors.append(RowError(r.number, "parent_acronym", "This parent would create "
                                       "a cycle in the institution hierarchy.", {}))
                break
            seen.add(current)
            current = parents.get(current)
    return errors


def _drop_orphans(session: Session, rows: list[_InstitutionRow], report: ImportReport
                  ) -> list[_InstitutionRow]:
    """When skipping bad rows, a child whose parent row was skipped is skipped too."""
    while True:
        known = {r.data.acronym for r in rows}
        orphans = [r for r in rows if r.parent_acronym is not None
                   and r.parent_acronym not in known
                   and service.get_institution_id_by_acronym(
                       session=session, acronym=r.parent_acronym) is None]
        if not orphans:
            return rows
        for r in orphans:
            report.errors.append(RowError(r.number, "parent_acronym", "The parent %(acronym)s "
                                          "was skipped, so this row was skipped too.",
                                          {"acronym": r.parent_acronym}))
        rows = [r for r in rows if r not in orphans]


def _parents_first(rows: list[_InstitutionRow]) -> list[_InstitutionRow]:
    by_acronym = {r.data.acronym: r for r in rows}
    ordered: list[_InstitutionRow] = []
    placed: set[str] = set()

    def place(r: _InstitutionRow) -> None:
        if r.data.acronym in placed:
            return
        placed.add(r.data.acronym)
        if r.parent_acronym in by_acronym:
            place(by_acronym[r.parent_acronym])
        ordered.append(r)

    for r in rows:
        place(r)
    return ordered


def import_institutions(*, session: Session, actor: Actor, content: bytes, max_bytes: int,
                        skip_invalid: bool = False, progress: Progress | None = None
                        ) -> ImportReport:
    """Create or update institutions (by acronym) from a CSV file; see the module's rules."""
    actor.require(P.INSTITUTION_CREATE)
    _, raw = read_rows(decode_upload(content, max_bytes=max_bytes),
                       columns=INSTITUTION_COLUMNS, required=INSTITUTION_REQUIRED)
    report = ImportReport(rows=len(raw))
    good: list[_InstitutionRow] = []
    first_seen: dict[str, int] = {}
    for number, row in raw:
        parsed = row if isinstance(row, RowError) else _institution_row(number, row)
        if isinstance(parsed, RowError):
            report.errors.append(parsed)
        elif isinstance(parsed, list):
            report.errors.extend(parsed)
        elif parsed.data.acronym in first_seen:
            report.errors.append(RowError(number, "acronym", "The acronym %(acronym)s already "
                                          "appears on row %(row)s.", {
                                              "acronym": parsed.data.acronym,
                                              "row": first_seen[parsed.data.acronym]}))
        else:
            first_seen[parsed.data.acronym] = number
            good.append(parsed)
    hierarchy = _hierarchy_errors(session, good)
    report.errors.extend(hierarchy)
    bad = {e.row for e in report.errors}
    good = [r for r in good if r.number not in bad]
    _finish(report, skip_invalid)
    good = _drop_orphans(session, good, report)
    for done, r in enumerate(_parents_first(good), start=1):
        _apply_institution(session, actor, r, report)
        if progress:
            progress(done, len(good))
    report.skipped = report.rows - report.created - report.updated - report.unchanged
    report.applied = True
    return report


def _apply_institution(session: Session, actor: Actor, r: _InstitutionRow,
                       report: ImportReport) -> None:
    from lakana.registry.schemas import InstitutionUpdate

    parent_id = (service.get_institution_id_by_acronym(session=session,
                                                       acronym=r.parent_acronym)
                 if r.parent_acronym else None)
    existing_id = service.get_institution_id_by_acronym(session=session, acronym=r.data.acronym)
    if existing_id is None:
        service.create_institution(session=session, actor=actor,
                                   data=r.data.model_copy(update={"parent_id": parent_id}))
        report.created += 1
        return
    inst = service.get_institution(session=session, actor=actor, institution_id=existing_id)
    values = r.data.model_dump(exclude_unset=True, exclude={"parent_id"})
    if "parent_acronym" in r.present:
        values["parent_id"] = parent_id
    if "contacts" not in r.present:
        values.pop("contacts", None)
    before = inst.version
    service.update_institution(session=session, actor=actor, institution_id=existing_id,
                               data=InstitutionUpdate(**values, version=inst.version))
    if inst.version != before:
        report.updated += 1
    else:
        report.unchanged += 1


# --- systems ----------------------------------------------------------------------------

def _system_row(session: Session, actor: Actor, number: int, row: dict[str, str]
                ) -> tuple[SystemCreate, set[str]] | list[RowError]:
    acronym = row.get("institution_acronym", "").strip().upper()
    owner_id = service.get_institution_id_by_acronym(session=session, acronym=acronym)
    if owner_id is None or not _may_write(actor, owner_id):
        return [RowError(number, "institution_acronym", "Unknown institution %(acronym)s.",
                         {"acronym": acronym})]
    payload: dict[str, Any] = {k: v for k, v in row.items()
                               if k not in ("institution_acronym", "endpoints")
                               and not (v == "" and k in SYSTEM_REQUIRED)}
    for flag in ("personal_data", "biometric_data"):
        if flag in payload:
            payload[flag] = _bool(payload[flag])
    payload["institution_id"] = owner_id
    cells = [v.strip() for v in row.get("endpoints", "").split(";") if v.strip()]
    payload["endpoints"] = [{"kind": guess_endpoint_kind(v), "value": v} for v in cells]
    try:
        return SystemCreate(**payload), set(row)
    except ValidationError as exc:
        return _validation_errors(number, exc, {"institution_id": "institution_acronym"})


def _may_write(actor: Actor, institution_id: int) -> bool:
    from lakana.core.auth.rbac import in_scope

    return in_scope(actor, institution_id) and actor.can(P.SYSTEM_WRITE)


def import_systems(*, session: Session, actor: Actor, content: bytes, max_bytes: int,
                   skip_invalid: bool = False, progress: Progress | None = None) -> ImportReport:
    """Create or update systems (by owner acronym and name) from a CSV file."""
    actor.require(P.SYSTEM_WRITE)
    _, raw = read_rows(decode_upload(content, max_bytes=max_bytes), columns=SYSTEM_COLUMNS,
                       required=SYSTEM_REQUIRED)
    report = ImportReport(rows=len(raw))
    good: list[tuple[SystemCreate, set[str]]] = []
    first_seen: dict[tuple[int, str], int] = {}
    for number, row in raw:
        parsed = [row] if isinstance(row, RowError) else _system_row(session, actor, number, row)
        if isinstance(parsed, list):
            report.errors.extend(parsed)
            continue
        key = (parsed[0].institution_id, parsed[0].name)
        if key in first_seen:
            report.errors.append(RowError(number, "name", "The system %(name)s already appears "
                                          "on row %(row)s.", {"name": parsed[0].name,
                                                              "row": first_seen[key]}))
            continue
        first_seen[key] = number
        good.append(parsed)
    _finish(report, skip_invalid)
    for done, (data, present) in enumerate(good, start=1):
        _apply_system(session, actor, data, present, report)
        if progress:
            progress(done, len(good))
    report.skipped = report.rows - report.created - report.updated - report.unchanged
    report.applied = True
    return report


def _apply_system(session: Session, actor: Actor, data: SystemCreate, present: set[str],
                  report: ImportReport) -> None:
    from lakana.registry.schemas import SystemUpdate

    existing: InformationSystem | None = service.get_system_by_name(
        session=session, institution_id=data.institution_id, name=data.name)
    if existing is None:
        service.create_system(session=session, actor=actor, data=data)
        report.created += 1
        return
    values = data.model_dump(exclude_unset=True, exclude={"institution_id"})
    if "endpoints" not in present:
        values.pop("endpoints", None)
    before = existing.version
    service.update_system(session=session, actor=actor, system_id=existing.id,
                          data=SystemUpdate(**values, version=existing.version))
    if existing.version != before:
        report.updated += 1
    else:
        report.unchanged += 1
