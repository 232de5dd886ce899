"""Sigma correlation rules (spec v2): compiled once, evaluated over time windows.

A correlation rule names other rules (by ``name`` or ``id``) and says what must happen among
their matches, per group of events (``group-by`` field values), within a time span:

* ``event_count``: the number of matches;
* ``value_count``: the number of distinct values of ``condition.field``;
* ``temporal``: the number of distinct referenced rules that matched (default: all of them);
* ``temporal_ordered``: the number of referenced rules that matched *in the listed order*.

The measure is compared with the condition (``gte gt lte lt eq neq``). :class:`Window` is the one
evaluator both paths share: the database path (ingest, windows rebuilt from stored hits) and
the in-memory path (:class:`InMemoryCorrelator`, file hunting), so that a rule means the same
thing in both.

Field names (``group-by``, ``condition.field``, ``aliases``) are Sigma names resolved through the
referenced rule's log-source mapping; names with a dot are taken as event-contract (ECS) keys
as they are (``source.ip``, ``user.name``), so that one correlation can group sshd and Windows
events on the same key. An event without a value for a group-by field (or the counted field)
takes no part, as in SIEM backends' ``stats ... by``.

Not supported (reported with the reason): correlations of correlations, the extended string
conditions (``not``, ``or``) and the metric types (``value_sum``, ``value_avg``...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.rule import SigmaLogSource

from lakana.monitoring.detection.sigma.compiler import CompiledRule, UnsupportedRuleError
from lakana.monitoring.detection.sigma.fields import UnknownFieldError, mapping_for_logsource

__all__ = [
    "KINDS",
    "OPERATORS",
    "CompiledCorrelation",
    "CorrelationMatch",
    "InMemoryCorrelator",
    "Window",
    "compile_correlation",
    "group_hash",
    "holds",
]

KINDS = ("event_count", "value_count", "temporal", "temporal_ordered")

#: The condition operators, as Sigma spells them.
OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}

#: Longest value kept per counted field (the database column's size).
MAX_VALUE = 300


def holds(op: str, measure: int, count: int) -> bool:
    """True when ``measure <op> count`` (the correlation condition)."""
    return OPERATORS[op](measure, count)


def group_hash(correlation_id: str, group: Mapping[str, str]) -> str:
    """sha256 of a correlation id and its group values: one window per group."""
    raw = json.dumps([correlation_id, sorted(group.items())], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def _value(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)[:MAX_VALUE]


@dataclass(frozen=True, slots=True)
class CompiledCorrelation:
    """A Sigma correlation rule resolved against its pack, with its attribution kept."""

    id: str
    title: str
    level: str | None
    status: str | None
    description: str | None
    tags: tuple[str, ...]
    author: str | None
    license: str | None
    references: tuple[str, ...]
    source: str | None
    kind: str
    #: The referenced rules, as ``CompiledRule.id`` values, in the listed order.
    rule_refs: tuple[str, ...]
    #: The group-by fields: ECS keys (or the alias names when ``aliases`` map them per rule).
    group_by: tuple[str, ...]
    timespan: dt.timedelta
    op: str
    count: int
    #: value_count: the ECS key whose distinct values are counted.
    field: str | None
    #: Whether the referenced rules also raise their own alerts.
    generate: bool
    name: str | None = None
    #: Per referenced rule: the event keys of the group-by fields, in ``group_by`` order.
    group_keys: Mapping[str, tuple[str, ...]] = dc_field(
        default_factory=dict, repr=False, compare=False)
    #: Per referenced rule: the event key of the counted field (value_count).
    value_keys: Mapping[str, str] = dc_field(default_factory=dict, repr=False, compare=False)

    @property
    def attack_tags(self) -> tuple[str, ...]:
        """The ATT&CK tags (``attack.*``) of the correlation."""
        return tuple(t for t in self.tags if t.startswith("attack."))

    def group_of(self, rule_id: str, event: Mapping[str, Any]) -> dict[str, str] | None:
        """The group-by values of ``event`` matched by ``rule_id``; None when one is missing
        (the event then takes no part in the correlation)."""
        keys = self.group_keys.get(rule_id, self.group_by)
        group: dict[str, str] = {}
        for name, key in zip(self.group_by, keys, strict=True):
            value = _value(event, key)
            if value is None:
                return None
            group[name] = value
        return group

    def value_of(self, rule_id: str, event: Mapping[str, Any]) -> str | None:
        """value_count: the counted field's value in ``event`` (None when absent); other
        kinds: ``""``."""
        if self.kind != "value_count":
            return ""
        key = self.value_keys.get(rule_id, self.field or "")
        return _value(event, key) if key else None


@dataclass
class CorrelationMatch:
    """A correlation whose condition held for a group: the measure and the window's span."""

    correlation: CompiledCorrelation
    group: dict[str, str]
    count: int
    first: dt.datetime
    last: dt.datetime


