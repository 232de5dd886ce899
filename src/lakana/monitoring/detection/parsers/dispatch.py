"""Format detection: one line or JSON record in, one event out, never dropped, never raising.

Order for text lines: JSON object (Windows event if it looks like one, else kept as a JSON record);
auditd; syslog envelope (sshd/PAM messages parsed by appname); access log; Apache/nginx error log;
otherwise ``event.dataset = "raw"`` with the line as message.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lakana.monitoring.detection.parsers.auditd import parse_auditd
from lakana.monitoring.detection.parsers.sshd import parse_pam_message, parse_sshd_message
from lakana.monitoring.detection.parsers.syslog import parse_syslog
from lakana.monitoring.detection.parsers.web import (
    parse_access_log,
    parse_apache_error,
    parse_nginx_error,
)
from lakana.monitoring.detection.parsers.windows import (
    looks_like_windows_event,
    parse_windows_event,
)

__all__ = ["MAX_LINE", "parse_line", "parse_record"]

MAX_LINE = 64 * 1024
"""Characters kept of a line; longer lines are cut and flagged ``event.truncated``."""


def _raw(line: str) -> dict[str, Any]:
    return {"message": line, "log.original": line, "event.dataset": "raw"}


def _syslog_app(event: dict[str, Any]) -> None:
    """Refine a syslog event by its application (sshd, or any service logging through PAM)."""
    app = event.get("log.syslog.appname", "")
    base = app.split("(", 1)[0]
    message = event["message"]
    fields = parse_sshd_message(message) if base == "sshd" else None
    if fields is None and ("pam_unix" in app or message.startswith(("pam_unix(", "PAM "))):
        fields = parse_pam_message(message, service=base or None)
    if base == "sshd":
        event["event.dataset"] = "sshd"
    if fields:
        event.update(fields)


def _parse_text(line: str, hint: str | None, received: datetime | None) -> dict[str, Any]:
    stripped = line.lstrip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            return parse_record(obj, original=line)
    if line.startswith(("type=", "node=")):
        audit_event = parse_auditd(line)
        if audit_event is not None:
            return audit_event
    syslog_event = parse_syslog(line, received=received)
    if syslog_event is not None:
        _syslog_app(syslog_event)
        return syslog_event
    dataset = "nginx.access" if hint and hint.startswith("nginx") else "apache.access"
    candidates = (
        parse_apache_error(line) if line.startswith("[") else None,
        parse_access_log(line, dataset=dataset),
        parse_nginx_error(line),
    )
    for event in candidates:
        if event is not None:
            return event
    return _raw(line)


def parse_line(
    line: str | bytes, *, hint: str | None = None, received: datetime | None = None
) -> dict[str, Any]:
    """Parse one log line of any supported format into an event.

    ``hint`` names the source when known (``nginx`` makes access lines ``nginx.access``);
    ``received`` is the reference date for RFC 3164's missing year. Bytes are decoded as UTF-8 with
    invalid sequences replaced; a trailing newline is removed; lines over :data:`MAX_LINE`
    characters
    are cut and flagged. Unknown or unparseable lines come back as ``event.dataset = "raw"``.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    elif not isinstance(line, str):
        line = str(line)
    else:
        # A str may still hold lone surrogates (from surrogateescape decoding): replace them.
        line = line.encode("utf-8", "replace").decode("utf-8", "replace")
    line = line.rstrip("\r\n")
    truncated = len(line) > MAX_LINE
    if truncated:
        line = line[:MAX_LINE]
    try:
        event = _parse_text(line, hint, received)
    except Exception:  # noqa: BLE001 - a parser bug must not lose the line; it is kept raw
        event = _raw(line)
        event["event.parse_error"] = True
    if truncated:
        event["event.truncated"] = True
    event.setdefault("message", line)
    event.setdefault("log.original", line)
    return event


def parse_record(obj: dict[str, Any], original: str | None = None) -> dict[str, Any]:
    """Parse one JSON record: a Windows event when it looks like one, otherwise a generic record
    (``event.dataset = "json"`` unless it names one, top-level scalars kept under their keys).
    ``original`` is the line the record was read from, when there was one (``log.original``);
    otherwise the record is written back as JSON."""
    if original is None:
        try:
            original = json.dumps(obj, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            original = repr(obj)
    try:
        if looks_like_windows_event(obj):
            event = parse_windows_event(obj)
        else:
            event = _generic_record(obj)
    except Exception:  # noqa: BLE001 - same rule as parse_line: keep the record, flag the failure
        event = {"event.dataset": "raw", "message": original, "event.parse_error": True}
    event["log.original"] = original
    event.setdefault("message", original)
    return event


def _generic_record(obj: dict[str, Any]) -> dict[str, Any]:
    """A JSON record that is not a Windows event: a ``message``/``log`` text field is re-parsed as a
    log line (what Fluent Bit or Vector forward); otherwise top-level fields are
    kept as they are."""
    text = obj.get("message", obj.get("log", obj.get("MESSAGE")))
    if isinstance(text, str) and set(obj) <= {
        "message",
        "log",
        "MESSAGE",
        "@timestamp",
        "host",
        "time",
    }:
        parsed = parse_line(text)
        host = obj.get("host")
        if isinstance(host, str):
            parsed.setdefault("host.name", host)
        return parsed
    event: dict[str, Any] = {"event.dataset": str(obj.get("event.dataset", "json"))}
    for key, value in obj.items():
        if isinstance(value, str | int | float | bool) or value is None:
            event[str(key)] = value
    if isinstance(text, str):
        event["message"] = text
    return event
