"""Field mapping from Sigma field names to the event contract's ECS keys, per log source.

The mapping is data (one dict per log source family) plus a small resolver, so that adding a
log source or fixing a field name is a one-line change. A :class:`FieldMapping` also knows which
``event.dataset`` values its log source applies to (so rules can be indexed by dataset and only
relevant ones run) and, for Windows, which channel and event ids the Sigma log source stands for
(``category: process_creation`` means Sysmon event 1, ``service: security`` the Security channel):
pySigma leaves these to backend pipelines, an in-memory evaluator has to add them itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sigma.pipelines.common import windows_logsource_mapping
from sigma.rule import SigmaLogSource

from lakana.monitoring.detection.parsers.windows import SYSMON_CHANNEL, channel_dataset

__all__ = [
    "AUDITD_FIELDS",
    "LINUX_PROCESS_FIELDS",
    "SYSMON_CATEGORY_IDS",
    "WEBSERVER_FIELDS",
    "WINDOWS_FIELDS",
    "WINDOWS_PROCESS_FIELDS",
    "FieldMapping",
    "UnknownFieldError",
    "UnsupportedLogsourceError",
    "mapping_for_logsource",
]

PS_CHANNELS = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")

# Windows system fields live outside EventData; every other field of a Windows rule is an
# EventData field, kept by the parser under winlog.event_data.<Name>.
WINDOWS_FIELDS: dict[str, str] = {
    "EventID": "winlog.event_id",
    "EventId": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Provider": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "Level": "log.level",
}
WINDOWS_EVENT_DATA_PREFIX = "winlog.event_data."

# Windows process creation comes from Sysmon event 1 and Security event 4688, whose EventData
# names differ (Image / NewProcessName, ParentImage / ParentProcessName, User / Subject* and
# Target*, IntegrityLevel / MandatoryLabel, ProcessId meaning the new process / its creator).
# The Windows parser writes both as the same ECS process fields; Sigma's (Sysmon) names point
# there, so one SigmaHQ process_creation rule runs on both. Names only Sysmon has (Hashes,
# OriginalFileName, ParentCommandLine on 4688...) fall back to EventData, absent on 4688.
WINDOWS_PROCESS_FIELDS: dict[str, str] = {
    "Image": "process.executable",
    "NewProcessName": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentProcessName": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "CurrentDirectory": "process.working_directory",
    "ProcessId": "process.pid",
    "NewProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "User": "process.user.name",
    "IntegrityLevel": "process.integrity_level",
}

WINDOWS_PROCESS_CREATION: dict[str, str] = {**WINDOWS_FIELDS, **WINDOWS_PROCESS_FIELDS}

# W3C / Sigma webserver names → ECS keys set by the access-log parsers.
WEBSERVER_FIELDS: dict[str, str] = {
    "cs-method": "http.request.method",
    "c-uri": "url.original",
    "cs-uri": "url.original",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "c-uri-query": "url.query",
    "c-uri-extension": "url.extension",
    "sc-status": "http.response.status_code",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs-useragent": "user_agent.original",
    "c-ip": "source.ip",
    "ClientIP": "source.ip",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "cs-host": "url.domain",
    "cs-cookie": "http.request.cookie",
    "cs-version": "http.version",
    "cs-bytes": "http.request.bytes",
    "sc-bytes": "http.response.bytes",
    "s-ip": "destination.ip",
    "dst_ip": "destination.ip",
    "cs-username": "user.name",
}

# Linux process/file/network categories (Sysmon for Linux, auditd execve) → ECS process fields.
LINUX_PROCESS_FIELDS: dict[str, str] = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "CurrentDirectory": "process.working_directory",
    "User": "user.name",
    "LogonId": "process.user.id",
    "ProcessId": "process.pid",
    "TargetFilename": "file.path",
    "DestinationHostname": "destination.domain",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "Initiated": "network.initiated",
}

# auditd record fields keep their names under auditd.data.<name> (syscall, a0..a7, exe, key...),
# as the auditd parser writes them; the record type is auditd.message_type.
AUDITD_PREFIX = "auditd.data."
AUDITD_FIELDS: dict[str, str] = {
    "type": "auditd.message_type",
    "SYSCALL": "auditd.data.syscall",
}

# Fields every log source shares (the contract's generic keys).
COMMON_FIELDS: dict[str, str] = {
    "message": "message",
    "host": "host.name",
    "hostname": "host.name",
    "src_ip": "source.ip",
    "user": "user.name",
}

# Sysmon event ids per Windows Sigma category (as in pySigma's sysmon pipeline).
SYSMON_CATEGORY_IDS: dict[str, tuple[int, ...]] = {
    "process_creation": (1,),
    "file_change": (2,),
    "network_connection": (3,),
    "sysmon_status": (4, 16),
    "process_termination": (5,),
    "driver_load": (6,),
    "image_load": (7,),
    "create_remote_thread": (8,),
    "raw_access_thread": (9,),
    "process_access": (10,),
    "file_event": (11,),
    "registry_add": (12,),
    "registry_delete": (12,),
    "registry_set": (13,),
    "registry_rename": (14,),
    "registry_event": (12, 13, 14),
    "create_stream_hash": (15,),
    "pipe_created": (17, 18),
    "wmi_event": (19, 20, 21),
    "dns_query": (22,),
    "file_delete": (23, 26),
    "clipboard_capture": (24,),
    "process_tampering": (25,),
    "file_block_executable": (27,),
    "file_block_shredding": (28,),
    "file_executable_detected": (29,),
    "sysmon_error": (255,),
}
# Categories produced by other channels (PowerShell script/module logging, classic PowerShell).
OTHER_CATEGORY_IDS: dict[str, tuple[tuple[str, int], ...]] = {
    "ps_script": tuple((c, 4104) for c in PS_CHANNELS),
    "ps_module": tuple((c, 4103) for c in PS_CHANNELS),
    "ps_classic_start": (("Windows PowerShell", 400),),
    "ps_classic_provider_start": (("Windows PowerShell", 600),),
    "ps_classic_script": (("Windows PowerShell", 800),),
}

# event.dataset values per log source. "windows.*" is a family: any dataset starting "windows.".
WEB_DATASETS = frozenset({"nginx.access", "apache.access", "iis.access"})
PROXY_DATASETS = frozenset({"proxy", "squid.access"})
SERVICE_DATASETS: dict[str, frozenset[str]] = {
    "sshd": frozenset({"sshd"}),
    "openssh": frozenset({"sshd"}),
    "auth": frozenset({"sshd", "auth", "sudo"}),
    "sudo": frozenset({"sudo", "auth"}),
    "auditd": frozenset({"auditd"}),
    "apache": frozenset({"apache.access", "apache.error"}),
    "nginx": frozenset({"nginx.access", "nginx.error"}),
}
# Linux rules without a known service look at every syslog-like dataset.
LINUX_DATASETS = frozenset({"sshd", "auth", "sudo", "syslog", "auditd", "cron", "raw", "linux.*"})


class UnknownFieldError(KeyError):
    """A Sigma field has no mapping for the rule's log source."""


