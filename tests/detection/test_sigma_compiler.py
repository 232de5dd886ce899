"""Sigma compiler: every modifier and condition form, positive and negative, on hand-made events."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sigma.rule import SigmaRule

from lakana.monitoring.detection.sigma import (
    CompiledRule,
    FieldMapping,
    UnsupportedRuleError,
    compile_rule,
)

# Identity mapping: Sigma field names are the event keys, rules apply to every dataset.
IDENTITY = FieldMapping(name="test", fields={}, datasets=frozenset({"*"}), default_prefix="")


def make(detection: str, logsource: str = "product: test", **meta: str) -> CompiledRule:
    """Compile a rule from the YAML text of its detection section."""
    head = "\n".join(f"{k}: {v}" for k, v in meta.items())
    body = "\n".join("    " + line for line in detection.strip("\n").splitlines())
    text = f"title: t\n{head}\nlogsource:\n    {logsource}\ndetection:\n{body}\n"
    return compile_rule(SigmaRule.from_yaml(text), IDENTITY)


def hit(rule: CompiledRule, **fields: Any) -> bool:
    return rule.matches(fields)


def test_plain_equality_is_case_insensitive() -> None:
    r = make("sel:\n    Image: 'C:\\Windows\\cmd.exe'\ncondition: sel")
    assert hit(r, Image="c:\\windows\\CMD.EXE")
    assert not hit(r, Image="c:\\windows\\cmd.exe2")
    assert not hit(r, Other="c:\\windows\\cmd.exe")  # missing field never matches a value


def test_contains_startswith_endswith() -> None:
    c = make("sel:\n    F|contains: 'mimi'\ncondition: sel")
    assert hit(c, F="xxMIMIkatz") and not hit(c, F="mim")
    s = make("sel:\n    F|startswith: 'ab'\ncondition: sel")
    assert hit(s, F="ABc") and not hit(s, F="cab")
    e = make("sel:\n    F|endswith: '.exe'\ncondition: sel")
    assert hit(e, F="a.EXE") and not hit(e, F="a.exe.txt")


def test_wildcards_and_escapes() -> None:
    r = make("sel:\n    F: 'a*b?d'\ncondition: sel")
    assert hit(r, F="aXXXbcd") and hit(r, F="abcd")
    assert not hit(r, F="abd") and not hit(r, F="aXbcdz")
    lit = make("sel:\n    F: 'a\\*b'\ncondition: sel")  # escaped star is a literal star
    assert hit(lit, F="A*B") and not hit(lit, F="axb")
    anything = make("sel:\n    F: '*'\ncondition: sel")
    assert hit(anything, F="x") and not hit(anything, G="x")


def test_list_is_or_and_all_is_and() -> None:
    any_ = make("sel:\n    F|contains:\n        - 'aa'\n        - 'bb'\ncondition: sel")
    assert hit(any_, F="xbbx") and not hit(any_, F="ab")
    all_ = make("sel:\n    F|contains|all:\n        - 'aa'\n        - 'bb'\ncondition: sel")
    assert hit(all_, F="aa bb") and not hit(all_, F="aa only")


def test_null_matches_missing_or_empty() -> None:
    r = make("sel:\n    F: null\ncondition: sel")
    assert hit(r) and hit(r, F="") and hit(r, F=None)
    assert not hit(r, F="x")
    empty = make("sel:\n    F: ''\ncondition: sel")
    assert hit(empty, F="") and not hit(empty) and not hit(empty, F="x")


def test_numbers_compare_numerically() -> None:
    r = make("sel:\n    EventID: 4625\ncondition: sel")
    assert hit(r, EventID=4625) and hit(r, EventID="4625") and hit(r, EventID=4625.0)
    assert not hit(r, EventID=4624) and not hit(r, EventID="x4625")
    lst = make("sel:\n    EventID:\n        - 4624\n        - 4625\ncondition: sel")
    assert hit(lst, EventID=4624) and not hit(lst, EventID=1)


@pytest.mark.parametrize(
    ("mod", "yes", "no"),
    [("gt", 6, 5), ("gte", 5, 4), ("lt", 4, 5), ("lte", 5, 6)],
)
def test_compare_modifiers(mod: str, yes: int, no: int) -> None:
    r = make(f"sel:\n    N|{mod}: 5\ncondition: sel")
    assert hit(r, N=yes) and hit(r, N=str(yes))
    assert not hit(r, N=no) and not hit(r, N="abc") and not hit(r)


def test_neq_negates_the_item() -> None:
    # pySigma's |neq turns the item into NOT(field == value): other values and absence match.
    r = make("sel:\n    N|neq: 5\ncondition: sel")
    assert hit(r, N=4) and hit(r, N="abc") and hit(r)
    assert not hit(r, N=5) and not hit(r, N="5")


def test_regex_case_sensitive_unless_i() -> None:
    r = make("sel:\n    F|re: 'ab[0-9]+c'\ncondition: sel")
    assert hit(r, F="xxab12cxx") and not hit(r, F="AB12C")
    ri = make("sel:\n    F|re|i: '^ab[0-9]+c$'\ncondition: sel")
    assert hit(ri, F="AB12C") and not hit(ri, F="xAB12C")
    rs = make("sel:\n    F|re|s: 'a.b'\ncondition: sel")
    assert hit(rs, F="a\nb")
    rm = make("sel:\n    F|re|m: '^b$'\ncondition: sel")
    assert hit(rm, F="a\nb\nc") and not make("sel:\n    F|re: '^b$'\ncondition: sel").matches(
        {"F": "a\nb\nc"}
    )


def test_cidr() -> None:
    r = make("sel:\n    ip|cidr:\n        - '10.0.0.0/8'\n        - 'fd00::/8'\ncondition: sel")
    assert hit(r, ip="10.1.2.3") and hit(r, ip="fd00::1")
    assert not hit(r, ip="192.168.1.1") and not hit(r, ip="not-an-ip") and not hit(r)


def test_base64_and_base64offset() -> None:
    b = make("sel:\n    F|base64: 'secret'\ncondition: sel")
    assert hit(b, F=base64.b64encode(b"secret").decode())
    assert not hit(b, F="secret")
    off = make("sel:\n    F|base64offset|contains: 'http://'\ncondition: sel")
    for prefix in (b"", b"a", b"ab"):
        enc = base64.b64encode(prefix + b"http://evil").decode()
        assert hit(off, F="xx " + enc), prefix
    assert not hit(off, F=base64.b64encode(b"ftp://evil").decode())


def test_wide_base64offset_powershell_encoded() -> None:
    r = make("sel:\n    F|wide|base64offset|contains: 'IEX'\ncondition: sel")
    enc = base64.b64encode("$a; IEX (New-Object)".encode("utf-16-le")).decode()
    assert hit(r, F=f"powershell -enc {enc}")
    assert not hit(r, F=base64.b64encode("Get-Item".encode("utf-16-le")).decode())


def test_windash() -> None:
    r = make("sel:\n    CommandLine|windash|contains: ' -enc '\ncondition: sel")
    assert hit(r, CommandLine="powershell -enc AAA")
    assert hit(r, CommandLine="powershell /enc AAA")
    assert hit(r, CommandLine="powershell \u2013enc AAA")  # en dash
    assert not hit(r, CommandLine="powershell enc AAA")


def test_windash_with_all_keeps_expansions_or_linked() -> None:
    r = make(
        "sel:\n    C|windash|contains|all:\n        - ' -a '\n        - ' -b '\ncondition: sel"
    )
    assert hit(r, C="x /a  /b y") and hit(r, C="x -a  -b y")
    assert not hit(r, C="x -a y")


def test_cased() -> None:
    r = make("sel:\n    F|cased: 'AbC'\ncondition: sel")
    assert hit(r, F="AbC") and not hit(r, F="abc")
    rc = make("sel:\n    F|contains|cased: 'Bc'\ncondition: sel")
    assert hit(rc, F="aBcd") and not hit(rc, F="abcd")


def test_exists() -> None:
    yes = make("sel:\n    F|exists: true\ncondition: sel")
    no = make("sel:\n    F|exists: false\ncondition: sel")
    assert hit(yes, F="") and not hit(yes)
    assert hit(no) and not hit(no, F="x")


def test_fieldref() -> None:
    r = make("sel:\n    A|fieldref: B\ncondition: sel")
    assert hit(r, A="X", B="x") and not hit(r, A="x", B="y") and not hit(r, A="x")


def test_event_list_values_match_any_element() -> None:
    r = make("sel:\n    tags: 'b'\ncondition: sel")
    assert hit(r, tags=["a", "B"]) and not hit(r, tags=["a"])


def test_boolean_conditions() -> None:
    det = """
