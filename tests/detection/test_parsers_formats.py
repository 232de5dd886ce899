"""Syslog envelopes, access/error logs, auditd, and the dispatcher's bad-input guarantees."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lakana.monitoring.detection.parsers import MAX_LINE, parse_line
from lakana.monitoring.detection.parsers.syslog import infer_year


def test_rfc5424_with_structured_data() -> None:
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Appli\\"cation"][x@1 a="b"] '
        "\ufeffAn application event"
    )
    e = parse_line(line)
    assert e["log.syslog.facility.code"] == 20 and e["log.syslog.severity.code"] == 5
    assert (
        e["@timestamp"] == "2003-10-11T22:14:15.003000Z"
        and e["host.name"] == "mymachine.example.com"
    )
    assert e["log.syslog.appname"] == "evntslog" and "process.pid" not in e
    assert e["log.syslog.msgid"] == "ID47" and e["message"] == "An application event"
    assert e["log.syslog.structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'Appli"cation'},
        "x@1": {"a": "b"},
    }


def test_rfc5424_sshd_is_parsed_as_sshd() -> None:
    e = parse_line(
        "<38>1 2024-05-01T10:00:00+02:00 web1 sshd 812 - - "
        "Failed password for root from 1.2.3.4 port 22 ssh2"
    )
    assert (e["event.dataset"], e["event.outcome"], e["user.name"]) == ("sshd", "failure", "root")
    assert e["@timestamp"] == "2024-05-01T08:00:00Z" and e["process.pid"] == 812


def test_rfc5424_from_rsyslog_stock_template_is_parsed_as_sshd() -> None:
    # rsyslog's RSYSLOG_SyslogProtocol23Format leaves two spaces before the message.
    e = parse_line(
        "<38>1 2026-11-23T04:00:01+00:00 web1 sshd 41 - -  "
        "Failed password for invalid user admin from 10.9.8.7 port 4022 ssh2"
    )
    assert (e["event.dataset"], e["source.ip"], e["user.name"]) == ("sshd", "10.9.8.7", "admin")
    assert e["log.original"].endswith("ssh2") and "  Failed" in e["log.original"]


def test_rfc3164_with_pri_and_year_rule() -> None:
    e = parse_line(
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        received=datetime(2024, 10, 12, tzinfo=UTC),
    )
    assert e["@timestamp"] == "2024-10-11T22:14:15Z" and e["log.syslog.facility.code"] == 4
    assert e["log.syslog.appname"] == "su" and e["message"].startswith("'su root'")
    # a December line read in early January belongs to the previous year
    assert infer_year(12, 31, "23:59:59", datetime(2025, 1, 1, 0, 5, tzinfo=UTC)).year == 2024
    assert infer_year(2, 29, "00:00:00", datetime(2025, 3, 1, tzinfo=UTC)).year == 2024


def test_sshd_accepted_publickey_and_closed() -> None:
    e = parse_line(
        "Mar  1 10:00:00 h sshd[5]: Accepted publickey for deploy from 2001:db8::1 port 5000 ssh2: "
        "ED25519 SHA256:abc"
    )
    assert (e["event.action"], e["event.outcome"], e["ssh.method"]) == (
        "ssh_login",
        "success",
        "publickey",
    )
    assert e["source.ip"] == "2001:db8::1"
    c = parse_line(
        "Mar  1 10:00:00 h sshd[5]: "
        "Connection closed by authenticating user root 5.6.7.8 port 4 [preauth]"
    )
    assert (c["event.action"], c["user.name"], c["source.ip"]) == (
        "ssh_connection_closed",
        "root",
        "5.6.7.8",
    )
    m = parse_line(
        "Mar  1 10:00:00 h sshd[5]: error: maximum authentication attempts exceeded "
        "for invalid user "
        "admin from 5.6.7.8 port 4 ssh2 [preauth]"
    )
    assert (m["event.action"], m["event.outcome"], m["user.name"]) == (
        "ssh_max_auth_attempts",
        "failure",
        "admin",
    )


def test_access_logs() -> None:
    line = (
        '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
    )
    e = parse_line(line, hint="nginx")
    assert e["event.dataset"] == "nginx.access" and e["user.name"] == "frank"
    assert e["@timestamp"] == "2000-10-10T20:55:36Z" and e["http.request.method"] == "GET"
    assert e["url.original"] == "/apache_pb.gif" and e["http.version"] == "1.0"
    assert e["http.response.status_code"] == 200 and e["http.response.body.bytes"] == 2326
    assert e["http.request.referrer"] == "http://www.example.com/start.html"
    assert e["user_agent.original"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    common = parse_line('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01" 400 - ')
    assert common["event.dataset"] == "apache.access" and "user.name" not in common
    assert common["http.response.status_code"] == 400 and "url.original" not in common


def test_apache_24_error() -> None:
    e = parse_line(
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] "
        "[client 72.15.99.187:5000] AH00124: Request exceeded the limit"
    )
    assert (e["log.level"], e["source.ip"], e["source.port"]) == ("error", "72.15.99.187", 5000)
    assert e["process.pid"] == 35708 and e["message"].startswith("AH00124")


def test_auditd() -> None:
    e = parse_line(
        "type=USER_LOGIN msg=audit(1364481363.243:24287): pid=1 uid=0 auid=4294967295 ses=42 "
        'msg=\'op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=1.2.3.4 terminal=ssh '
        "res=failed'"
    )
    assert e["event.dataset"] == "auditd" and e["event.outcome"] == "failure"
    assert (e["user.name"], e["source.ip"], e["process.executable"]) == (
        "root",
        "1.2.3.4",
        "/usr/sbin/sshd",
    )
    assert e["@timestamp"] == "2013-03-28T14:36:03.243000Z" and e["auditd.data.terminal"] == "ssh"
    ex = parse_line('type=EXECVE msg=audit(1.5:9): argc=3 a0="ls" a1=2D6C61 a2="/tmp"')
    assert ex["process.args"] == ["ls", "-la", "/tmp"]
    cmd = parse_line(
        'type=USER_CMD msg=audit(1.5:9): pid=1 uid=1000 msg=\'cwd="/" cmd=6C73202F726F6F74 '
        'exe="/usr/bin/sudo" res=success\''
    )
    assert cmd["process.command_line"] == "ls /root" and cmd["event.outcome"] == "success"


def test_garbage_huge_and_invalid_utf8() -> None:
    raw = parse_line(b"\xff\xfe garbage \x00 line\n")
    assert raw["event.dataset"] == "raw" and "\ufffd" in raw["message"]
    big = parse_line("x" * (MAX_LINE * 3))
    assert big["event.truncated"] is True and len(big["log.original"]) == MAX_LINE
    huge_syslog = parse_line("<13>Jan  1 00:00:00 h app: " + "y" * 10_000_000)
    assert huge_syslog["event.truncated"] is True and huge_syslog["event.dataset"] == "syslog"
    for junk in (
        "",
        "<999>1 - - - - - -",
        "<1>1 x y z",
        "{",
        "[",
        '{"a": [1]}',
        "type=X msg=audit(9" * 3,
    ):
        e = parse_line(junk)
        assert "message" in e and "log.original" in e


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.builds(
            lambda a, b: a + b,
            st.sampled_from(
                [
                    "<13>",
                    "<13>1 ",
                    "Jan  1 00:00:00 h sshd[1]: ",
                    "type=USER_LOGIN msg=audit(1.2:3): ",
                    "{",
                    "[",
                    '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "',
                ]
            ),
            st.text(),
        ),
    )
)
def test_parse_line_never_raises(line: str | bytes) -> None:
    e = parse_line(line)
    assert isinstance(e["message"], str) and isinstance(e["log.original"], str)
    assert "event.parse_error" not in e