class UnsupportedLogsourceError(ValueError):
    """No field mapping exists for the rule's log source."""


@dataclass(frozen=True)
class FieldMapping:
    """Resolves Sigma field names for one log source and describes where its rules apply.

    ``fields`` is checked first, then ``default_prefix`` (if set) is prepended to the Sigma
    name; otherwise an unknown field raises :class:`UnknownFieldError`. ``datasets`` lists the
    ``event.dataset`` values (or ``family.*`` prefixes) the rules apply to. ``windows_sources``,
    when not empty, is the set of (channel, event id or None) pairs the log source stands for.
    """

    name: str
    fields: Mapping[str, str]
    datasets: frozenset[str]
    default_prefix: str | None = None
    windows_sources: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)

    def resolve(self, sigma_field: str) -> str:
        """Return the event key for ``sigma_field`` or raise :class:`UnknownFieldError`."""
        key = self.fields.get(sigma_field)
        if key is not None:
            return key
        key = COMMON_FIELDS.get(sigma_field)
        if key is not None:
            return key
        if self.default_prefix is not None:
            return self.default_prefix + sigma_field
        raise UnknownFieldError(sigma_field)


def _windows_sources(logsource: SigmaLogSource) -> frozenset[tuple[str, int | None]]:
    """(channel, event id) pairs a Windows log source stands for; empty means no restriction."""
    cat, svc = logsource.category, logsource.service
    if cat in SYSMON_CATEGORY_IDS:
        pairs: set[tuple[str, int | None]] = {(SYSMON_CHANNEL, i) for i in SYSMON_CATEGORY_IDS[cat]}
        if cat == "process_creation":
            # Security 4688 is the other process-creation source (same ECS fields, see above).
            pairs.add(("Security", 4688))
        return frozenset(pairs)
    if cat in OTHER_CATEGORY_IDS:
        return frozenset(OTHER_CATEGORY_IDS[cat])
    if cat is not None:
        # ETW-only categories (file_access, file_rename...): no channel we read has them, and
        # without a source restriction the rule would run on every Windows event.
        raise UnsupportedLogsourceError(f"no Windows event source for category {cat}")
    if svc is not None:
        channels = windows_logsource_mapping.get(svc)
        if isinstance(channels, str):
            return frozenset({(channels, None)})
        if isinstance(channels, list):
            return frozenset((c, None) for c in channels)
        raise UnsupportedLogsourceError(f"no Windows channel known for service {svc}")
    return frozenset()