a:
    F: 'x'
b:
    G: 'y'
c:
    H: 'z'
condition: (a or b) and not c
"""
    r = make(det)
    assert hit(r, F="x") and hit(r, G="y")
    assert not hit(r, F="x", H="z") and not hit(r)


def test_detection_map_is_and_and_list_of_maps_is_or() -> None:
    and_ = make("sel:\n    F: 'x'\n    G: 'y'\ncondition: sel")
    assert hit(and_, F="x", G="y") and not hit(and_, F="x")
    or_ = make("sel:\n    - F: 'x'\n    - G: 'y'\ncondition: sel")
    assert hit(or_, G="y") and not hit(or_, H="x")


def test_selectors() -> None:
    det = """
selection_a:
    F: 'x'
selection_b:
    G: 'y'
filter:
    H: 'z'
condition: {cond}
"""
    one = make(det.format(cond="1 of selection_* and not filter"))
    assert hit(one, G="y") and not hit(one, G="y", H="z") and not hit(one)
    all_sel = make(det.format(cond="all of selection_*"))
    assert hit(all_sel, F="x", G="y") and not hit(all_sel, F="x")
    all_them = make(det.format(cond="all of them"))
    assert hit(all_them, F="x", G="y", H="z") and not hit(all_them, F="x", G="y")
    one_them = make(det.format(cond="1 of them"))
    assert hit(one_them, H="z") and not hit(one_them, Q="z")


def test_keyword_rules_search_message_and_log_original() -> None:
    r = make("keywords:\n    - 'Failed password'\n    - 'Invalid user'\ncondition: keywords")
    assert hit(r, message="sshd[1]: FAILED PASSWORD for root")
    assert hit(r, **{"log.original": "<38>sshd: Invalid user bob"})
    assert not hit(r, message="Accepted password for root")
    assert not hit(r, other="Failed password")
    all_ = make("keywords:\n    '|all':\n        - 'foo'\n        - 'bar'\ncondition: keywords")
    assert hit(all_, message="foo and bar") and not hit(all_, message="foo only")


def test_keyword_with_wildcards() -> None:
    r = make("keywords:\n    - 'rm -rf *tmp'\ncondition: keywords")
    assert hit(r, message="sudo rm -rf /var/tmp now")
    assert not hit(r, message="rm -r /tmp")


def test_attribution_is_kept() -> None:
    text = """