# ---------------------------------------------------------------------------------------------
# The shared evaluator.


class Window:
    """The hits of one group within a correlation's time span, and the condition over them.

    Hits are pushed in time order; :meth:`advance` drops those older than ``when - timespan``
    (the window is ``[when - timespan, when]``, both ends included). Counts are kept
    incrementally, so ``event_count``, ``value_count`` and ``temporal`` cost O(1) per hit;
    ``temporal_ordered`` walks the window. ``limit`` bounds the hits kept (the oldest go first).
    """

    __slots__ = ("correlation", "hits", "limit", "pushed", "rules", "values")

    def __init__(self, correlation: CompiledCorrelation, limit: int = 100_000) -> None:
        self.correlation = correlation
        self.limit = limit
        #: (when, rule id, value, payload) in time order.
        self.hits: deque[tuple[dt.datetime, str, str, Any]] = deque()
        self.values: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        #: How many hits were ever pushed (for :meth:`payloads_since`).
        self.pushed = 0

    def _drop_oldest(self) -> None:
        _, rule, value, _ = self.hits.popleft()
        self.rules[rule] -= 1
        if not self.rules[rule]:
            del self.rules[rule]
        self.values[value] -= 1
        if not self.values[value]:
            del self.values[value]

    def advance(self, when: dt.datetime) -> None:
        """Drop the hits that fell out of the window ending at ``when``."""
        start = when - self.correlation.timespan
        while self.hits and self.hits[0][0] < start:
            self._drop_oldest()

    def push(self, when: dt.datetime, rule: str, value: str = "", payload: Any = None) -> None:
        """Add a hit (``value``: the counted field's value for value_count) and advance."""
        self.advance(when)
        self.hits.append((when, rule, value, payload))
        self.pushed += 1
        self.rules[rule] += 1
        self.values[value] += 1
        while len(self.hits) > self.limit:
            self._drop_oldest()

    def clear(self) -> None:
        """Forget every hit (after a match is reported, in the in-memory path)."""
        self.hits.clear()
        self.values.clear()
        self.rules.clear()

    def measure(self) -> int:
        """What the condition compares: matches, distinct values, distinct rules, or rules
        matched in order."""
        c = self.correlation
        if c.kind == "event_count":
            return len(self.hits)
        if c.kind == "value_count":
            return len(self.values)
        if c.kind == "temporal":
            return sum(1 for r in c.rule_refs if r in self.rules)
        # temporal_ordered: the longest prefix of the rule list found in order (greedy is
        # optimal for a subsequence); ties in time keep arrival order.
        step = 0
        for _, rule, _, _ in self.hits:
            if step < len(c.rule_refs) and rule == c.rule_refs[step]:
                step += 1
        return step

    def holds(self) -> bool:
        """True when the window is not empty and its measure meets the condition."""
        if not self.hits:
            return False
        c = self.correlation
        if c.kind == "temporal_ordered" and c.op in ("gte", "gt") and \
                sum(1 for r in c.rule_refs if r in self.rules) < c.count + (c.op == "gt"):
            # Fewer distinct rules in the window than needed: no order can reach the
            # threshold, so the window (which can be long) need not be walked.
            return False
        return holds(c.op, self.measure(), c.count)

    @property
    def first(self) -> dt.datetime | None:
        """Time of the oldest hit in the window."""
        return self.hits[0][0] if self.hits else None

    def payloads(self) -> list[Any]:
        """The payloads of the hits in the window, oldest first."""
        return [h[3] for h in self.hits]

    def payloads_since(self, pushed: int) -> list[Any]:
        """The payloads of the hits still in the window that were pushed after the
        ``pushed``-th push (so a caller collecting a sliding window pays for each hit once)."""
        fresh = min(len(self.hits), self.pushed - pushed)
        if fresh <= 0:
            return []
        return [self.hits[i][3] for i in range(len(self.hits) - fresh, len(self.hits))]


