"""Parsing of imported files, all or nothing: target lists (CSV, UTF-8, ``,`` or ``;``) and
GoPhish result exports (its "results" CSV, or JSON: a list of results or a campaign with
``results`` and ``timeline``). Every refusal names the line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from lakana.awareness.phishing.schemas import EventKind
from lakana.core.errors import Invalid

MAX_ROWS = 50_000
_EMAIL = TypeAdapter(EmailStr)
EMAIL_HEADERS = ("email", "e-mail", "courriel", "adresse", "mail")
NAME_HEADERS = ("name", "nom", "full_name", "nom complet", "nom_complet")
DEPARTMENT_HEADERS = ("department", "service", "direction", "departement", "département")

#: The events a GoPhish status implies (a click implies an opening, and so on).
GOPHISH_STATUS: dict[str, tuple[EventKind, ...]] = {
    "email sent": (EventKind.SENT,),
    "email opened": (EventKind.SENT, EventKind.OPENED),
    "clicked link": (EventKind.SENT, EventKind.OPENED, EventKind.CLICKED),
    "submitted data": (EventKind.SENT, EventKind.OPENED, EventKind.CLICKED,
                       EventKind.SUBMITTED),
    "email reported": (EventKind.SENT, EventKind.REPORTED),
    "error": (), "scheduled": (), "sending": (), "retrying": (), "queued": ()}
GOPHISH_TIMELINE = {"email sent": EventKind.SENT, "email opened": EventKind.OPENED,
                    "clicked link": EventKind.CLICKED, "submitted data": EventKind.SUBMITTED,
                    "email reported": EventKind.REPORTED}


@dataclass
class TargetLine:
    """One accepted line of a target list."""

    line: int
    email: str
    full_name: str
    department: str


@dataclass
class GophishRow:
    """One person of a GoPhish export, with the events found for them."""

    line: int
    email: str
    full_name: str
    department: str
    events: dict[EventKind, dt.datetime] = field(default_factory=dict)


def decode(data: bytes) -> str:
    """The text of an uploaded file; refused, with the line, when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise Invalid("The file is not UTF-8 text (line %(line)s): save it as \"CSV UTF-8\".",
                      line=line, errors=[{"line": line, "message": "not UTF-8"}]) from exc


def _reader(text: str) -> csv.DictReader[str]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)


def _column(headers: list[str], names: tuple[str, ...]) -> str | None:
    for header in headers:
        if header.strip().lower() in names:
            return header
    return None


def valid_email(value: str) -> str | None:
    """The lower-case address, or ``None`` when it is not a valid e-mail address."""
    value = value.strip().lower()
    try:
        return str(_EMAIL.validate_python(value)).lower()
    except ValidationError:
        return None


def _refuse(errors: list[dict[str, Any]]) -> None:
    first = errors[0]
    raise Invalid("The file was refused (line %(line)s: %(problem)s); nothing was saved.",
                  line=first["line"], problem=first["message"], errors=errors[:100])


def parse_targets(data: bytes, known: set[str]) -> list[TargetLine]:
    """The lines of a target list; refused whole (422 naming each bad line) on a bad or
    duplicate address (in the file or already among ``known``)."""
    reader = _reader(decode(data))
    headers = list(reader.fieldnames or [])
    email_col = _column(headers, EMAIL_HEADERS)
    if email_col is None:
        raise Invalid("The file was refused (line %(line)s: %(problem)s); nothing was saved.",
                      line=1, problem="no e-mail column (email, courriel)",
                      errors=[{"line": 1, "message": "no e-mail column"}])
    name_col, dept_col = _column(headers, NAME_HEADERS), _column(headers, DEPARTMENT_HEADERS)
    lines: list[TargetLine] = []
    errors: list[dict[str, Any]] = []
    seen = set(known)
    for row in reader:
        number = reader.line_num
        raw = (row.get(email_col) or "").strip()
        if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        email = valid_email(raw)
        if email is None:
            errors.append({"line": number, "field": "email",
                           "message": f"invalid e-mail address {raw[:80]!r}"})
        elif email in seen:
            errors.append({"line": number, "field": "email",
                           "message": f"duplicate e-mail address {email}"})
        else:
            seen.add(email)
            lines.append(TargetLine(number, email, (row.get(name_col or "") or "").strip()[:200],
                                    (row.get(dept_col or "") or "").strip()[:200]))
        if len(lines) > MAX_ROWS:
            errors.append({"line": number, "message": f"more than {MAX_ROWS} targets"})
            break
    if errors:
        _refuse(errors)
    return lines


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip() or value.startswith("0001-01-01"):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return found.replace(tzinfo=dt.UTC) if found.tzinfo is None else found.astimezone(dt.UTC)


