"""Web server logs: access logs in the common and combined formats (Apache and nginx write the
same text), Apache error logs (2.2 and 2.4 formats) and nginx error logs.

Access-log lines do not say which server wrote them: the dataset is ``apache.access`` unless the
caller says ``nginx.access``. Times without a zone (error logs) are taken as UTC.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_access_log", "parse_apache_error", "parse_nginx_error"]

_RE_ACCESS = re.compile(
    r"(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?(?P<extra> .*)?\Z',
    re.DOTALL,
)
_RE_REQUEST = re.compile(r"(?P<method>[A-Za-z]+) (?P<url>\S+)(?: HTTP/(?P<version>\d(?:\.\d)?))?\Z")
_RE_APACHE_ERROR = re.compile(
    r"\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\] "
    r"\[(?:(?P<module>[^:\]\s]+):)?(?P<level>[a-z]+\d?)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
    r"(?: \[client (?P<client>[^\]]+)\])?"
    r" ?(?P<msg>.*)\Z",
    re.DOTALL,
)
_RE_NGINX_ERROR = re.compile(
    r"(?P<ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>[a-z]+)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<conn>\d+) )?(?P<msg>.*)\Z",
    re.DOTALL,
)
_RE_NGINX_CLIENT = re.compile(r", client: (?P<ip>[0-9A-Fa-f:.]+)")
_RE_CLIENT_PORT = re.compile(
    r"(?P<ip>\d+\.\d+\.\d+\.\d+):(?P<port>\d+)\Z|\[?(?P<ip6>[0-9A-Fa-f:]+)\]:(?P<port6>\d+)\Z"
)


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _set_client(event: dict[str, Any], client: str) -> None:
    ip = _ip(client)
    if ip is None:
        m = _RE_CLIENT_PORT.match(client)
        if m:
            ip = _ip(m["ip"] or m["ip6"])
            if ip is not None:
                event["source.port"] = int(m["port"] or m["port6"])
    if ip is not None:
        event["source.ip"] = ip
    else:
        event["source.address"] = client


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_access_log(line: str, *, dataset: str = "apache.access") -> dict[str, Any] | None:
    """Parse a common/combined access-log line; None when the line is not one."""
    m = _RE_ACCESS.match(line)
    if not m:
        return None
    try:
        ts = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    event: dict[str, Any] = {
        "log.original": line,
        "message": line,
        "event.dataset": dataset,
        "event.category": "web",
        "@timestamp": ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    _set_client(event, m["client"])
    if m["user"] != "-":
        event["user.name"] = m["user"]
    request = _unescape(m["request"])
    event["http.request.line"] = request
    r = _RE_REQUEST.match(request)
    if r:
        event["http.request.method"] = r["method"]
        event["url.original"] = r["url"]
        if r["version"]:
            event["http.version"] = r["version"]
    if m["status"] != "-":
        status = int(m["status"])
        event["http.response.status_code"] = status
        event["event.outcome"] = "failure" if status >= 400 else "success"
    if m["bytes"] != "-":
        event["http.response.body.bytes"] = int(m["bytes"])
    if m["referrer"] is not None and m["referrer"] != "-":
        event["http.request.referrer"] = _unescape(m["referrer"])
    if m["agent"] is not None and m["agent"] != "-":
        event["user_agent.original"] = _unescape(m["agent"])
    return event


def parse_apache_error(line: str) -> dict[str, Any] | None:
    """Parse an Apache error-log line (2.2 ``[level]`` or 2.4 ``[module:level] [pid N:tid N]``)."""
    m = _RE_APACHE_ERROR.match(line)
    if not m:
        return None
    stamp = m["ts"]
    fmt = "%a %b %d %H:%M:%S.%f %Y" if "." in stamp else "%a %b %d %H:%M:%S %Y"
    try:
        ts = datetime.strptime(stamp, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None
    event: dict[str, Any] = {
        "log.original": line,
        "message": m["msg"],
        "event.dataset": "apache.error",
        "@timestamp": ts.isoformat().replace("+00:00", "Z"),
        "log.level": m["level"],
    }
    if m["module"]:
        event["apache.error.module"] = m["module"]
    if m["pid"]:
        event["process.pid"] = int(m["pid"])
    if m["tid"]:
        event["process.thread.id"] = int(m["tid"])
    if m["client"]:
        _set_client(event, m["client"])
    return event


def parse_nginx_error(line: str) -> dict[str, Any] | None:
    """Parse an nginx error-log line (``2024/01/02 03:04:05 [error] 12#0: *5 msg, client: ip``)."""
    m = _RE_NGINX_ERROR.match(line)
    if not m:
        return None
    try:
        ts = datetime.strptime(m["ts"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    event: dict[str, Any] = {
        "log.original": line,
        "message": m["msg"],
        "event.dataset": "nginx.error",
        "@timestamp": ts.isoformat().replace("+00:00", "Z"),
        "log.level": m["level"],
        "process.pid": int(m["pid"]),
        "process.thread.id": int(m["tid"]),
    }
    c = _RE_NGINX_CLIENT.search(m["msg"])
    if c and _ip(c["ip"]):
        event["source.ip"] = _ip(c["ip"])
    return event
