"""Windows field mapping on real recordings: one SigmaHQ process_creation rule runs on Sysmon 1
and Security 4688 alike, and each Sysmon category stands for the right event ids."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sigma.rule import SigmaLogSource, SigmaRule

from lakana.monitoring.detection.hunt import iter_lines
from lakana.monitoring.detection.parsers import parse_line, parse_record
from lakana.monitoring.detection.sigma import RulePack, compile_rule, load_rules
from lakana.monitoring.detection.sigma.fields import (
    SYSMON_CATEGORY_IDS,
    UnsupportedLogsourceError,
    mapping_for_logsource,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SIGMA_WINDOWS = SHARED / "sigma" / "rules" / "windows"
WIN_EVENTS = SHARED / "windows-events"
SYSMON = "Microsoft-Windows-Sysmon/Operational"

needs_data = pytest.mark.skipif(not (SIGMA_WINDOWS.is_dir() and WIN_EVENTS.is_dir()),
                                reason="shared SigmaHQ rules or Windows events absent")

# SigmaHQ rules (shared/data/sigma/rules/windows/process_creation/...)
ESENTUTL_RULE = "e7be6119-fc37-43f0-ad4f-1f3f99be2f9f"  # Copying Sensitive Files (CommandLine)
PSEXEC_SYSTEM_RULE = "7c0dcd3d-acf8-4f71-9570-f448b0034f94"  # PsExec child: User, ParentImage
CONHOST_RULE = "3037d961-21e9-4732-b27a-637bcc7bf539"  # Conhost: IntegrityLevel, Image
# The four largest recordings (70 of the 100 MB) are left out to keep the module quick.
LARGE = ("auditpol_", "cmd_dumping_ntds", "cmd_disable_eventlog", "empire_psexec_")


def _events(name: str) -> Iterator[dict[str, Any]]:
    """The recording's events as the receivers parse them (one JSON line each)."""
    for _member, _no, line, _cut in iter_lines(WIN_EVENTS / name):
        yield parse_line(line)


def _recordings() -> list[str]:
    return [p.name for p in sorted(WIN_EVENTS.glob("*.zip")) if not p.name.startswith(LARGE)]


@pytest.fixture(scope="module")
def sigmahq() -> RulePack:
    return load_rules(SIGMA_WINDOWS)


@pytest.fixture(scope="module")
def fired(sigmahq: RulePack) -> dict[str, list[dict[str, Any]]]:
    """Every SigmaHQ Windows rule's matches over every shared recording (by rule id)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name in _recordings():
        for event in _events(name):
            for rule in sigmahq.match(event):
                found[rule.id].append(event)
    return found


def _sources(events: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(e["winlog.channel"], e["winlog.event_id"]) for e in events}


def test_4688_and_sysmon_1_give_the_same_process_fields() -> None:
    # Given the same process creation as Security 4688 and Sysmon 1 (shapes of the recordings)
    security = parse_record({
        "EventID": 4688, "Channel": "security", "Hostname": "WORKSTATION6",
        "SubjectUserSid": "S-1-5-18", "SubjectUserName": "WORKSTATION6$",
        "SubjectDomainName": "THESHIRE", "SubjectLogonId": "0x3e7",
        "TargetUserName": "WORKSTATION6$", "TargetLogonId": "0x3e4",
        "NewProcessId": "0xfec", "NewProcessName": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
        "ProcessId": "0x4a0", "ParentProcessName": "C:\\Windows\\System32\\svchost.exe",
        "CommandLine": "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding",
        "MandatoryLabel": "S-1-16-16384"})
    sysmon = parse_record({
        "EventID": 1, "Channel": SYSMON, "Hostname": "WORKSTATION6", "ProcessId": "4076",
        "Image": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "ParentProcessId": "1184",
        "ParentImage": "C:\\Windows\\System32\\svchost.exe",
        "CommandLine": "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding",
        "User": "NT AUTHORITY\\NETWORK SERVICE", "IntegrityLevel": "System"})
    # Then both carry the ECS process fields Sigma's names map to, with the same values
    keys = ("process.executable", "process.name", "process.command_line",
            "process.parent.executable", "process.pid", "process.parent.pid",
            "process.user.name", "process.integrity_level", "user.name", "user.domain")
    assert {k: security.get(k) for k in keys} == {k: sysmon.get(k) for k in keys}
    assert security["process.pid"] == 0xFEC and security["process.parent.pid"] == 0x4A0
    assert security["process.user.name"] == "NT AUTHORITY\\NETWORK SERVICE"
    assert security["event.category"] == sysmon["event.category"] == "process"
    # And the original EventData stays where it was
    assert security["winlog.event_data.NewProcessName"].endswith("WmiPrvSE.exe")


def test_4688_account_target_then_creator() -> None:
    def user(**data: str) -> str | None:
        ev = parse_record({"EventID": 4688, "Channel": "Security", "NewProcessName": "a.exe",
                           **data})
        return ev.get("process.user.name")

    # A user's process started by a service (target subject set): the user
    assert user(SubjectUserSid="S-1-5-18", SubjectUserName="PC$", SubjectLogonId="0x3e7",
                TargetUserName="pedro", TargetDomainName="PC", TargetLogonId="0xe2697") \
        == "PC\\pedro"
    # No target subject (older Windows, "-"): the creator, a well-known SID by its name
    assert user(SubjectUserSid="S-1-5-18", SubjectUserName="PC$", SubjectDomainName="WG",
                TargetUserName="-", TargetLogonId="0x0") == "NT AUTHORITY\\SYSTEM"
    assert user(SubjectUserSid="S-1-5-21-1-2-3-500", SubjectUserName="wardog",
                SubjectDomainName="SHIRE", SubjectLogonId="0xc61d9", TargetUserName="-") \
        == "SHIRE\\wardog"


def test_process_creation_rule_maps_sysmon_names_to_ecs() -> None:
    rule = compile_rule(SigmaRule.from_yaml("""