# ---------------------------------------------------------------------------------------------
# In memory (file hunting): bounded.


class InMemoryCorrelator:
    """Correlations over an event stream without a database, in bounded memory.

    Each group's window is pruned by time and capped in length; at most ``max_groups`` groups
    are kept, the least recently used going first. A group whose condition holds is reported
    once as a :class:`CorrelationMatch` and its window starts afresh, so a long attack gives
    one match per threshold reached rather than one per event.
    """

    def __init__(self, correlations: Sequence[CompiledCorrelation], max_groups: int = 100_000,
                 max_hits: int = 10_000) -> None:
        self.correlations = list(correlations)
        self.max_groups = max_groups
        self.max_hits = max_hits
        self._by_rule: dict[str, list[CompiledCorrelation]] = {}
        for c in self.correlations:
            for ref in dict.fromkeys(c.rule_refs):
                self._by_rule.setdefault(ref, []).append(c)
        self._windows: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], Window] = \
            OrderedDict()

    def __len__(self) -> int:
        """How many group windows are held."""
        return len(self._windows)

    def _window(self, c: CompiledCorrelation, group: Mapping[str, str]) -> Window:
        # The in-memory key needs no hash (the database path does, for a fixed-size column).
        key = (c.id, tuple(group.items()))
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window(c, self.max_hits)
            while len(self._windows) > self.max_groups:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        return window

    def feed(self, event: Mapping[str, Any], matched: Sequence[CompiledRule],
             when: dt.datetime) -> list[CorrelationMatch]:
        """Count ``event`` (which ``matched`` these rules, at ``when``) in the correlations
        referring to them; the matches whose condition now holds."""
        found: list[CorrelationMatch] = []
        for rule in matched:
            for c in self._by_rule.get(rule.id, ()):
                group = c.group_of(rule.id, event)
                value = c.value_of(rule.id, event)
                if group is None or value is None:
                    continue
                window = self._window(c, group)
                window.push(when, rule.id, value)
                if window.holds():
                    found.append(CorrelationMatch(c, group, window.measure(),
                                                  window.first or when, when))
                    window.clear()
        return found


# ---------------------------------------------------------------------------------------------
# Compiling.


def _reference(ref: str, rules: Mapping[str, CompiledRule]) -> CompiledRule:
    rule = rules.get(ref)
    if rule is None:
        raise UnsupportedRuleError(f"correlation: unknown rule {ref}")
    return rule


def _event_key(rule: CompiledRule, name: str) -> str:
    """The event key of a Sigma field name for ``rule``'s log source (dotted: ECS as is)."""
    if "." in name:
        return name
    product, category, service = rule.logsource
    try:
        mapping = mapping_for_logsource(
            SigmaLogSource(category=category, product=product, service=service))
        return mapping.resolve(name)
    except UnknownFieldError:
        raise UnsupportedRuleError(
            f"correlation: unknown field mapping: {name} ({rule.title})") from None
    except ValueError as exc:
        raise UnsupportedRuleError(f"correlation: {exc}") from None


def _aliases(corr: SigmaCorrelationRule) -> dict[str, dict[str, str]]:
    """alias name -> {rule reference: Sigma field name}."""
    found: dict[str, dict[str, str]] = {}
    for alias in corr.aliases or ():
        found[alias.alias] = {ref.reference: str(name) for ref, name in alias.mapping.items()}
    return found


