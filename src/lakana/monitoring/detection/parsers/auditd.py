"""Linux auditd records (``type=X msg=audit(EPOCH.MS:SERIAL): key=value ...``) into ECS fields.

Values may be plain, double-quoted, or hex-encoded (auditd hex-encodes strings holding spaces or
odd characters); the user-space message inside ``msg='...'`` is parsed as key=value too. Every
field that gets no ECS name is kept under ``auditd.data.<key>``.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["decode_value", "parse_auditd"]

_RE_HEADER = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>[A-Z0-9_]+) "
    r"msg=audit\((?P<sec>\d+)(?:\.(?P<frac>\d+))?:(?P<serial>\d+)\):"
    r" ?(?P<body>.*)\Z",
    re.DOTALL,
)
_RE_KV = re.compile(r"""([\w-]+)=("[^"]*"|'[^']*'|\S*)""")
_RE_HEX = re.compile(r"(?:[0-9A-F]{2})+\Z")
# Fields auditd always writes hex-encoded when the value is not quoted.
_HEX_FIELDS = frozenset({"proctitle", "cmd", "acct", "exe", "comm", "name", "cwd", "path", "data"})
_RE_EXECVE_ARG = re.compile(r"a(\d+)\Z")

_ACTIONS = {
    "USER_LOGIN": ("authentication", "logged-in"),
    "USER_AUTH": ("authentication", "authenticated"),
    "USER_ACCT": ("authentication", "was-authorized"),
    "USER_START": ("session", "started-session"),
    "USER_END": ("session", "ended-session"),
    "CRED_ACQ": ("authentication", "acquired-credentials"),
    "CRED_DISP": ("authentication", "disposed-credentials"),
    "USER_CMD": ("process", "ran-command"),
    "EXECVE": ("process", "executed"),
    "SYSCALL": ("process", "syscall"),
    "ADD_USER": ("iam", "added-user-account"),
    "DEL_USER": ("iam", "deleted-user-account"),
    "ADD_GROUP": ("iam", "added-group-account"),
    "USER_CHAUTHTOK": ("iam", "changed-password"),
}


def decode_value(key: str, raw: str) -> str:
    """Unquote an auditd value, or decode it from hex where auditd hex-encoded it."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if (key in _HEX_FIELDS or _RE_EXECVE_ARG.match(key)) and len(raw) >= 2 and _RE_HEX.match(raw):
        try:
            # NUL separates proctitle arguments.
            return bytes.fromhex(raw).decode("utf-8", "replace").replace("\x00", " ")
        except ValueError:
            return raw
    return raw


def _kv(text: str) -> dict[str, str]:
    return {k: decode_value(k, v) for k, v in _RE_KV.findall(text)}


def parse_auditd(line: str) -> dict[str, Any] | None:  # noqa: C901 - one flat field mapping
    """Parse one auditd record line; None when the line is not one."""
    m = _RE_HEADER.match(line)
    if not m:
        return None
    rtype = m["type"]
    frac = (m["frac"] or "0")[:6].ljust(6, "0")
    try:
        ts = datetime.fromtimestamp(int(m["sec"]), UTC).replace(microsecond=int(frac))
    except (OverflowError, OSError, ValueError):
        return None
    fields = _kv(m["body"])
    inner_raw = re.search(r"msg='(.*?)'(?: |\Z)", m["body"], re.DOTALL)
    if inner_raw:
        fields.pop("msg", None)
        fields.update(_kv(inner_raw[1]))
    event: dict[str, Any] = {
        "log.original": line,
        "message": line,
        "event.dataset": "auditd",
        "@timestamp": ts.isoformat().replace("+00:00", "Z"),
        "auditd.message_type": rtype,
        "auditd.sequence": int(m["serial"]),
    }
    if m["node"]:
        event["host.name"] = m["node"]
    category, action = _ACTIONS.get(rtype, (None, rtype.lower()))
    event["event.action"] = action
    if category:
        event["event.category"] = category
    res = fields.pop("res", None) or fields.pop("success", None)
    if res is not None:
        event["event.outcome"] = "success" if res in ("success", "yes", "1") else "failure"
    user = fields.get("acct") or fields.get("id")
    if user and user != "?":
        event["user.name"] = user
    addr = fields.get("addr")
    if addr and addr != "?":
        try:
            event["source.ip"] = str(ipaddress.ip_address(addr))
        except ValueError:
            event["source.address"] = addr
    if fields.get("hostname") not in (None, "?", ""):
        event["source.domain"] = fields["hostname"]
    if fields.get("exe") not in (None, "?", ""):
        event["process.executable"] = fields["exe"]
    if fields.get("pid", "").isdigit():
        event["process.pid"] = int(fields["pid"])
    if fields.get("comm"):
        event["process.name"] = fields["comm"]
    if rtype == "USER_CMD" and "cmd" in fields:
        event["process.command_line"] = fields["cmd"]
    if rtype == "EXECVE":
        args = sorted(((int(a[1]), v) for k, v in fields.items() if (a := _RE_EXECVE_ARG.match(k))))
        if args:
            event["process.args"] = [v for _, v in args]
            event["process.command_line"] = " ".join(v for _, v in args)
    if fields.get("auid") not in (None, "4294967295", "-1"):
        event["user.audit.id"] = fields["auid"]
    if "uid" in fields:
        event["user.id"] = fields["uid"]
    for key, value in fields.items():
        event[f"auditd.data.{key}"] = value
    return event