title: whoami as system
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: '\\whoami.exe'
        ParentImage|endswith: '\\cmd.exe'
        User|contains: 'AUTHORI'
        IntegrityLevel: System
        Hashes|contains: 'MD5='
    condition: sel
"""))
    mapping = mapping_for_logsource(SigmaLogSource(product="windows",
                                                   category="process_creation"))
    assert mapping.resolve("Image") == "process.executable"
    assert mapping.resolve("Hashes") == "winlog.event_data.Hashes"  # Sysmon only
    assert rule.event_ids == frozenset({1, 4688})
    ev = parse_record({"EventID": 1, "Channel": SYSMON, "Image": "C:\\W\\whoami.exe",
                       "ParentImage": "C:\\W\\cmd.exe", "User": "NT AUTHORITY\\SYSTEM",
                       "IntegrityLevel": "System", "Hashes": "MD5=00"})
    assert rule.matches(ev)
    # Other Sysmon categories keep the EventData names (Image of a process access is not a
    # process creation's)
    access = mapping_for_logsource(SigmaLogSource(product="windows", category="process_access"))
    assert access.resolve("SourceImage") == "winlog.event_data.SourceImage"


def test_etw_only_categories_and_unknown_services_are_unsupported() -> None:
    # No channel we read has them: loaded without a source restriction they would run on
    # every Windows event.
    for ls in (SigmaLogSource(product="windows", category="file_access"),
               SigmaLogSource(product="windows", category="file_rename"),
               SigmaLogSource(product="windows", service="no-such-service")):
        with pytest.raises(UnsupportedLogsourceError):
            mapping_for_logsource(ls)


@needs_data
def test_sigmahq_process_creation_rules_fire_on_real_4688_and_sysmon_1(
        fired: dict[str, list[dict[str, Any]]]) -> None:
    # esentutl SAM copy (CommandLine), conhost (Image|endswith, IntegrityLevel): the
    # recordings have each process creation in the Security log and in Sysmon
    for rule_id in (ESENTUTL_RULE, CONHOST_RULE):
        assert {eid for _, eid in _sources(fired[rule_id])} == {1, 4688}, rule_id
    conhost_4688 = [e for e in fired[CONHOST_RULE] if e["winlog.event_id"] == 4688]
    assert all(e["process.executable"].lower().endswith("\\conhost.exe")
               and e["process.integrity_level"] in ("High", "System") for e in conhost_4688)
    # User (NT AUTHORITY\SYSTEM from the 4688 logon id) and ParentImage (PSEXESVC)
    psexec = fired[PSEXEC_SYSTEM_RULE]
    assert {eid for _, eid in _sources(psexec)} == {1, 4688}
    assert all(e["process.user.name"] == "NT AUTHORITY\\SYSTEM" for e in psexec)


@needs_data
def test_sysmon_categories_fire_only_on_their_event_ids(
        sigmahq: RulePack, fired: dict[str, list[dict[str, Any]]]) -> None:
    by_id = {r.id: r for r in sigmahq.rules}
    seen: dict[str, set[int]] = defaultdict(set)
    for rule_id, events in fired.items():
        _product, category, _service = by_id[rule_id].logsource
        if category in SYSMON_CATEGORY_IDS:
            for channel, eid in _sources(events):
                if channel == SYSMON:
                    seen[category].add(eid)
    for category, ids in seen.items():
        assert ids <= set(SYSMON_CATEGORY_IDS[category]), category
    # The categories the recordings exercise, each on the event id Sysmon logs it with
    expected = {"process_creation": {1}, "process_access": {10}, "image_load": {7},
                "registry_set": {13}, "file_event": {11}, "network_connection": {3},
                "pipe_created": {17, 18}}
    for category, ids in expected.items():
        assert seen[category] and seen[category] <= ids, category
    # Every Sysmon event id in the recordings belongs to a category
    known = {i for ids in SYSMON_CATEGORY_IDS.values() for i in ids}
    recorded = {eid for name in _recordings() for eid in
                (e.get("winlog.event_id") for e in _events(name)
                 if e.get("winlog.channel") == SYSMON)}
    assert recorded <= known


@needs_data
def test_channel_rules_skip_other_channels_and_event_ids(sigmahq: RulePack) -> None:
    # A Security rule is not even called on a Sysmon event, nor on a Security event whose id
    # its condition excludes
    security_rules = sigmahq.rules_for("windows.security", 4658)
    assert all(r.logsource[2] == "security" or r.logsource[1] is None
               or r.event_ids is None or 4658 in r.event_ids for r in security_rules)
    assert len(security_rules) < 20
    sysmon_rules = sigmahq.rules_for("windows.microsoft-windows-sysmon", 10)
    assert all(r.logsource[2] != "security" for r in sysmon_rules)
    # An event that does not say its channel still gets the channel's rules
    assert sigmahq.rules_for("windows", 4688)