def _keys_for(name: str, ref: str, rule: CompiledRule,
              aliases: Mapping[str, Mapping[str, str]]) -> str:
    if name in aliases:
        mapping = aliases[name]
        sigma_name = mapping.get(ref) or mapping.get(rule.id) or (
            mapping.get(rule.name) if rule.name else None)
        if sigma_name is None:
            raise UnsupportedRuleError(f"correlation: alias {name} has no field for {ref}")
        return _event_key(rule, sigma_name)
    return _event_key(rule, name)


def compile_correlation(corr: SigmaCorrelationRule, rules: Mapping[str, CompiledRule],
                        source: str | None = None,
                        license: str | None = None) -> CompiledCorrelation:
    """Compile ``corr`` against ``rules`` (the pack's compiled rules by name and by id).

    Raises :class:`UnsupportedRuleError` with the reason for what is not evaluated: an unknown
    or unloaded referenced rule, a correlation of correlations, an extended condition, a metric
    type, an unmapped field.
    """
    if corr.errors:
        raise UnsupportedRuleError(f"invalid rule: {corr.errors[0]}")
    kind = corr.type.name.lower() if isinstance(corr.type, SigmaCorrelationType) else str(
        corr.type)
    if kind not in KINDS:
        raise UnsupportedRuleError(f"correlation type {kind}: not supported")
    cond = corr.condition
    if not isinstance(cond, SigmaCorrelationCondition):
        raise UnsupportedRuleError("correlation: extended conditions (and/or/not): not supported")
    if not corr.rules:
        raise UnsupportedRuleError("correlation: no rules referenced")
    refs = [str(r.reference) for r in corr.rules]
    resolved = [_reference(ref, rules) for ref in refs]
    aliases = _aliases(corr)
    group_by = tuple(str(g) for g in corr.group_by or ())
    group_keys = {rule.id: tuple(_keys_for(g, ref, rule, aliases) for g in group_by)
                  for ref, rule in zip(refs, resolved, strict=True)}
    value_field: str | None = None
    value_keys: dict[str, str] = {}
    if kind == "value_count":
        fieldref = cond.fieldref
        if isinstance(fieldref, list):
            if len(fieldref) != 1:
                raise UnsupportedRuleError("correlation: value_count over several fields: "
                                           "not supported")
            fieldref = fieldref[0]
        if not fieldref:
            raise UnsupportedRuleError("invalid rule: value_count without a field")
        value_keys = {rule.id: _keys_for(str(fieldref), ref, rule, aliases)
                      for ref, rule in zip(refs, resolved, strict=True)}
        keys = set(value_keys.values())
        value_field = keys.pop() if len(keys) == 1 else str(fieldref)
    if not isinstance(cond.count, int):
        raise UnsupportedRuleError(f"correlation: non-integer threshold {cond.count}")
    # Group names: the ECS key when every referenced rule agrees on it, else the Sigma name.
    names = tuple(
        next(iter({keys[i] for keys in group_keys.values()}))
        if len({keys[i] for keys in group_keys.values()}) == 1 and g not in aliases else g
        for i, g in enumerate(group_by))
    ids = [rule.id for rule in resolved]
    return CompiledCorrelation(
        id=str(corr.id) if corr.id is not None else (corr.name or corr.title),
        title=corr.title,
        level=corr.level.name.lower() if corr.level is not None else None,
        status=corr.status.name.lower() if corr.status is not None else None,
        description=corr.description,
        tags=tuple(f"{t.namespace}.{t.name}" for t in corr.tags),
        author=corr.author,
        license=corr.license or license,
        references=tuple(corr.references),
        source=source,
        kind=kind,
        rule_refs=tuple(ids),
        group_by=names,
        timespan=dt.timedelta(seconds=corr.timespan.seconds),
        op=cond.op.name.lower(),
        count=cond.count,
        field=value_field,
        generate=bool(corr.generate),
        name=corr.name,
        group_keys=group_keys,
        value_keys=value_keys,
    )


def rules_by_reference(rules: Iterable[CompiledRule]) -> dict[str, CompiledRule]:
    """The pack's rules by id and by name (the names a correlation may refer to)."""
    found: dict[str, CompiledRule] = {}
    for rule in rules:
        found.setdefault(rule.id, rule)
        if rule.name:
            found.setdefault(rule.name, rule)
    return found
