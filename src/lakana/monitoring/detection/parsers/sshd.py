"""OpenSSH server and PAM messages (the text after the syslog tag) into ECS fields.

Every recognised message gets ``event.category`` (a string: ``authentication`` or ``session``),
``event.action`` and, where the message says so, ``event.outcome``; addresses go to ``source.ip``
(or ``source.domain`` when sshd/PAM logged a host name), users to ``user.name``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

__all__ = ["parse_pam_message", "parse_sshd_message"]

_USER = r"(?P<user>.*?)"  # sshd logs attacker-chosen user names verbatim, spaces included
_IP = r"(?P<ip>[0-9A-Fa-f:.]+)"
_PORT = r"(?: port (?P<port>\d+))?"
_PREAUTH = r"(?: \[preauth\])?"

Handler = Callable[[re.Match[str]], dict[str, Any]]


def _src(m: re.Match[str], event: dict[str, Any]) -> dict[str, Any]:
    groups = m.groupdict()
    if groups.get("ip"):
        _set_host(event, groups["ip"])
    if groups.get("port"):
        event["source.port"] = int(groups["port"])
    user = groups.get("user") or groups.get("user2")
    if user:
        event["user.name"] = user
    return event


def _set_host(event: dict[str, Any], value: str) -> None:
    try:
        event["source.ip"] = str(ipaddress.ip_address(value))
    except ValueError:
        event["source.domain"] = value


def _auth(action: str, outcome: str | None, **extra: Any) -> Handler:
    def handler(m: re.Match[str]) -> dict[str, Any]:
        event: dict[str, Any] = {"event.category": "authentication", "event.action": action}
        if outcome:
            event["event.outcome"] = outcome
        groups = m.groupdict()
        if groups.get("method"):
            event["ssh.method"] = groups["method"]
        if groups.get("invalid"):
            event["event.reason"] = "invalid user"
        if groups.get("reason"):
            event["event.reason"] = groups["reason"]
        if groups.get("domain"):
            event["source.domain"] = groups["domain"]
        event.update(extra)
        return _src(m, event)

    return handler


_SSHD: list[tuple[re.Pattern[str], Handler]] = [
    (
        re.compile(
            r"Accepted (?P<method>\S+) for "
            + _USER
            + r" from "
            + _IP
            + _PORT
            + r"(?: ssh2)?(?:: .*)?\Z"
        ),
        _auth("ssh_login", "success"),
    ),
    (
        re.compile(
            r"Failed (?P<method>\S+) for (?P<invalid>invalid user )?"
            + _USER
            + r" from "
            + _IP
            + _PORT
            + r"(?: ssh2)?\Z"
        ),
        _auth("ssh_login", "failure"),
    ),
    (
        re.compile(r"Invalid user " + _USER + r" from " + _IP + _PORT + r"\Z"),
        _auth("ssh_invalid_user", "failure"),
    ),
    (
        re.compile(r"input_userauth_request: invalid user " + _USER + _PREAUTH + r"\Z"),
        _auth("ssh_invalid_user_request", "unknown"),
    ),
    (
        re.compile(
            r"(?:error: )?maximum authentication attempts exceeded for (?P<invalid>invalid user )?"
            + _USER
            + r" from "
            + _IP
            + _PORT
            + r"(?: ssh2)?"
            + _PREAUTH
            + r"\Z"
        ),
        _auth("ssh_max_auth_attempts", "failure"),
    ),
    (
        re.compile(
            r"Disconnecting(?: authenticating user " + _USER + " " + _IP + _PORT + r")?:"
            r" Too many authentication failures(?: for "
            + _USER.replace("user", "user2")
            + r")?"
            + _PREAUTH
            + r"\Z"
        ),
        _auth("ssh_max_auth_attempts", "failure"),
    ),
    (
        re.compile(
            r"(?:error: )?Received disconnect from "
            + _IP
            + _PORT
            + r":(?: (?P<code>\d+):)? ?(?P<reason>.*?)"
            + _PREAUTH
            + r"\Z"
        ),
        _auth("ssh_disconnect", None),
    ),
    (
        re.compile(
            r"Disconnected from (?:(?P<invalid>invalid user )|authenticating user |user )?(?:"
            + _USER
            + r" )?"
            + _IP
            + _PORT
            + _PREAUTH
            + r"\Z"
        ),
        _auth("ssh_disconnect", None),
    ),
    (
        re.compile(
            r"Connection closed by (?P<invalid>invalid user )?(?:authenticating user "
            + _USER
            + r" )?"
            + _IP
            + _PORT
            + _PREAUTH
            + r"\Z"
        ),
        _auth("ssh_connection_closed", None),
    ),
    (
        re.compile(
            r"reverse mapping checking getaddrinfo for (?P<domain>\S+) \[" + _IP + r"\] failed"
            r"(?: - POSSIBLE BREAK-IN ATTEMPT!)?\Z"
        ),
        _auth("ssh_reverse_mapping_failed", None),
    ),
    (
        re.compile(
            r"Address "
            + _IP
            + r" maps to (?P<domain>\S+), but this does not map back to the address"
            r"(?: - POSSIBLE BREAK-IN ATTEMPT!)?\Z"
        ),
        _auth("ssh_reverse_mapping_failed", None),
    ),
    (
        re.compile(r"Did not receive identification string from " + _IP + _PORT + r"\Z"),
        _auth("ssh_no_identification", None, **{"event.category": "network"}),
    ),
    (
        re.compile(r"Connection from " + _IP + _PORT + r" on \S+ port \d+.*\Z"),
        _auth("ssh_connection", None, **{"event.category": "network"}),
    ),
]

_PAM_PREFIX = re.compile(r"pam_unix\((?P<service>[^:)]+):(?P<type>[^)]+)\): ")
_PAM_KV = re.compile(r"(\w+)=(\S*)")
_PAM_MORE = re.compile(r"PAM (?P<count>\d+) more authentication failures?; (?P<kv>.*)\Z")
_PAM_SESSION = re.compile(
    r"session (?P<what>opened|closed) for user (?P<user>\S+)(?: by (?P<by>.*))?\Z"
)
_REPEATED = re.compile(r"message repeated (?P<n>\d+) times: \[ ?(?P<inner>.*)\]\Z", re.DOTALL)


def _pam_kv(text: str, event: dict[str, Any]) -> None:
    kv = dict(_PAM_KV.findall(text))
    if kv.get("rhost"):
        _set_host(event, kv["rhost"])
    if kv.get("user"):
        event["user.name"] = kv["user"]
    if kv.get("ruser"):
        event["pam.ruser"] = kv["ruser"]
    if kv.get("tty"):
        event["pam.tty"] = kv["tty"]


def parse_pam_message(message: str, service: str | None = None) -> dict[str, Any] | None:
    """Parse a pam_unix message (``pam_unix(svc:type): ...`` or the bare text that older systems log
    under an ``svc(pam_unix)`` tag). Returns ECS fields or None."""
    m = _PAM_PREFIX.match(message)
    event: dict[str, Any] = {}
    if m:
        service = m["service"]
        message = message[m.end() :]
    if service:
        event["pam.service"] = service
    if message.startswith("authentication failure;"):
        event.update(
            {
                "event.category": "authentication",
                "event.action": "pam_auth_failure",
                "event.outcome": "failure",
            }
        )
        _pam_kv(message, event)
        return event
    more = _PAM_MORE.match(message)
    if more:
        event.update(
            {
                "event.category": "authentication",
                "event.action": "pam_auth_failures_more",
                "event.outcome": "failure",
                "pam.failure_count": int(more["count"]),
            }
        )
        _pam_kv(more["kv"], event)
        return event
    if message.startswith("check pass; user unknown"):
        event.update(
            {
                "event.category": "authentication",
                "event.action": "pam_user_unknown",
                "event.outcome": "failure",
            }
        )
        return event
    if message.startswith("PAM service(") and "ignoring max retries" in message:
        event.update({"event.category": "authentication", "event.action": "pam_max_retries"})
        return event
    s = _PAM_SESSION.match(message)
    if s:
        event.update(
            {
                "event.category": "session",
                "event.action": f"session_{s['what']}",
                "event.outcome": "success",
                "user.name": s["user"],
            }
        )
        return event
    return None


def parse_sshd_message(message: str) -> dict[str, Any] | None:
    """Parse one sshd message (without the syslog envelope); None when it is not a known one.

    ``message repeated N times: [ ... ]`` (rsyslog's reduction) is unwrapped and
    ``event.count`` = N.
    """
    count = None
    rep = _REPEATED.match(message)
    if rep:
        count = int(rep["n"])
        message = rep["inner"].rstrip()
    event: dict[str, Any] | None = None
    for pattern, handler in _SSHD:
        m = pattern.match(message)
        if m:
            event = handler(m)
            break
    if event is None:
        event = parse_pam_message(message, service="sshd")
    if event is None:
        return None
    if count is not None:
        event["event.count"] = count
    return event
