"""Sigma correlation rules: compiling each kind, window semantics, thresholds, groups, and the
bounded in-memory correlator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from lakana.monitoring.detection.rules import BUILTIN_DIR, build_pack
from lakana.monitoring.detection.sigma import (
    CompiledCorrelation,
    InMemoryCorrelator,
    RulePack,
    Window,
    load_rules,
)

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)

BASE = """title: ssh failure
id: 11111111-1111-4111-8111-111111111111
name: ssh_fail
logsource:
    product: linux
    service: sshd
detection:
    k:
        message|startswith: 'Failed password for '
    condition: k
---
title: ssh success
id: 22222222-2222-4222-8222-222222222222
name: ssh_ok
logsource:
    product: linux
    service: sshd
detection:
    k:
        message|startswith: 'Accepted password for '
    condition: k
---
title: win failure
name: win_fail
logsource:
    product: windows
    service: security
detection:
    s:
        EventID: 4625
    condition: s
"""


def _corr(kind: str, condition: str, rules: str = "ssh_fail", extra: str = "",
          timespan: str = "5m", group: str = "source.ip") -> str:
    return f"""title: {kind} correlation
id: 33333333-3333-4333-8333-333333333333
level: high
author: Tester
tags:
    - attack.t1110
correlation:
    type: {kind}
    rules: [{rules}]
    group-by: [{group}]
    timespan: {timespan}
{condition}{extra}
"""


def _pack(tmp_path: Path, *docs: str) -> RulePack:
    (tmp_path / "base.yml").write_text(BASE)
    for i, doc in enumerate(docs):
        (tmp_path / f"corr{i}.yml").write_text(doc)
    return load_rules(tmp_path)


def _fail(ip: str = "203.0.113.9", user: str = "root") -> dict[str, Any]:
    return {"event.dataset": "sshd", "message": f"Failed password for {user} from {ip} port 22",
            "source.ip": ip, "user.name": user}


def _ok(ip: str = "203.0.113.9", user: str = "root") -> dict[str, Any]:
    return {"event.dataset": "sshd", "message": f"Accepted password for {user} from {ip}",
            "source.ip": ip, "user.name": user}


def _run(pack: RulePack, events: list[tuple[dict[str, Any], dt.datetime]]) -> list[Any]:
    correlator = InMemoryCorrelator(pack.correlations)
    found = []
    for event, when in events:
        found.extend(correlator.feed(event, pack.match(event), when))
    return found


def test_event_count_compiles_with_ecs_group_by_and_attribution(tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 3\n"))
    assert pack.unsupported == [] and len(pack.correlations) == 1
    c = pack.correlations[0]
    assert isinstance(c, CompiledCorrelation)
    assert (c.kind, c.op, c.count, c.group_by, c.timespan) == (
        "event_count", "gte", 3, ("source.ip",), dt.timedelta(minutes=5))
    # referenced by name, kept as the rule's id
    assert c.rule_refs == ("11111111-1111-4111-8111-111111111111",)
    assert c.level == "high" and c.author == "Tester" and c.attack_tags == ("attack.t1110",)
    assert c.generate is False
    base = {r.name: r for r in pack.rules}
    assert base["ssh_fail"].generates is False and base["ssh_ok"].generates is True
    # match() still returns the quiet rule: callers decide about alerts
    assert [r.name for r in pack.match(_fail())] == ["ssh_fail"]
    assert pack.correlations_for(base["ssh_fail"].id) == [c]


def test_event_count_threshold_at_the_boundary_of_the_window(tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 3\n"))
    # Three failures exactly 5 minutes apart end to end: inside the window (both ends count)
    hits = _run(pack, [(_fail(), T0), (_fail(), T0 + dt.timedelta(minutes=2)),
                       (_fail(), T0 + dt.timedelta(minutes=5))])
    assert len(hits) == 1 and hits[0].count == 3 and hits[0].group == {"source.ip": "203.0.113.9"}
    assert (hits[0].first, hits[0].last) == (T0, T0 + dt.timedelta(minutes=5))
    # One second more and the first one has left the window
    assert _run(pack, [(_fail(), T0), (_fail(), T0 + dt.timedelta(minutes=2)),
                       (_fail(), T0 + dt.timedelta(minutes=5, seconds=1))]) == []
    # Two are not three
    assert _run(pack, [(_fail(), T0), (_fail(), T0)]) == []


@pytest.mark.parametrize(("op", "count", "measures"), [
    ("gt", 2, [3]), ("lte", 1, [1]), ("lt", 2, [1]), ("eq", 2, [2]), ("neq", 1, [2])])
def test_every_operator(tmp_path: Path, op: str, count: int, measures: list[int]) -> None:
    pack = _pack(tmp_path, _corr("event_count", f"    condition:\n        {op}: {count}\n"))
    # The in-memory path reports a match and starts the window afresh
    hits = _run(pack, [(_fail(), T0 + dt.timedelta(seconds=i)) for i in range(3)])
    assert [h.count for h in hits][:1] == measures


def test_groups_are_counted_apart_and_events_without_the_field_take_no_part(
        tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 3\n"))
    events = [(_fail("198.51.100.1"), T0), (_fail("198.51.100.2"), T0),
              (_fail("198.51.100.1"), T0), (_fail("198.51.100.2"), T0)]
    no_ip = {k: v for k, v in _fail().items() if k != "source.ip"}
    events += [(no_ip, T0)] * 5
    assert _run(pack, events) == []
    hits = _run(pack, [*events, (_fail("198.51.100.2"), T0)])
    assert [h.group for h in hits] == [{"source.ip": "198.51.100.2"}]


def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    doc = _corr("value_count", "    condition:\n        gte: 3\n        field: user.name\n",
                timespan="10m")
    pack = _pack(tmp_path, doc)
    c = pack.correlations[0]
    assert (c.kind, c.field) == ("value_count", "user.name")
    # The same user over and over is not spraying
    assert _run(pack, [(_fail(user="root"), T0)] * 20) == []
    hits = _run(pack, [(_fail(user=u), T0 + dt.timedelta(minutes=i))
                       for i, u in enumerate(["root", "admin", "root", "oracle"])])
    assert len(hits) == 1 and hits[0].count == 3


def test_temporal_ordered_needs_the_order_and_temporal_does_not(tmp_path: Path) -> None:
    ordered = _pack(tmp_path, _corr("temporal_ordered", "", rules="ssh_fail, ssh_ok",
                                    timespan="10m"))
    c = ordered.correlations[0]
    # Without a condition a temporal correlation needs all its rules
    assert (c.kind, c.op, c.count) == ("temporal_ordered", "gte", 2)
    assert c.rule_refs == ("11111111-1111-4111-8111-111111111111",
                           "22222222-2222-4222-8222-222222222222")
    success_first = [(_ok(), T0), (_fail(), T0 + dt.timedelta(minutes=1))]
    assert _run(ordered, success_first) == []
    after = [(_fail(), T0), (_ok(), T0 + dt.timedelta(minutes=9))]
    assert [h.count for h in _run(ordered, after)] == [2]
    too_late = [(_fail(), T0), (_ok(), T0 + dt.timedelta(minutes=11))]
    assert _run(ordered, too_late) == []
    other_source = [(_fail("198.51.100.7"), T0), (_ok(), T0 + dt.timedelta(minutes=1))]
    assert _run(ordered, other_source) == []

    unordered_dir = tmp_path / "unordered"
    unordered_dir.mkdir()
    unordered = _pack(unordered_dir, _corr("temporal", "", rules="ssh_fail, ssh_ok",
                                           timespan="10m"))
    assert [h.count for h in _run(unordered, success_first)] == [2]


def test_window_is_the_shared_evaluator(tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 2\n"))
    window = Window(pack.correlations[0])
    assert not window.holds()
    window.push(T0, "r", "", payload=1)
    window.push(T0 + dt.timedelta(minutes=4), "r", "", payload=2)
    assert window.holds() and window.payloads() == [1, 2] and window.first == T0
    window.advance(T0 + dt.timedelta(minutes=6))
    assert not window.holds() and window.payloads() == [2]


def test_window_gives_each_hit_once_to_a_sliding_collector(tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 2\n"))
    window = Window(pack.correlations[0])
    seen: list[int] = []
    mark = 0
    for i in range(10):
        window.push(T0 + dt.timedelta(minutes=i), "r", "", payload=i)
        if window.holds():
            seen.extend(window.payloads_since(mark))
            mark = window.pushed
    # every hit collected once, in order, although the window held at 9 pushes
    assert seen == list(range(10))
    # hits that slid out before they were collected are not given back
    window.push(T0 + dt.timedelta(hours=1), "r", "", payload=99)
    assert window.payloads_since(0) == [99]


def test_unsupported_correlations_are_reported_with_the_reason(tmp_path: Path) -> None:
    docs = [
        _corr("event_count", "    condition:\n        gte: 3\n", rules="nowhere"),
        _corr("value_sum", "    condition:\n        gte: 3\n        field: bytes\n"),
        _corr("temporal", "    condition: ssh_fail and not ssh_ok\n",
              rules="ssh_fail, ssh_ok"),
        "title: chain\nname: chain\ncorrelation:\n    type: event_count\n"
        "    rules: [inner]\n    timespan: 5m\n    condition:\n        gte: 2\n---\n"
        "title: inner\nname: inner\ncorrelation:\n    type: event_count\n"
        "    rules: [ssh_fail]\n    timespan: 5m\n    condition:\n        gte: 2\n",
        _corr("event_count", "    condition:\n        gte: 3\n", group="NoSuchField"),
    ]
    pack = _pack(tmp_path, *docs)
    reasons = sorted(u.reason for u in pack.unsupported)
    assert any(r == "correlation: unknown rule nowhere" for r in reasons), reasons
    assert any("value_sum" in r for r in reasons), reasons
    assert any("extended conditions" in r for r in reasons), reasons
    assert any(r.startswith("correlation of correlation rules") for r in reasons), reasons
    assert any("unknown field mapping: NoSuchField" in r for r in reasons), reasons
    assert len(pack.unsupported) == 5
    assert [c.title for c in pack.correlations] == ["inner"]
    # The base rules all load: one bad correlation hides nothing
    assert len(pack.rules) == 3


def test_reference_to_a_rule_in_another_file_and_to_an_unloaded_rule(tmp_path: Path) -> None:
    (tmp_path / "z_broken.yml").write_text(
        "title: broken\nname: broken\nlogsource:\n    product: aws\n"
        "detection:\n    s:\n        a: b\n    condition: s\n")
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 3\n",
                                 rules="broken"))
    reasons = [u.reason for u in pack.unsupported]
    assert any(r.startswith("correlation: referenced rule broken not loaded: no field mapping")
               for r in reasons), reasons


def test_aliases_map_group_by_per_rule(tmp_path: Path) -> None:
    doc = _corr("event_count", "    condition:\n        gte: 2\n", rules="ssh_fail, win_fail",
                group="ip", extra="    aliases:\n        ip:\n            ssh_fail: source.ip\n"
                "            win_fail: IpAddress\n")
    pack = _pack(tmp_path, doc)
    assert pack.unsupported == []
    c = pack.correlations[0]
    assert c.group_by == ("ip",)
    win = {"event.dataset": "windows.security", "winlog.channel": "Security",
           "winlog.event_id": 4625, "winlog.event_data.IpAddress": "203.0.113.9"}
    hits = _run(pack, [(_fail(), T0), (win, T0)])
    assert [h.group for h in hits] == [{"ip": "203.0.113.9"}]


def test_memory_stays_bounded_with_many_groups(tmp_path: Path) -> None:
    pack = _pack(tmp_path, _corr("event_count", "    condition:\n        gte: 3\n"))
    correlator = InMemoryCorrelator(pack.correlations, max_groups=1000, max_hits=50)
    rule = [r for r in pack.rules if r.name == "ssh_fail"]
    for i in range(20_000):
        ip = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        correlator.feed(_fail(ip), rule, T0 + dt.timedelta(seconds=i))
    assert len(correlator) == 1000
    # The most recent groups are kept: a third failure there still fires
    last = "10.0.78.31"  # i = 19999
    correlator.feed(_fail(last), rule, T0 + dt.timedelta(seconds=20_000))
    assert correlator.feed(_fail(last), rule, T0 + dt.timedelta(seconds=20_001))
    # One group's window is capped too (a flood within the time span)
    window = Window(pack.correlations[0], limit=50)
    for _ in range(500):
        window.push(T0, "r")
    assert len(window.hits) == 50 and window.measure() == 50


def test_lakana_rules_include_the_correlations() -> None:
    pack = build_pack()
    assert pack.unsupported == []
    kinds = {c.title: (c.kind, c.group_by, c.field, c.op, c.count, c.timespan)
             for c in pack.correlations}
    assert kinds["SSH brute force"] == (
        "event_count", ("source.ip",), None, "gte", 10, dt.timedelta(minutes=5))
    assert kinds["SSH password spraying"] == (
        "value_count", ("source.ip",), "user.name", "gte", 5, dt.timedelta(minutes=10))
    assert kinds["Windows password spraying"][0] == "value_count"
    assert kinds["SSH login accepted after failures"][0] == "temporal_ordered"
    assert kinds["Windows logon after failures"][0] == "temporal_ordered"
    assert kinds["Windows logon brute force"][:5] == ("event_count", ("source.ip",), None,
                                                      "gte", 10)
    by_title = {c.title: c for c in pack.correlations}
    assert "attack.t1110.003" in by_title["SSH password spraying"].tags
    assert all(c.license == "AGPL-3.0-or-later" and c.author == "Lakana"
               for c in pack.correlations)
    quiet = {r.title for r in pack.rules if not r.generates}
    assert quiet == {"SSH authentication failure", "SSH login accepted",
                     "Windows logon failure", "Windows logon"}
    assert len([p for p in BUILTIN_DIR.glob("*.yml")]) == 17
