"""Rule packs: loading the SigmaHQ set, reporting unsupported rules, real rules on real events."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakana.monitoring.detection.sigma import RulePack, load_rules

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SIGMA_RULES = SHARED / "sigma" / "rules"
WIN_EVENTS = SHARED / "windows-events"

needs_sigma = pytest.mark.skipif(not SIGMA_RULES.is_dir(), reason="shared SigmaHQ rules absent")
needs_events = pytest.mark.skipif(not WIN_EVENTS.is_dir(), reason="shared Windows events absent")

# "Copying Sensitive Files with Credential Data"
ESENTUTL_RULE = "e7be6119-fc37-43f0-ad4f-1f3f99be2f9f"
AUDITPOL_RULE = "0a13e132-651d-11eb-ae93-0242ac130002"  # Audit Policy Tampering Via Auditpol


def _parse(record: dict[str, Any]) -> dict[str, Any]:
    """The Windows parser when present, else a tiny adapter to the contract's shape."""
    try:
        from lakana.monitoring.detection.parsers.windows import parse_windows_event
    except ImportError:  # pragma: no cover - parser module written in parallel
        ev: dict[str, Any] = {"event.dataset": "windows", "winlog.event_id": record["EventID"]}
        ev["winlog.channel"] = record.get("Channel")
        for k, v in record.items():
            ev[f"winlog.event_data.{k}"] = v
        return ev
    return parse_windows_event(record)


def _events(name: str) -> Iterator[dict[str, Any]]:
    with zipfile.ZipFile(WIN_EVENTS / name) as zf:
        for member in zf.namelist():
            with zf.open(member) as fh:
                for line in fh:
                    if line.strip():
                        yield _parse(json.loads(line))


@pytest.fixture(scope="module")
def sigmahq() -> RulePack:
    return load_rules(SIGMA_RULES)


@needs_sigma
def test_whole_sigmahq_set_loads(sigmahq: RulePack) -> None:
    files = sum(1 for p in SIGMA_RULES.rglob("*") if p.suffix in (".yml", ".yaml"))
    summary = sigmahq.summary()
    # 2,662 files: all 2,662 load with the current mappings (proxy rules go to dataset "proxy").
    assert summary["loaded"] + summary["unsupported"] >= files
    assert summary["loaded"] >= 0.98 * files, summary
    for u in sigmahq.unsupported:
        assert u.reason and u.path
    # The pack's licence file (LICENSE.DRL-1.1) is carried into each rule's attribution.
    assert all(r.license == "DRL-1.1" for r in sigmahq.rules)
    assert all(r.title and r.id for r in sigmahq.rules)


def test_unsupported_rules_carry_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("title: [unclosed\n")
    (tmp_path / "corr.yml").write_text(
        """title: base
name: failed_logon
logsource:
    product: linux
    service: sshd
detection:
    k:
        - 'Failed password'
    condition: k
---
title: brute force
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - source.ip
    timespan: 5m
    condition:
        gte: 10
"""
    )
    (tmp_path / "aws.yml").write_text(
        "title: a\nlogsource:\n    product: aws\n"
        "detection:\n    s:\n        a: b\n    condition: s\n"
    )
    (tmp_path / "expand.yml").write_text(
        "title: e\nlogsource:\n    product: windows\ndetection:\n"
        "    s:\n        User|expand: '%admins%'\n    condition: s\n"
    )
    pack = load_rules([tmp_path, tmp_path / "missing"])
    reasons = {Path(u.path).name: u.reason for u in pack.unsupported}
    assert reasons["bad.yml"].startswith("YAML error") and "bad.yml" in reasons["bad.yml"]
    assert "corr.yml" not in reasons  # correlation rules load (tests in test_sigma_correlation)
    assert "no field mapping" in reasons["aws.yml"]
    assert "placeholder" in reasons["expand.yml"]
    assert reasons["missing"] == "no such file or directory"
    assert [r.title for r in pack.rules] == ["base"]
    assert [c.title for c in pack.correlations] == ["brute force"]
    # generate is false by default: the base rule only feeds the correlation
    assert pack.rules[0].generates is False
    assert pack.summary()["correlations"] == 1


def test_dataset_index_runs_only_relevant_rules(tmp_path: Path) -> None:
    (tmp_path / "ssh.yml").write_text(
        "title: ssh\nlogsource:\n    product: linux\n    service: sshd\n"
        "detection:\n    k:\n        - 'Failed password'\n    condition: k\n"
    )
    (tmp_path / "web.yml").write_text(
        "title: web\nlogsource:\n    category: webserver\n"
        "detection:\n    k:\n        - 'Failed password'\n    condition: k\n"
    )
    pack = load_rules(tmp_path)
    ev = {"message": "Failed password for root", "event.dataset": "sshd"}
    assert [r.title for r in pack.match(ev)] == ["ssh"]
    assert [r.title for r in pack.match({**ev, "event.dataset": "nginx.access"})] == ["web"]
    assert pack.match({**ev, "event.dataset": "windows.security"}) == []


@needs_sigma
@needs_events
def test_real_rule_fires_on_real_esentutl_sam_copy(sigmahq: RulePack) -> None:
    fired: list[dict[str, Any]] = []
    for ev in _events("cmd_sam_copy_esentutl.zip"):
        if any(r.id == ESENTUTL_RULE for r in sigmahq.match(ev)):
            fired.append(ev)
    assert fired, "esentutl SAM copy rule did not fire"
    for ev in fired:
        # Sysmon 1 or Security 4688: both are process creation
        assert ev["winlog.event_id"] in (1, 4688)
        assert "esentutl" in ev["winlog.event_data.CommandLine"].lower()
    rule = next(r for r in sigmahq.rules if r.id == ESENTUTL_RULE)
    assert rule.level == "high" and "attack.t1003.002" in rule.tags
    assert rule.author is not None and "Kheirkhabarov" in rule.author


@needs_sigma
@needs_events
def test_real_rule_fires_on_auditpol_and_not_on_unrelated_recordings(sigmahq: RulePack) -> None:
    hits = [
        ev
        for ev in _events("auditpol_system_user_auditpolicy_modification.zip")
        if any(r.id == AUDITPOL_RULE for r in sigmahq.match(ev))
    ]
    assert hits
    assert all("auditpol" in ev["winlog.event_data.CommandLine"].lower() for ev in hits)
    for other in ("cmd_sam_copy_esentutl.zip", "cmd_netsh_fw_mod_open_ports.zip"):
        for ev in _events(other):
            ids = {r.id for r in sigmahq.match(ev)}
            assert AUDITPOL_RULE not in ids
            if other != "cmd_sam_copy_esentutl.zip":
                assert ESENTUTL_RULE not in ids


@needs_sigma
def test_sigmahq_sshd_keyword_rule_on_sshd_lines(sigmahq: RulePack) -> None:
    line = "Dec 10 11:03:53 LabSZ sshd[25457]: error: Corrupted MAC on input. [preauth]"
    ev = {"message": line, "log.original": line, "event.dataset": "sshd"}
    assert "Suspicious OpenSSH Daemon Error" in {r.title for r in sigmahq.match(ev)}
    benign = "Dec 10 11:03:53 LabSZ sshd[25457]: Accepted password for bob from 10.0.0.1 port 22"
    assert sigmahq.match({**ev, "message": benign, "log.original": benign}) == []
