"""Log parsers: each turns one line or record into a flat event keyed by ECS dotted names.

:func:`parse_line` and :func:`parse_record` detect the format; the per-format functions are public
for callers that know it.
"""

from lakana.monitoring.detection.parsers.auditd import parse_auditd
from lakana.monitoring.detection.parsers.dispatch import MAX_LINE, parse_line, parse_record
from lakana.monitoring.detection.parsers.sshd import parse_pam_message, parse_sshd_message
from lakana.monitoring.detection.parsers.syslog import (
    parse_syslog,
    parse_syslog_3164,
    parse_syslog_5424,
)
from lakana.monitoring.detection.parsers.web import (
    parse_access_log,
    parse_apache_error,
    parse_nginx_error,
)
from lakana.monitoring.detection.parsers.windows import (
    looks_like_windows_event,
    parse_windows_event,
)

__all__ = [
    "MAX_LINE",
    "looks_like_windows_event",
    "parse_access_log",
    "parse_apache_error",
    "parse_auditd",
    "parse_line",
    "parse_nginx_error",
    "parse_pam_message",
    "parse_record",
    "parse_sshd_message",
    "parse_syslog",
    "parse_syslog_3164",
    "parse_syslog_5424",
    "parse_windows_event",
]