def _gophish_row(line: int, item: dict[str, Any], errors: list[dict[str, Any]]
                 ) -> GophishRow | None:
    raw = str(item.get("email") or "")
    email = valid_email(raw)
    status = str(item.get("status") or "").strip().lower()
    if email is None:
        errors.append({"line": line, "field": "email",
                       "message": f"invalid e-mail address {raw[:80]!r}"})
        return None
    if status not in GOPHISH_STATUS:
        errors.append({"line": line, "field": "status",
                       "message": f"unknown GoPhish status {status[:40]!r}"})
        return None
    name = f"{item.get('first_name') or ''} {item.get('last_name') or ''}".strip()
    row = GophishRow(line, email, name[:200], str(item.get("position") or "").strip()[:200])
    sent = _when(item.get("send_date"))
    modified = _when(item.get("modified_date")) or sent
    kinds = list(GOPHISH_STATUS[status])
    reported = item.get("reported")
    if reported is True or str(reported).strip().lower() in ("true", "1", "yes"):
        kinds.append(EventKind.REPORTED)
    for kind in kinds:
        at = sent if kind == EventKind.SENT else modified
        row.events[kind] = at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return row


def _timeline(rows: dict[str, GophishRow], timeline: list[Any]) -> None:
    for entry in timeline:
        if not isinstance(entry, dict):
            continue
        email = valid_email(str(entry.get("email") or ""))
        kind = GOPHISH_TIMELINE.get(str(entry.get("message") or "").strip().lower())
        at = _when(entry.get("time"))
        if email is None or kind is None or at is None or email not in rows:
            continue
        row = rows[email]
        if kind not in row.events or row.events[kind] > at:
            row.events[kind] = at


def _json_items(text: str) -> tuple[list[Any], list[Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid("The file was refused (line %(line)s: %(problem)s); nothing was saved.",
                      line=exc.lineno, problem=exc.msg,
                      errors=[{"line": exc.lineno, "message": exc.msg}]) from exc
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        timeline = document.get("timeline")
        return document["results"], timeline if isinstance(timeline, list) else []
    if isinstance(document, list):
        return document, []
    raise Invalid("The file was refused (line %(line)s: %(problem)s); nothing was saved.",
                  line=1, problem="neither a list of results nor a campaign with results",
                  errors=[{"line": 1, "message": "no results"}])


def parse_gophish(data: bytes) -> list[GophishRow]:
    """The people and events of a GoPhish export (CSV or JSON), all or nothing."""
    text = decode(data).strip()
    errors: list[dict[str, Any]] = []
    rows: dict[str, GophishRow] = {}
    if text.startswith(("[", "{")):
        items, timeline = _json_items(text)
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                errors.append({"line": index, "message": "a result is not an object"})
                continue
            found = _gophish_row(index, {k.lower(): v for k, v in item.items()}, errors)
            if found is not None:
                rows.setdefault(found.email, found)
        _timeline(rows, timeline)
    else:
        reader = _reader(text)
        headers = {h.strip().lower() for h in reader.fieldnames or []}
        if not {"email", "status"} <= headers:
            raise Invalid("The file was refused (line %(line)s: %(problem)s); nothing was "
                          "saved.", line=1, problem="GoPhish columns email and status missing",
                          errors=[{"line": 1, "message": "columns missing"}])
        for item in reader:
            found = _gophish_row(reader.line_num, {(k or "").strip().lower(): v
                                                   for k, v in item.items()}, errors)
            if found is not None:
                rows.setdefault(found.email, found)
    if errors:
        _refuse(errors)
    if len(rows) > MAX_ROWS:
        _refuse([{"line": MAX_ROWS, "message": f"more than {MAX_ROWS} results"}])
    return list(rows.values())