title: Brute force
id: 5e3a1b2c-0000-4000-8000-000000000001
status: test
description: many failures
author: Jane Analyst
license: DRL-1.1
references:
    - https://example.org/ref
tags:
    - attack.credential-access
    - attack.t1110
    - car.2013-04-002
level: high
logsource:
    product: linux
    service: sshd
detection:
    keywords:
        - 'Failed password'
    condition: keywords
"""
    r = compile_rule(SigmaRule.from_yaml(text))
    assert r.id == "5e3a1b2c-0000-4000-8000-000000000001"
    assert (r.title, r.level, r.status, r.author, r.license) == (
        "Brute force",
        "high",
        "test",
        "Jane Analyst",
        "DRL-1.1",
    )
    assert r.references == ("https://example.org/ref",)
    assert r.attack_tags == ("attack.credential-access", "attack.t1110")
    assert "car.2013-04-002" in r.tags
    assert r.datasets == frozenset({"sshd"})
    assert r.matches({"message": "Failed password for root from 1.2.3.4"})


def test_windows_mapping_and_logsource_precondition() -> None:
    text = """
title: esentutl
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: '\\esentutl.exe'
        EventID: 1
    condition: sel
"""
    r = compile_rule(SigmaRule.from_yaml(text))
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    ev = {
        "winlog.channel": sysmon,
        "winlog.event_id": 1,
        "process.executable": "C:\\Windows\\System32\\esentutl.exe",
    }
    assert r.matches(ev)
    assert r.event_ids == frozenset({1})
    # Same fields on a file-creation event (Sysmon 11): the log source does not apply.
    assert not r.matches({**ev, "winlog.event_id": 11})
    assert not r.matches({**ev, "winlog.channel": "Security", "winlog.event_id": 1})


def test_windows_service_channel_precondition() -> None:
    text = """
title: cleared
logsource:
    product: windows
    service: security
detection:
    sel:
        EventID: 1102
    condition: sel
"""
    r = compile_rule(SigmaRule.from_yaml(text))
    assert r.matches({"winlog.channel": "Security", "winlog.event_id": 1102})
    assert not r.matches({"winlog.channel": "System", "winlog.event_id": 1102})
    assert not r.matches({"winlog.channel": "Security", "winlog.event_id": 4624})


def test_webserver_mapping() -> None:
    text = """
title: web
logsource:
    category: webserver
detection:
    sel:
        cs-method: 'POST'
        sc-status: 200
        c-uri|contains: '/wp-login.php'
        c-useragent|startswith: 'python-requests'
    condition: sel
"""
    r = compile_rule(SigmaRule.from_yaml(text))
    ev = {
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "url.original": "/wp-login.php?x=1",
        "user_agent.original": "python-requests/2.31",
    }
    assert r.matches(ev) and "nginx.access" in r.datasets
    assert not r.matches({**ev, "http.response.status_code": 404})


def test_expand_placeholder_is_unsupported_with_reason() -> None:
    with pytest.raises(UnsupportedRuleError, match="placeholder"):
        make("sel:\n    F|expand: '%admins%'\ncondition: sel")


def test_unknown_logsource_is_unsupported() -> None:
    text = (
        "title: t\nlogsource:\n    product: aws\n"
        "detection:\n    s:\n        a: b\n    condition: s\n"
    )
    with pytest.raises(UnsupportedRuleError, match="no field mapping"):
        compile_rule(SigmaRule.from_yaml(text))
