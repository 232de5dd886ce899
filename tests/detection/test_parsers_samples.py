"""Parsers against the real loghub samples in ../shared/data/logs (see its SOURCE.md)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lakana.monitoring.detection.parsers import parse_line

LOGS = Path("/work/shared/data/logs")
REF = datetime(2017, 1, 1, tzinfo=UTC)  # loghub samples are from 2005-2016; fixes the 3164 year

pytestmark = pytest.mark.skipif(not LOGS.is_dir(), reason="shared log samples absent")


def _parse(name: str) -> list[tuple[str, dict[str, Any]]]:
    lines = (LOGS / name).read_text(encoding="utf-8", errors="replace").splitlines()
    return [(line, parse_line(line, received=REF)) for line in lines]


def test_openssh_sample() -> None:
    events = _parse("OpenSSH_2k.log")
    assert len(events) == 2000
    assert all(e["event.dataset"] == "sshd" and e["log.original"] == line for line, e in events)
    acts = Counter((e.get("event.action"), e.get("event.outcome")) for _, e in events)
    failed_lines = sum("Failed " in line for line, _ in events)
    assert failed_lines == 524 == acts[("ssh_login", "failure")]
    assert acts[("ssh_login", "success")] == 1
    assert acts[("ssh_invalid_user", "failure")] == 113
    assert acts[("pam_auth_failure", "failure")] == 494
    assert acts[("ssh_reverse_mapping_failed", None)] == 85
    assert acts[("ssh_disconnect", None)] == 468
    # only "fatal: Write failed: Connection reset by peer" is left without an action
    assert acts[(None, None)] == 1
    accepted = next(e for line, e in events if "Accepted password" in line)
    assert accepted["user.name"] == "fztu"
    assert accepted["source.ip"] == "119.137.62.142"
    assert accepted["source.port"] == 49116
    assert accepted["ssh.method"] == "password"
    assert accepted["@timestamp"] == "2016-12-10T09:32:20Z"
    assert accepted["host.name"] == "LabSZ"
    assert accepted["process.pid"] == 24680
    repeated = [e for line, e in events if "message repeated" in line]
    assert len(repeated) == 2 and all(e["event.count"] == 5 for e in repeated)
    first = events[0][1]
    assert first["source.domain"] == "ns.marryaldkfaczcz.com"
    assert first["source.ip"] == "173.234.31.186"


def test_linux_syslog_sample() -> None:
    events = _parse("Linux_2k.log")
    datasets = Counter(e["event.dataset"] for _, e in events)
    assert datasets == {"syslog": 1323, "sshd": 677}
    acts = Counter((e.get("event.action"), e.get("event.outcome")) for _, e in events)
    assert acts[("pam_auth_failure", "failure")] == 490
    assert sum("authentication failure;" in line for line, _ in events) == 490
    assert acts[("session_opened", "success")] == 123
    host_rhost = events[3][1]
    assert host_rhost["source.domain"] == "220-135-151-1.hinet-ip.hinet.net"
    assert host_rhost["user.name"] == "root"
    assert host_rhost["log.syslog.appname"] == "sshd(pam_unix)"
    assert host_rhost["process.name"] == "sshd"
    assert events[0][1]["source.ip"] == "218.188.2.4"
    assert events[0][1]["@timestamp"] == "2016-06-14T15:16:01Z"


def test_apache_error_sample() -> None:
    events = _parse("Apache_2k.log")
    assert all(e["event.dataset"] == "apache.error" for _, e in events)
    levels = Counter(e["log.level"] for _, e in events)
    assert levels == {"notice": 1405, "error": 595}
    line131 = events[131][1]
    assert line131["source.ip"] == "222.166.160.184"
    assert line131["message"] == "Directory index forbidden by rule: /var/www/html/"
    assert line131["@timestamp"] == "2005-12-04T05:15:09Z"