def mapping_for_logsource(logsource: SigmaLogSource) -> FieldMapping:
    """Pick the field mapping for a rule's log source.

    Raises :class:`UnsupportedLogsourceError` when the log source has no mapping (e.g. proxy
    logs, cloud products): such rules are reported, not silently loaded with wrong fields.
    """
    product, cat, svc = logsource.product, logsource.category, logsource.service
    if product == "windows":
        sources = _windows_sources(logsource)
        # Indexed by the datasets of the channels the log source stands for (plus "windows",
        # the dataset of events that do not say their channel); without a channel, any.
        datasets = (frozenset({"windows", *(channel_dataset(c) for c, _ in sources)})
                    if sources else frozenset({"windows.*"}))
        return FieldMapping(
            name=f"windows/{cat or svc or '*'}",
            fields=WINDOWS_PROCESS_CREATION if cat == "process_creation" else WINDOWS_FIELDS,
            datasets=datasets,
            default_prefix=WINDOWS_EVENT_DATA_PREFIX,
            windows_sources=sources,
        )
    if cat == "proxy":
        # Proxy logs share the W3C field names; no parser emits them yet (dataset "proxy").
        return FieldMapping(name="proxy", fields=WEBSERVER_FIELDS, datasets=PROXY_DATASETS)
    if cat == "webserver" or (product is None and svc in ("apache", "nginx")):
        datasets = SERVICE_DATASETS[svc] if svc in SERVICE_DATASETS else WEB_DATASETS
        return FieldMapping(name="webserver", fields=WEBSERVER_FIELDS, datasets=datasets)
    if product == "linux":
        if cat is not None:
            if cat not in ("process_creation", "file_event", "network_connection"):
                raise UnsupportedLogsourceError(f"no field mapping for logsource linux/{cat}")
            return FieldMapping(
                name=f"linux/{cat}",
                fields=LINUX_PROCESS_FIELDS,
                datasets=frozenset({f"linux.{cat}", "auditd"}),
            )
        if svc == "auditd":
            return FieldMapping(
                name="linux/auditd",
                fields=AUDITD_FIELDS,
                datasets=SERVICE_DATASETS["auditd"],
                default_prefix=AUDITD_PREFIX,
            )
        datasets = SERVICE_DATASETS.get(svc or "", LINUX_DATASETS)
        if svc is not None and svc not in SERVICE_DATASETS:
            # A service we have no parser for (vsftpd, clamav, ...): its lines arrive as syslog/raw.
            datasets = frozenset({"syslog", "raw", f"linux.{svc}"})
        return FieldMapping(
            name=f"linux/{svc or '*'}", fields=LINUX_PROCESS_FIELDS, datasets=datasets
        )
    raise UnsupportedLogsourceError(
        f"no field mapping for logsource product={product} category={cat} service={svc}"
    )
