"""Import of a session's attendance sheet (CSV or XLSX), all or nothing.

A sheet has a header row and one row per person, identified by e-mail address; the other
columns are optional: attendance (``présent``), outcome (``résultat``: completed, failed,
no-show, in English or French) and score (``note``, 0 to 100). Other columns (a name, a
signature) are ignored. A sheet listing only addresses records those people as present.

Every row is checked before anything is written: unknown people, duplicate rows, bad values,
a session too small for the people not yet enrolled. One problem refuses the whole sheet
with each problem's row (as the spreadsheet numbers it: the header is row 1) and column.

Encoding: CSV must be UTF-8, with or without a byte-order mark. A sheet in Windows-1252 or
Latin-1 (Excel's "CSV" on Windows) is *refused*, never guessed: decoding it as one or the
other would silently garble names whenever the guess is wrong, so the person is asked to
save it as "CSV UTF-8" (or XLSX), and told the first row with a byte that is not UTF-8.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from lakana.awareness.training import certificates, service
from lakana.awareness.training.models import (
    CourseSession,
    Enrolment,
    Trainee,
    TrainingCertificate,
)
from lakana.awareness.training.permissions import TrainingPermission as P
from lakana.awareness.training.schemas import EnrolmentResult, ImportReport, Outcome
from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import flush_or_conflict
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, TooLarge
from lakana.core.i18n import N_

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
#: Problems listed at most (the sheet is refused either way).
MAX_ERRORS = 100

COLUMNS = {"email": "email", "e-mail": "email", "courriel": "email", "mail": "email",
           "adresse e-mail": "email", "attended": "attended", "present": "attended",
           "presence": "attended", "outcome": "outcome", "result": "outcome",
           "resultat": "outcome", "score": "score", "note": "score"}
YES = {"yes", "oui", "1", "true", "vrai", "x", "o", "y"}
NO = {"no", "non", "0", "false", "faux", "n"}
OUTCOMES = {"completed": Outcome.COMPLETED, "complete": Outcome.COMPLETED,
            "passed": Outcome.COMPLETED, "reussi": Outcome.COMPLETED,
            "admis": Outcome.COMPLETED, "termine": Outcome.COMPLETED,
            "failed": Outcome.FAILED, "echoue": Outcome.FAILED, "echec": Outcome.FAILED,
            "ajourne": Outcome.FAILED, "no-show": Outcome.NO_SHOW,
            "no_show": Outcome.NO_SHOW, "noshow": Outcome.NO_SHOW, "absent": Outcome.NO_SHOW,
            "absente": Outcome.NO_SHOW}


@dataclass(frozen=True)
class SheetRow:
    """One data row: its number in the spreadsheet and its cells by column name."""

    number: int
    cells: dict[str, Any]


def _plain(text: str) -> str:
    """Lower case without accents or surrounding spaces (for headers and values)."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _problem(row: int, column: str, message: str, value: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"row": row, "column": column, "message": message}
    if value not in (None, ""):
        found["value"] = str(value)[:80]
    return found


def _refuse(message: str, errors: list[dict[str, Any]], **params: Any) -> Invalid:
    return Invalid(message, errors=errors[:MAX_ERRORS], **params)


# --- reading ----------------------------------------------------------------------------

