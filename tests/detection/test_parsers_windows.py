"""Windows events: the OTRF recordings, and crafted records in the Winlogbeat and flat shapes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lakana.monitoring.detection.parsers import parse_line, parse_record, parse_windows_event

ZIPS = Path("/work/shared/data/windows-events")


@pytest.mark.skipif(not ZIPS.is_dir(), reason="shared Windows samples absent")
@pytest.mark.parametrize(
    "name",
    [
        "cmd_sam_copy_esentutl",
        "empire_shell_net_localgroup_administrators",
        "psh_cmstp_execution_bypassuac",
    ],
)
def test_otrf_records_all_parse(name: str) -> None:
    with zipfile.ZipFile(ZIPS / f"{name}.zip") as zf:
        member = next(n for n in zf.namelist() if n.endswith(".json") and "__MACOSX" not in n)
        lines = zf.read(member).splitlines()
    assert lines
    for raw in lines:
        event = parse_line(raw)
        assert isinstance(event["winlog.event_id"], int), raw[:200]
        assert event["event.code"] == str(event["winlog.event_id"])
        assert event["event.dataset"].startswith("windows")
        assert "winlog.channel" in event and "message" in event
        if event["winlog.event_id"] == 4624 and event["winlog.channel"] == "Security":
            assert event["event.outcome"] == "success"
            assert "winlog.event_data.LogonType" in event


def _flat(eid: int, **data: Any) -> dict[str, Any]:
    return {
        "EventID": eid,
        "Channel": "Security",
        "SourceName": "Microsoft-Windows-Security-Auditing",
        "Hostname": "WS1",
        "TimeCreated": "2024-03-01 10:00:00.000",
        **data,
    }


def _beat(eid: int, **data: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2024-03-01T10:00:00.000Z",
        "message": "m",
        "winlog": {
            "event_id": str(eid),
            "channel": "Security",
            "computer_name": "WS1",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "event_data": data,
        },
    }


@pytest.mark.parametrize("shape", [_flat, _beat])
def test_crafted_security_events(shape: Any) -> None:
    logon = parse_windows_event(
        shape(4624, TargetUserName="alice", IpAddress="10.0.0.5", LogonType="3")
    )
    assert logon["winlog.event_id"] == 4624 and logon["event.code"] == "4624"
    assert logon["event.category"] == "authentication" and logon["event.outcome"] == "success"
    assert logon["user.name"] == "alice" and logon["source.ip"] == "10.0.0.5"
    assert logon["winlog.event_data.LogonType"] == "3"
    assert logon["winlog.computer_name"] == "WS1" and logon["@timestamp"] == "2024-03-01T10:00:00Z"
    assert logon["winlog.provider_name"] == "Microsoft-Windows-Security-Auditing"
    failed = parse_windows_event(
        shape(4625, TargetUserName="bob", IpAddress="-", SubStatus="0xc000006a")
    )
    assert failed["event.outcome"] == "failure" and failed["user.name"] == "bob"
    assert "source.ip" not in failed and failed["event.reason"] == "0xc000006a"
    created = parse_windows_event(shape(4720, TargetUserName="eve", SubjectUserName="admin"))
    assert created["event.action"] == "added-user-account" and created["user.name"] == "eve"
    cleared = parse_windows_event(shape(1102, SubjectUserName="admin"))
    assert cleared["event.action"] == "audit-log-cleared" and cleared["user.name"] == "admin"
    group = parse_windows_event(
        shape(4732, TargetUserName="Administrators", MemberSid="S-1-5-21-1")
    )
    assert group["group.name"] == "Administrators" and group["user.name"] == "S-1-5-21-1"


def test_evtx_dump_shape_and_line() -> None:
    rec = {
        "Event": {
            "System": {
                "EventID": 4740,
                "Channel": "Security",
                "Computer": "DC1",
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "TimeCreated": {"#attributes": {"SystemTime": "2024-03-01T10:00:00.5Z"}},
            },
            "EventData": {"TargetUserName": "carol"},
        }
    }
    event = parse_line(json.dumps(rec))
    assert event["event.action"] == "locked-out-user-account" and event["user.name"] == "carol"
    assert event["winlog.provider_name"] == "Microsoft-Windows-Security-Auditing"


def test_odd_records_do_not_raise() -> None:
    recs: list[dict[str, Any]] = [
        {"EventID": "x", "Channel": 5},
        {"winlog": {"event_data": [1, 2]}},
        {"Event": {"System": {}}},
    ]
    for rec in recs:
        event = parse_record(rec)
        assert "message" in event and "log.original" in event
