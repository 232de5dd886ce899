"""Windows events as JSON, in the shapes shippers produce, into ECS fields.

Shapes: (a) Winlogbeat/ECS ``{"winlog": {"event_id", "channel", "event_data": {...}}, ...}``;
(b) flat NXLog / OTRF Security-Datasets records ``{"EventID": 4625, "Channel": "Security",
"TargetUserName": ..., "Hostname": ...}`` where every key that is not NXLog/Logstash metadata is an
EventData field; (c) evtx_dump/Chainsaw ``{"Event": {"System": {...}, "EventData": {...}}}``.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

__all__ = ["looks_like_windows_event", "parse_windows_event"]

# Flat-record keys that describe the record (NXLog im_msvistalog, Logstash, OTRF), not EventData.
_FLAT_META = frozenset(
    {
        "EventID",
        "Channel",
        "SourceName",
        "ProviderName",
        "Hostname",
        "Computer",
        "TimeCreated",
        "EventTime",
        "EventReceivedTime",
        "@timestamp",
        "@version",
        "host",
        "port",
        "tags",
        "Message",
        "Task",
        "Keywords",
        "Level",
        "Opcode",
        "OpcodeValue",
        "Severity",
        "SeverityValue",
        "EventType",
        "Category",
        "RecordNumber",
        "ExecutionProcessID",
        "ThreadID",
        "ProviderGuid",
        "SourceModuleType",
        "SourceModuleName",
        "Version",
        "ActivityID",
        "RelatedActivityID",
        "UserID",
        "AccountName",
        "AccountType",
        "Domain",
    }
)

# event id -> (category, action, outcome); the ECS summary of the events detection cares about.
_SUMMARY: dict[int, tuple[str, str, str]] = {
    4624: ("authentication", "logged-in", "success"),
    4625: ("authentication", "logon-failed", "failure"),
    4634: ("authentication", "logged-out", "success"),
    4647: ("authentication", "logged-out", "success"),
    4648: ("authentication", "logged-in-explicit", "success"),
    4672: ("iam", "logged-in-special", "success"),
    4720: ("iam", "added-user-account", "success"),
    4722: ("iam", "enabled-user-account", "success"),
    4725: ("iam", "disabled-user-account", "success"),
    4726: ("iam", "deleted-user-account", "success"),
    4728: ("iam", "added-member-to-group", "success"),
    4732: ("iam", "added-member-to-group", "success"),
    4756: ("iam", "added-member-to-group", "success"),
    4740: ("iam", "locked-out-user-account", "success"),
    4767: ("iam", "unlocked-user-account", "success"),
    4768: ("authentication", "kerberos-authentication-ticket-requested", "success"),
    4771: ("authentication", "kerberos-preauth-failed", "failure"),
    4776: ("authentication", "credential-validated", "success"),
    1102: ("configuration", "audit-log-cleared", "success"),
    4719: ("configuration", "changed-audit-config", "success"),
}


def looks_like_windows_event(record: dict[str, Any]) -> bool:
    """True when a JSON record has the marks of a Windows event in one of the supported shapes."""
    if isinstance(record.get("winlog"), dict):
        return True
    event = record.get("Event")
    if isinstance(event, dict) and isinstance(event.get("System"), dict):
        return True
    return "EventID" in record and (
        "Channel" in record or "SourceName" in record or "ProviderName" in record
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, dict):  # evtx_dump: {"#text": 4624, "#attributes": {...}}
        return _int(value.get("#text"))
    return None


def _stamp(value: Any) -> str | None:
    """ISO 8601 UTC from the time formats shippers use; zone-less times are taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _attr(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        attrs = value.get("#attributes")
        if isinstance(attrs, dict) and name in attrs:
            return attrs[name]
        return value.get(name, value.get("@" + name))
    return None


def _event_data_list(data: Any) -> dict[str, Any]:
    """EventData as XML-to-JSON converters write it: a dict, or [{"@Name": n, "#text": v}, ...]."""
    if isinstance(data, dict):
        inner = data.get("Data")
        if isinstance(inner, list):
            out: dict[str, Any] = {}
            for i, item in enumerate(inner):
                if isinstance(item, dict):
                    name = item.get("@Name") or item.get("Name") or f"param{i + 1}"
                    out[str(name)] = item.get("#text", item.get("text"))
                else:
                    out[f"param{i + 1}"] = item
            return out
        return {k: v for k, v in data.items() if not k.startswith("#")}
    return {}


def parse_windows_event(record: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - three shapes
    """Turn one Windows event record into a flat ECS event (never raises on odd records)."""
    event: dict[str, Any] = {"event.dataset": "windows"}
    data: dict[str, Any] = {}
    winlog = record.get("winlog")
    system_event = record.get("Event")
    event_id: int | None
    if isinstance(winlog, dict):
        event_id = _int(winlog.get("event_id"))
        channel, provider = winlog.get("channel"), winlog.get("provider_name")
        computer = winlog.get("computer_name")
        host = record.get("host")
        if computer is None and isinstance(host, dict):
            computer = host.get("name")
        raw_data = winlog.get("event_data")
        data = dict(raw_data) if isinstance(raw_data, dict) else {}
        user_data = winlog.get("user_data")
        if isinstance(user_data, dict):
            data.update({k: v for k, v in user_data.items() if k not in data})
        timestamp = _stamp(record.get("@timestamp"))
        message = record.get("message")
        for key in ("record_id", "opcode", "task", "keywords"):
            if key in winlog:
                event[f"winlog.{key}"] = winlog[key]
    elif isinstance(system_event, dict) and isinstance(system_event.get("System"), dict):
        system = system_event["System"]
        event_id = _int(system.get("EventID"))
        channel, computer = system.get("Channel"), system.get("Computer")
        provider = _attr(system.get("Provider"), "Name")
        timestamp = _stamp(_attr(system.get("TimeCreated"), "SystemTime"))
        data = _event_data_list(system_event.get("EventData"))
        data.update(
            {
                k: v
                for k, v in _event_data_list(system_event.get("UserData")).items()
                if k not in data
            }
        )
        message = None
        if "EventRecordID" in system:
            event["winlog.record_id"] = system["EventRecordID"]
    else:
        event_id = _int(record.get("EventID"))
        channel = record.get("Channel")
        provider = record.get("SourceName", record.get("ProviderName"))
        computer = record.get("Hostname", record.get("Computer"))
        data = {k: v for k, v in record.items() if k not in _FLAT_META}
        # Logstash's @timestamp is the UTC time; TimeCreated/EventTime are what NXLog saw.
        timestamp = (
            _stamp(record.get("@timestamp"))
            or _stamp(record.get("TimeCreated"))
            or _stamp(record.get("EventTime"))
        )
        message = record.get("Message")
        if "RecordNumber" in record:
            event["winlog.record_id"] = record["RecordNumber"]
    if event_id is not None:
        event["winlog.event_id"] = event_id
        event["event.code"] = str(event_id)
    if isinstance(channel, str):
        event["winlog.channel"] = channel
        if channel.lower() == "security":
            # OTRF recordings spell it "security" too; normalise so rules on Channel match.
            event["winlog.channel"] = "Security"
            event["event.dataset"] = "windows.security"
        elif channel:
            event["event.dataset"] = "windows." + channel.split("/")[0].lower().replace(" ", "_")
    if isinstance(provider, str):
        event["winlog.provider_name"] = provider
    if isinstance(computer, str):
        event["winlog.computer_name"] = computer
        event["host.name"] = computer
    if timestamp:
        event["@timestamp"] = timestamp
    for name, value in data.items():
        event[f"winlog.event_data.{name}"] = value
    event["message"] = (
        message if isinstance(message, str) and message else f"Windows event {event_id}"
    )
    if event.get("winlog.channel") == "Security" and event_id in _SUMMARY:
        _summarise(event, event_id, data)
    return event


def _clean(value: Any) -> str | None:
    if isinstance(value, str) and value and value != "-":
        return value
    return None


def _summarise(event: dict[str, Any], event_id: int, data: dict[str, Any]) -> None:
    category, action, outcome = _SUMMARY[event_id]
    event["event.category"] = category
    event["event.action"] = action
    event["event.outcome"] = outcome
    target, subject = _clean(data.get("TargetUserName")), _clean(data.get("SubjectUserName"))
    if event_id in (4672, 1102):
        user, domain = subject, _clean(data.get("SubjectDomainName"))
    else:
        user, domain = (
            target or subject,
            _clean(data.get("TargetDomainName")) or _clean(data.get("SubjectDomainName")),
        )
    if event_id in (4728, 4732, 4756):
        # The member is a SID or DN; the group is TargetUserName.
        user = _clean(data.get("MemberName")) or _clean(data.get("MemberSid"))
        if target:
            event["group.name"] = target
        domain = None
    if user:
        event["user.name"] = user
    if domain:
        event["user.domain"] = domain
    ip = _clean(data.get("IpAddress"))
    if ip:
        try:
            event["source.ip"] = str(ipaddress.ip_address(ip.removeprefix("::ffff:")))
        except ValueError:
            pass
    port = _int(data.get("IpPort"))
    if port:
        event["source.port"] = port
    if _clean(data.get("WorkstationName")):
        event["source.domain"] = data["WorkstationName"]
    if event_id == 4625:
        status = _clean(data.get("SubStatus")) or _clean(data.get("Status"))
        if status:
            event["event.reason"] = status
