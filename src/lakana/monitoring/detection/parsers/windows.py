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

__all__ = ["SYSMON_CHANNEL", "channel_dataset", "looks_like_windows_event", "parse_windows_event"]

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

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


def channel_dataset(channel: str) -> str:
    """The ``event.dataset`` of events from a Windows channel: ``windows.`` and the channel's
    provider part, lower-cased (``Security`` → ``windows.security``,
    ``Microsoft-Windows-Sysmon/Operational`` → ``windows.microsoft-windows-sysmon``).

    Rule packs index Windows rules by it, so that a rule for one channel is not even called
    on the events of another.
    """
    return "windows." + channel.split("/")[0].lower().replace(" ", "_")


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
        if channel:
            event["event.dataset"] = channel_dataset(channel)
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
    elif (event_id == 4688 and event.get("winlog.channel") == "Security") or (
            event_id == 1 and event.get("winlog.channel") == SYSMON_CHANNEL):
        _process_creation(event, event_id, data)
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


# Accounts Windows names by well-known SID; Sysmon writes these names where Security 4688 has the
# machine account (``HOST$``) as the creator.
_WELL_KNOWN_SIDS = {
    "S-1-5-18": "NT AUTHORITY\\SYSTEM",
    "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
    "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
}
# The logon sessions of the service accounts, the same on every Windows machine.
_WELL_KNOWN_LOGONS = {
    "0x3e7": "NT AUTHORITY\\SYSTEM",
    "0x3e4": "NT AUTHORITY\\NETWORK SERVICE",
    "0x3e5": "NT AUTHORITY\\LOCAL SERVICE",
}
# Mandatory label SIDs (4688 ``MandatoryLabel``) → the integrity level names Sysmon writes.
_INTEGRITY_LEVELS = {
    "S-1-16-0": "Untrusted",
    "S-1-16-4096": "Low",
    "S-1-16-8192": "Medium",
    "S-1-16-8448": "Medium",
    "S-1-16-12288": "High",
    "S-1-16-16384": "System",
    "S-1-16-20480": "Protected",
}


def _pid(value: Any) -> int | None:
    """A process id as Sysmon (decimal) or the Security log (``0x1f4``) writes it."""
    if isinstance(value, str) and value.lower().startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            return None
    return _int(value)


def _account(data: dict[str, Any]) -> str | None:
    """The account a 4688 process runs as, written as Sysmon writes ``User`` (DOMAIN\\name).

    The target subject (Windows 10+) names the new process's account when it differs from the
    creator's; a service account shows by its well-known logon id (the name is then the
    machine account's); otherwise the creator subject is it.
    """
    target, subject = _clean(data.get("TargetUserName")), _clean(data.get("SubjectUserName"))
    known = _WELL_KNOWN_LOGONS.get(str(data.get("TargetLogonId", "")).lower())
    if known:
        return known
    if target and target != subject:
        domain = _clean(data.get("TargetDomainName"))
        return f"{domain}\\{target}" if domain else target
    known = (_WELL_KNOWN_LOGONS.get(str(data.get("SubjectLogonId", "")).lower())
             or _WELL_KNOWN_SIDS.get(str(data.get("SubjectUserSid", ""))))
    if known:
        return known
    if subject:
        domain = _clean(data.get("SubjectDomainName"))
        return f"{domain}\\{subject}" if domain else subject
    return None


def _process_creation(event: dict[str, Any], event_id: int, data: dict[str, Any]) -> None:
    """ECS process fields of a process creation, the same from Sysmon 1 and Security 4688.

    Sigma's process_creation rules use Sysmon's names (Image, ParentImage, User...); the field
    mapping points them at these keys so that one rule runs on both sources.
    """
    event["event.category"] = "process"
    event["event.action"] = "process-created"
    event["event.outcome"] = "success"
    if event_id == 1:
        image, parent = data.get("Image"), _clean(data.get("ParentImage"))
        pid, ppid = _pid(data.get("ProcessId")), _pid(data.get("ParentProcessId"))
        user = _clean(data.get("User"))
        integrity = _clean(data.get("IntegrityLevel"))
        parent_command = _clean(data.get("ParentCommandLine"))
        directory = _clean(data.get("CurrentDirectory"))
    else:
        image, parent = data.get("NewProcessName"), _clean(data.get("ParentProcessName"))
        # In 4688, ProcessId is the creator's id and NewProcessId the new process's.
        pid, ppid = _pid(data.get("NewProcessId")), _pid(data.get("ProcessId"))
        user = _account(data)
        label = _clean(data.get("MandatoryLabel"))
        integrity = _INTEGRITY_LEVELS.get(label, label) if label else None
        parent_command = directory = None
    if isinstance(image, str) and image:
        event["process.executable"] = image
        event["process.name"] = image.replace("/", "\\").rsplit("\\", 1)[-1]
    command = data.get("CommandLine")
    if isinstance(command, str):
        event["process.command_line"] = command
    if parent:
        event["process.parent.executable"] = parent
        event["process.parent.name"] = parent.replace("/", "\\").rsplit("\\", 1)[-1]
    if parent_command:
        event["process.parent.command_line"] = parent_command
    if directory:
        event["process.working_directory"] = directory
    if pid is not None:
        event["process.pid"] = pid
    if ppid is not None:
        event["process.parent.pid"] = ppid
    if integrity:
        event["process.integrity_level"] = integrity
    if user:
        event["process.user.name"] = user
        domain, _, name = user.rpartition("\\")
        event["user.name"] = name
        if domain:
            event["user.domain"] = domain
