"""The syslog envelope: RFC 3164 (BSD, also the ``/var/log/auth.log`` file form without ``<PRI>``)
and RFC 5424. Pure functions, no I/O.

Year rule for RFC 3164 (its timestamp has no year and no zone): the timestamp is taken as UTC in
the year of the reference date (``received``, default: now in UTC); when that puts it more than one
day after the reference date, the previous year is used (a December line received in January).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "infer_year",
    "parse_structured_data",
    "parse_syslog",
    "parse_syslog_3164",
    "parse_syslog_5424",
]

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
# TAG: "sshd[123]:", "sshd(pam_unix)[123]:", "kernel:"; a tag-less message is accepted too.
_TAG = r"(?:(?P<app>[^\s\[\]:]+(?:\([^\s)]*\))?)(?:\[(?P<pid>[^\]\s]*)\])?:(?: |$))?"
_RE_3164 = re.compile(
    _PRI + r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2}) "
    r"(?P<time>\d{2}:\d{2}:\d{2})(?:\.\d+)? +(?P<host>\S+) +" + _TAG + r"(?P<msg>.*)\Z",
    re.DOTALL,
)
# rsyslog's high-precision file format: ISO timestamp instead of "Mmm dd hh:mm:ss".
_RE_ISO_FILE = re.compile(
    _PRI + r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) +"
    r"(?P<host>\S+) +" + _TAG + r"(?P<msg>.*)\Z",
    re.DOTALL,
)
_RE_5424 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<ver>\d{1,2}) (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) "
    r"(?P<msgid>\S+) (?P<rest>.*)\Z",
    re.DOTALL,
)
_RE_SD_ELEMENT_ID = re.compile(r"\[([^\s\]=\"]+)")
_RE_SD_PARAM = re.compile(r' ([^\s\]=\"]+)="((?:[^"\\]|\\.)*)"', re.DOTALL)
_RE_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")


def infer_year(month: int, day: int, hhmmss: str, reference: datetime) -> datetime:
    """Place a year-less RFC 3164 timestamp (taken as UTC) in time, relative to ``reference``.

    The reference year is used unless that lands more than one day in the future, in which case
    the previous year is (logs are read after they are written).
    """
    ref = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
    h, m, s = (int(x) for x in hhmmss.split(":"))
    for year in (ref.year, ref.year - 1):
        try:
            ts = datetime(year, month, day, h, m, s, tzinfo=UTC)
        except ValueError:  # Feb 29 in a non-leap year, or a bad hour: try the other year
            continue
        if ts - ref <= timedelta(days=1):
            return ts
    raise ValueError("impossible date")


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> str | None:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return _iso(ts)


def _envelope(
    event: dict[str, Any], pri: str | None, host: str | None, app: str | None, pid: str | None
) -> None:
    if pri is not None and int(pri) <= 191:
        event["log.syslog.priority"] = int(pri)
        event["log.syslog.facility.code"] = int(pri) >> 3
        event["log.syslog.severity.code"] = int(pri) & 7
    if host and host != "-":
        event["host.name"] = host
    if app and app != "-":
        event["log.syslog.appname"] = app
        # "sshd(pam_unix)" is the sshd process reporting through PAM.
        event["process.name"] = app.split("(", 1)[0]
    if pid and pid != "-":
        event["log.syslog.procid"] = pid
        if pid.isdigit() and len(pid) < 10:
            event["process.pid"] = int(pid)


def parse_syslog_3164(line: str, *, received: datetime | None = None) -> dict[str, Any] | None:
    """Parse an RFC 3164 line (``<PRI>`` optional), or rsyslog's ISO-timestamp file format.

    Returns the event (``message`` is the text after the tag) or None when it is not one.
    """
    m = _RE_3164.match(line)
    event: dict[str, Any] = {"log.original": line, "event.dataset": "syslog"}
    if m:
        try:
            ts = infer_year(
                _MONTHS[m["mon"]], int(m["day"]), m["time"], received or datetime.now(UTC)
            )
        except ValueError:
            return None
        event["@timestamp"] = _iso(ts)
    else:
        m = _RE_ISO_FILE.match(line)
        if not m:
            return None
        stamp = _parse_iso(m["ts"])
        if stamp is None:
            return None
        event["@timestamp"] = stamp
    _envelope(event, m["pri"], m["host"], m["app"], m["pid"])
    event["message"] = m["msg"]
    event["log.syslog.format"] = "rfc3164"
    return event


def parse_structured_data(text: str) -> tuple[dict[str, dict[str, str]], str] | None:
    """Split RFC 5424 ``STRUCTURED-DATA MSG`` into ({sd-id: {param: value}}, msg); None if
    malformed."""
    if text.startswith("-"):
        if text == "-" or text.startswith("- "):
            return {}, text[2:]
        return None
    sd: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        m = _RE_SD_ELEMENT_ID.match(text, pos)
        if not m:
            return None
        params: dict[str, str] = {}
        pos = m.end()
        while True:
            p = _RE_SD_PARAM.match(text, pos)
            if not p:
                break
            params[p[1]] = _RE_SD_UNESCAPE.sub(r"\1", p[2])
            pos = p.end()
        if pos >= len(text) or text[pos] != "]":
            return None
        sd[m[1]] = params
        pos += 1
    if not sd:
        return None
    msg = text[pos:]
    if msg.startswith(" "):
        msg = msg[1:]
    elif msg:
        return None
    return sd, msg


def parse_syslog_5424(line: str) -> dict[str, Any] | None:
    """Parse an RFC 5424 line; structured data is kept under ``log.syslog.structured_data``."""
    m = _RE_5424.match(line)
    if not m:
        return None
    split = parse_structured_data(m["rest"])
    if split is None:
        return None
    sd, msg = split
    event: dict[str, Any] = {
        "log.original": line,
        "event.dataset": "syslog",
        "log.syslog.format": "rfc5424",
        "log.syslog.version": int(m["ver"]),
    }
    if m["ts"] != "-":
        stamp = _parse_iso(m["ts"])
        if stamp is None:
            return None
        event["@timestamp"] = stamp
    _envelope(event, m["pri"], m["host"], m["app"], m["pid"])
    if m["msgid"] != "-":
        event["log.syslog.msgid"] = m["msgid"]
    if sd:
        event["log.syslog.structured_data"] = sd
    # RFC 5424 allows a BOM before a UTF-8 MSG; rsyslog's stock RFC 5424 template
    # (RSYSLOG_SyslogProtocol23Format) puts one more space before it, which no program means.
    event["message"] = msg.removeprefix("\ufeff").lstrip(" ")
    return event


def parse_syslog(line: str, *, received: datetime | None = None) -> dict[str, Any] | None:
    """Parse a syslog line in either format; None when the line has no syslog envelope."""
    if line.startswith("<"):
        event = parse_syslog_5424(line)
        if event is not None:
            return event
    return parse_syslog_3164(line, received=received)