def decode_csv(data: bytes) -> str:
    """The text of a CSV sheet: UTF-8 with or without BOM; anything else is refused with
    the row of the first byte that is not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _refuse("The sheet is in UTF-16: save it as CSV UTF-8 or XLSX.",
                      [_problem(1, "", N_("Not UTF-8."))])
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data[:exc.start].count(b"\n") + 1
        raise _refuse("The sheet is not in UTF-8 (it looks like Windows-1252 or Latin-1, "
                      "as Excel saves plain CSV): save it as CSV UTF-8 or XLSX. First "
                      "byte that is not UTF-8: row %(row)s.",
                      [_problem(row, "", N_("Not UTF-8."))], row=row) from None


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for cells in reader:
        yield reader.line_num, cells


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise Invalid("This XLSX file cannot be read (%(reason)s).",
                      reason=str(exc)[:200]) from None
    try:
        sheet = book.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)
    finally:
        book.close()


def read_sheet(data: bytes) -> tuple[list[str], list[SheetRow]]:
    """The columns (by their known names) and data rows of a CSV or XLSX sheet."""
    if len(data) > MAX_BYTES:
        raise TooLarge("The sheet is larger than %(limit)s MiB.", limit=MAX_BYTES // 1048576)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Invalid("Old Excel files (.xls) are not read: save the sheet as XLSX or CSV "
                      "UTF-8.")
    source: Iterator[tuple[int, list[Any]]] = (
        _xlsx_rows(data) if data.startswith(b"PK\x03\x04") else _csv_rows(decode_csv(data)))
    header: list[str | None] | None = None
    rows: list[SheetRow] = []
    for number, cells in source:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if header is None:
            header = [COLUMNS.get(_plain(c)) if c is not None else None for c in cells]
            if "email" not in header:
                raise _refuse("The sheet has no e-mail column (e-mail, email or courriel) "
                              "in its first row.", [_problem(number, "email",
                                                             N_("Missing column."))])
            continue
        if len(rows) >= MAX_ROWS:
            raise TooLarge("The sheet has more than %(limit)s rows.", limit=MAX_ROWS)
        rows.append(SheetRow(number, {name: cells[i] if i < len(cells) else None
                                      for i, name in enumerate(header) if name}))
    if header is None:
        raise Invalid("The sheet is empty.")
    return [c for c in header if c], rows


# --- checking ---------------------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _attended(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _plain(_text(value))
    if text == "":
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(N_("Attendance must be yes or no (oui / non)."))


def _outcome(value: Any) -> Outcome | None:
    text = _plain(_text(value))
    if text == "":
        return None
    if text not in OUTCOMES:
        raise ValueError(N_("Outcome must be completed, failed or no-show (réussi, échoué, "
                         "absent)."))
    return OUTCOMES[text]


def _score(value: Any) -> int | None:
    if value is None or _text(value) == "":
        return None
    number: float
    if isinstance(value, bool):
        raise ValueError(N_("The score must be a whole number from 0 to 100."))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(_text(value).replace(",", "."))
        except ValueError:
            raise ValueError(N_("The score must be a whole number from 0 to 100.")) from None
    if not number.is_integer() or not 0 <= number <= 100:
        raise ValueError(N_("The score must be a whole number from 0 to 100."))
    return int(number)


def _row_result(row: SheetRow, columns: list[str],
                errors: list[dict[str, Any]]) -> EnrolmentResult | None:
    values: dict[str, Any] = {}
    for column, parse in (("attended", _attended), ("outcome", _outcome),
                          ("score", _score)):
        if column not in columns:
            continue
        try:
            values[column] = parse(row.cells.get(column))
        except ValueError as exc:
            errors.append(_problem(row.number, column, str(exc), row.cells.get(column)))
    if len(values) < sum(1 for c in ("attended", "outcome", "score") if c in columns):
        return None
    if "attended" not in columns and "outcome" not in columns:
        values["attended"] = True  # a sheet of addresses lists the people present
    if values.get("outcome") == Outcome.NO_SHOW and values.get("score") is not None:
        errors.append(_problem(row.number, "score", N_("A no-show has no score."),
                               values["score"]))
        return None
    if values.get("outcome") == Outcome.NO_SHOW and values.get("attended"):
        errors.append(_problem(row.number, "attended", N_("A no-show did not attend.")))
        return None
    return EnrolmentResult(**values)


def import_attendance(*, session: Session, actor: Actor, session_id: int,
                      data: bytes) -> ImportReport:
    """Record a session's attendance sheet: every row or none (an :class:`Invalid` listing
    each problem's row and column)."""
    actor.require(P.TRAINING_MANAGE)
    found = service.get_session(session=session, actor=actor, session_id=session_id)
    columns, rows = read_sheet(data)
    errors: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    checked: list[tuple[SheetRow, str, EnrolmentResult]] = []
    for row in rows:
        raw = _text(row.cells.get("email"))
        try:
            email = validate_email(raw, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            errors.append(_problem(row.number, "email", N_("Not an e-mail address."), raw))
            continue
        if email in first_row:
            errors.append(_problem(row.number, "email",
                                   N_("Duplicate row: this person is on an earlier row."), raw)
                          | {"first_row": first_row[email]})
            continue
        first_row[email] = row.number
        result = _row_result(row, columns, errors)
        if result is not None:
            checked.append((row, email, result))
    people = service.trainees_by_email(session, [email for _row, email, _r in checked])
    enrolled = {e.trainee_id: e for e in session.scalars(
        select(Enrolment).where(Enrolment.session_id == found.id)
        .options(selectinload(Enrolment.certificate)))}
    free = found.seats - len(enrolled)
    for row, email, _result in checked:
        trainee = people.get(email)
        if trainee is None:
            errors.append(_problem(row.number, "email",
                                   N_("No trainee has this e-mail address: register the "
                                   "person first."), email))
        elif trainee.id not in enrolled:
            free -= 1
            if free < 0:
                errors.append(_problem(row.number, "email",
                                       N_("The session is full: no seat is left for this "
                                       "person, who is not enrolled."), email))
    if errors:
        errors.sort(key=lambda e: (e["row"], e["column"]))
        raise _refuse("The sheet was refused, nothing was recorded: %(count)s problems.",
                      errors, count=len(errors))
    return _apply(session, actor, found, checked, people, enrolled)


def _apply(session: Session, actor: Actor, found: CourseSession,
           checked: list[tuple[SheetRow, str, EnrolmentResult]], people: dict[str, Trainee],
           enrolled: dict[int, Enrolment]) -> ImportReport:
    """Write a checked sheet. People not yet enrolled (most rows of a big sheet) are inserted
    with their results in one batched INSERT, and their certificates in another; people
    already enrolled go through the ORM. Every change is still ledgered one by one, as the
    one-at-a-time functions do."""
    title = found.course.title
    fresh: list[tuple[Trainee, Enrolment, dict[str, Any] | None]] = []
    changed: list[tuple[Trainee, Enrolment, dict[str, Any] | None]] = []
    for _row, email, result in checked:
        trainee = people[email]
        enrolment = enrolled.get(trainee.id)
        if enrolment is None:
            # Transient (never added): only computes the row's values.
            enrolment = service.new_enrolment(found, trainee)
            fresh.append((trainee, enrolment, service.set_result(enrolment, result)))
        else:
            changed.append((trainee, enrolment, service.set_result(enrolment, result)))
    flush_or_conflict(session)
    issued: list[tuple[TrainingCertificate, str]] = []
    revoked: list[TrainingCertificate] = []
    for trainee, enrolment, before in changed:
        if before is None:
            continue
        service.ledger_result(session, actor, enrolment, before, f"{trainee.full_name} — {title}")
        if enrolment.outcome == Outcome.COMPLETED:
            prepared = certificates.prepare_issue(session, enrolment, trainee.full_name, title)
            if prepared is not None:
                issued.append(prepared)
        else:
            cert = certificates.prepare_revoke(enrolment)
            if cert is not None:
                revoked.append(cert)
    flush_or_conflict(session)
    for cert, action in issued:
        certificates.ledger_issue(session, actor, cert, action)
    for cert in revoked:
        certificates.ledger_revoke(session, actor, cert)
    new_certificates = _insert_fresh(session, actor, title, fresh)
    report = {"rows": len(checked), "enrolled": len(fresh), "updated": len(checked),
              "certificates": len(issued) + new_certificates}
    audit.record(session=session, actor=actor, action="awareness.session.attendance_import",
                 object_type="course_session", object_id=found.id,
                 object_repr=f"{title} {found.starts_on.isoformat()}", after=dict(report))
    return ImportReport(**report)


_ENROLMENT_VALUES = ("session_id", "trainee_id", "institution_id", "attended", "outcome",
                     "score")


#: Rows per INSERT … RETURNING call: SQLAlchemy joins the results of the batches of one call
#: in time quadratic in their number, so a 50,000-row call would take minutes.
_INSERT_CHUNK = 1000


def _insert_returning_ids(session: Session, model: type[Enrolment] | type[TrainingCertificate],
                          rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in chunks; the new ids in the order of ``rows``."""
    ids: list[int] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        ids.extend(session.scalars(insert(model).returning(model.id,
                                                           sort_by_parameter_order=True),
                                   rows[start:start + _INSERT_CHUNK]).all())
    return ids


def _insert_fresh(session: Session, actor: Actor, title: str,
                  fresh: list[tuple[Trainee, Enrolment, dict[str, Any] | None]]) -> int:
    """Insert new enrolments (values computed on transient objects) and the certificates
    of those completed, each in one batched statement; ledger each. Returns how many
    certificates were issued."""
    if not fresh:
        return 0
    now = utcnow()
    try:
        ids = _insert_returning_ids(session, Enrolment, [
            {name: getattr(enrolment, name) for name in _ENROLMENT_VALUES}
            | {"created_at": now, "updated_at": now} for _t, enrolment, _b in fresh])
    except IntegrityError:
        # Another import or enrolment of the same people committed meanwhile.
        raise Conflict("Some of these people were enrolled in this session meanwhile: "
                       "nothing was recorded, import the sheet again.") from None
    completed: list[dict[str, Any]] = []
    for (trainee, enrolment, before), ident in zip(fresh, ids, strict=True):
        enrolment.id = ident
        label = f"{trainee.full_name} — {title}"
        service.ledger_enrolment(session, actor, enrolment, label)
        if before is not None:
            service.ledger_result(session, actor, enrolment, before, label)
        if enrolment.outcome == Outcome.COMPLETED:
            completed.append({"enrolment_id": ident, "institution_id": enrolment.institution_id,
                              "code": certificates.new_code(), "full_name": trainee.full_name,
                              "course_title": title, "issued_on": now.date()})
    if completed:
        cert_ids = _insert_returning_ids(session, TrainingCertificate, completed)
        for values, ident in zip(completed, cert_ids, strict=True):
            certificates.ledger_issue(session, actor, TrainingCertificate(id=ident, **values),
                                      "awareness.training_certificate.issue")
    return len(completed)
