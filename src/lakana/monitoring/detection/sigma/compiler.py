"""Compile a pySigma rule into nested Python closures, once, for in-memory evaluation.

pySigma parses rules and conditions but has no evaluator. :func:`compile_rule` walks the
postprocessed condition tree (ConditionAND/OR/NOT with ConditionFieldEqualsValueExpression and
ConditionValueExpression leaves) and builds one closure per node; evaluating an event is then
plain function calls and string methods, with no parsing per event.

Semantics: string comparison is case-insensitive (except ``|cased``); ``*``/``?`` wildcards
become ``==``/``startswith``/``endswith``/``in`` on lower-cased text where possible and a
compiled regex otherwise; a missing field never matches a value, but ``null`` matches a missing
or empty field; numbers compare numerically against numeric values or numeric strings; ``|re``
uses Python ``re`` (search, with the i/m/s flags); ``|cidr`` uses :mod:`ipaddress`; keyword
rules (values without a field) look for the value in ``message`` and ``log.original``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from lakana.monitoring.detection.sigma.fields import (
    FieldMapping,
    UnknownFieldError,
    mapping_for_logsource,
)

__all__ = ["KEYWORD_FIELDS", "CompiledRule", "Event", "UnsupportedRuleError", "compile_rule"]

Event = Mapping[str, Any]
Matcher = Callable[[Event], bool]
ValueTest = Callable[[Any], bool]

# Where keyword rules (values without a field) look.
KEYWORD_FIELDS = ("message", "log.original")

_MISSING = object()


class UnsupportedRuleError(ValueError):
    """The rule uses something the engine does not evaluate; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A Sigma rule compiled to a predicate over events, with its attribution kept."""

    id: str
    title: str
    level: str | None
    status: str | None
    description: str | None
    tags: tuple[str, ...]
    author: str | None
    license: str | None
    references: tuple[str, ...]
    logsource: tuple[str | None, str | None, str | None]  # product, category, service
    datasets: frozenset[str]
    # Windows event ids the log source stands for (None: any), so packs can index by event id.
    event_ids: frozenset[int] | None = None
    source: str | None = None
    #: The rule's ``name`` (what Sigma correlation rules may refer to it by).
    name: str | None = None
    #: False when the rule only feeds correlations whose ``generate`` is false: it matches
    #: (``RulePack.match`` returns it) but raises no alert of its own.
    generates: bool = True
    _match: Matcher = field(default=lambda _e: False, repr=False, compare=False)

    def matches(self, event: Event) -> bool:
        """True when the rule's condition holds for ``event`` (a flat ECS-keyed mapping)."""
        return self._match(event)

    @property
    def attack_tags(self) -> tuple[str, ...]:
        """The ATT&CK tags (``attack.*``) of the rule."""
        return tuple(t for t in self.tags if t.startswith("attack."))


# ---------------------------------------------------------------------------------------------
# Value tests: each takes the event's value (present, not None) and returns a bool.


def _text(v: Any) -> str:
    """The text form Sigma strings are compared against."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _number(v: Any) -> float | int | None:
    """``v`` as a number when it is numeric or a numeric string, else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def _string_parts(s: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for p in s.s:
        if isinstance(p, Placeholder):
            raise UnsupportedRuleError(f"placeholder %{p.name}% (|expand) not supported")
        parts.append(p)
    return parts


def _wildcard_regex(parts: Sequence[str | SpecialChars], cased: bool) -> re.Pattern[str]:
    pattern = "".join(
        ".*"
        if p is SpecialChars.WILDCARD_MULTI
        else "."
        if p is SpecialChars.WILDCARD_SINGLE
        else re.escape(str(p))
        for p in parts
    )
    return re.compile(pattern, re.DOTALL if cased else re.DOTALL | re.IGNORECASE)


@dataclass
class _StringTests:
    """String values of one field, OR-linked, grouped by kind so the common ones are cheap:
    exact values become one set lookup, prefixes one ``startswith`` tuple call."""

    exact: set[str] = field(default_factory=set)
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    contains: list[str] = field(default_factory=list)
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    any_value: bool = False

    def add(self, s: SigmaString, cased: bool, keyword: bool) -> None:
        parts = _string_parts(s)
        if keyword:
            # Keyword values are full-text searches: a plain keyword matches anywhere in the text.
            if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
                parts.insert(0, SpecialChars.WILDCARD_MULTI)
            if parts[-1] is not SpecialChars.WILDCARD_MULTI:
                parts.append(SpecialChars.WILDCARD_MULTI)
        norm: Callable[[str], str] = (lambda x: x) if cased else str.lower
        lead = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
        trail = len(parts) > int(lead) and parts[-1] is SpecialChars.WILDCARD_MULTI
        inner = parts[int(lead) : len(parts) - int(trail)]
        if not inner:
            if lead or trail:
                self.any_value = True
            else:
                self.exact.add("")
            return
        if len(inner) == 1 and isinstance(inner[0], str):
            text = norm(inner[0])
            if lead and trail:
                self.contains.append(text)
            elif lead:
                self.suffixes.append(text)
            elif trail:
                self.prefixes.append(text)
            else:
                self.exact.add(text)
            return
        self.regexes.append(_wildcard_regex(parts, cased))

    def build(self, cased: bool) -> ValueTest:
        if self.any_value:
            return lambda _v: True
        fast = self._fast_path(cased)
        if fast is not None:
            return fast
        exact = frozenset(self.exact)
        prefixes, suffixes = tuple(self.prefixes), tuple(self.suffixes)
        contains, regexes = tuple(self.contains), tuple(self.regexes)
        lower = not cased

        def test(v: Any) -> bool:
            raw = _text(v)
            t = raw.lower() if lower else raw
            if t in exact:
                return True
            if prefixes and t.startswith(prefixes):
                return True
            if suffixes and t.endswith(suffixes):
                return True
            for c in contains:
                if c in t:
                    return True
            return any(r.fullmatch(raw) for r in regexes)

        return test

    def _fast_path(self, cased: bool) -> ValueTest | None:
        """Single-kind shapes most rules have: one string method, no dispatch."""
        kinds = [
            k for k in ("exact", "prefixes", "suffixes", "contains", "regexes") if getattr(self, k)
        ]
        if len(kinds) != 1 or cased:
            return None
        if kinds == ["exact"]:
            exact = frozenset(self.exact)
            if len(exact) == 1:
                (only,) = exact
                return lambda v: _text(v).lower() == only
            return lambda v: _text(v).lower() in exact
        if kinds == ["contains"] and len(self.contains) == 1:
            (needle,) = self.contains
            return lambda v: needle in _text(v).lower()
        if kinds == ["prefixes"]:
            prefixes = tuple(self.prefixes)
            return lambda v: _text(v).lower().startswith(prefixes)
        if kinds == ["suffixes"]:
            suffixes = tuple(self.suffixes)
            return lambda v: _text(v).lower().endswith(suffixes)
        return None


def _number_test(n: SigmaNumber) -> ValueTest:
    target = n.number
    text = str(target)

    def test(v: Any) -> bool:
        num = _number(v)
        if num is not None:
            return num == target
        return _text(v).lower() == text

    return test


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def _compare_test(c: SigmaCompareExpression) -> ValueTest:
    op = _COMPARE[c.op]
    target = c.number.number

    def test(v: Any) -> bool:
        num = _number(v)
        return num is not None and op(num, target)

    return test


def _regex_test(r: SigmaRegularExpression) -> ValueTest:
    flags = 0
    for f in r.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[f]
    # Sigma regexes are case-sensitive unless |i is given: only the rule's flags are used.
    pattern = re.compile(str(r.regexp), flags)
    return lambda v: pattern.search(_text(v)) is not None


def _cidr_test(c: SigmaCIDRExpression) -> ValueTest:
    network = c.network

    def test(v: Any) -> bool:
        try:
            return ipaddress.ip_address(_text(v).strip()) in network
        except ValueError:
            return False

    return test


def _bool_test(b: SigmaBool) -> ValueTest:
    want = b.boolean

    def test(v: Any) -> bool:
        if isinstance(v, bool):
            return v is want
        return _text(v).lower() == ("true" if want else "false")

    return test


# Non-string value types → test builders (exact type: SigmaTimestampPart is a SigmaNumber).
_TEST_BUILDERS: dict[type, Callable[[Any], ValueTest]] = {
    SigmaNumber: _number_test,
    SigmaCompareExpression: _compare_test,
    SigmaRegularExpression: _regex_test,
    SigmaCIDRExpression: _cidr_test,
    SigmaBool: _bool_test,
}


def _value_tests(values: Sequence[SigmaType], keyword: bool) -> ValueTest:
    """One OR-test over values (strings grouped for speed); null/exists/fieldref excluded."""
    plain = _StringTests()
    cased = _StringTests()
    tests: list[ValueTest] = []
    for v in values:
        if isinstance(v, SigmaExpansion):
            # Expansions (windash, base64offset) are OR-linked whatever the enclosing linking.
            tests.append(_value_tests(v.values, keyword))
        elif isinstance(v, SigmaCasedString):
            cased.add(v, cased=True, keyword=keyword)
        elif isinstance(v, SigmaString):
            plain.add(v, cased=False, keyword=keyword)
        elif isinstance(v, SigmaTimestampPart):
            raise UnsupportedRuleError("timestamp part modifiers (|minute, |hour...) not supported")
        elif type(v) in _TEST_BUILDERS:
            tests.append(_TEST_BUILDERS[type(v)](v))
        else:
            raise UnsupportedRuleError(f"value type {type(v).__name__} not supported")
    if plain != _StringTests():
        tests.insert(0, plain.build(cased=False))
    if cased != _StringTests():
        tests.insert(0, cased.build(cased=True))
    if not tests:
        return lambda _v: False
    if len(tests) == 1:
        return tests[0]
    all_tests = tuple(tests)
    return lambda v: any(t(v) for t in all_tests)


def _on_value(test: ValueTest) -> ValueTest:
    """Apply ``test`` to a value, or to any element when the event value is a list."""

    def run(v: Any) -> bool:
        if isinstance(v, (list, tuple)):
            return any(x is not None and test(x) for x in v)
        return test(v)

    return run


# ---------------------------------------------------------------------------------------------
# Condition tree → closures


class _Compiler:
    def __init__(self, mapping: FieldMapping) -> None:
        self.mapping = mapping

    def key(self, sigma_field: str) -> str:
        try:
            return self.mapping.resolve(sigma_field)
        except UnknownFieldError:
            raise UnsupportedRuleError(
                f"unknown field mapping: {sigma_field} ({self.mapping.name})"
            ) from None

    def node(self, cond: Any) -> Matcher:
        if isinstance(cond, ConditionAND):
            return self.and_(cond.args)
        if isinstance(cond, ConditionOR):
            return self.or_(cond.args)
        if isinstance(cond, ConditionNOT):
            inner = self.node(cond.args[0])
            return lambda e: not inner(e)
        if isinstance(cond, ConditionFieldEqualsValueExpression):
            return self.field_values(cond.field, [cond.value])
        if isinstance(cond, ConditionValueExpression):
            return self.keywords([cond.value])
        if isinstance(cond, ConditionItem):
            raise UnsupportedRuleError(f"condition {type(cond).__name__} not supported")
        raise UnsupportedRuleError(f"condition element {type(cond).__name__} not supported")

    def and_(self, args: Sequence[Any]) -> Matcher:
        fns = tuple(self.node(a) for a in args)
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            a, b = fns
            return lambda e: a(e) and b(e)

        def all_(e: Event) -> bool:
            for f in fns:
                if not f(e):
                    return False
            return True

        return all_

    def or_(self, args: Sequence[Any]) -> Matcher:
        # pySigma expands "Field: [a, b, c]" into OR(Field=a, Field=b, Field=c): group leaves on
        # the same field (and keyword leaves) so the value is fetched and lower-cased once.
        by_field: dict[str, list[SigmaType]] = {}
        keywords: list[SigmaType] = []
        rest: list[Any] = []
        for a in args:
            if isinstance(a, ConditionFieldEqualsValueExpression) and not isinstance(
                a.value, (SigmaNull, SigmaExists, SigmaFieldReference)
            ):
                by_field.setdefault(a.field, []).append(a.value)
            elif isinstance(a, ConditionValueExpression):
                keywords.append(a.value)
            else:
                rest.append(a)
        fns = [self.field_values(f, vals) for f, vals in by_field.items()]
        if keywords:
            fns.append(self.keywords(keywords))
        fns.extend(self.node(a) for a in rest)
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            a, b = fns
            return lambda e: a(e) or b(e)
        all_fns = tuple(fns)

        def any_(e: Event) -> bool:
            for f in all_fns:
                if f(e):
                    return True
            return False

        return any_

    def field_values(self, sigma_field: str, values: list[SigmaType]) -> Matcher:
        key = self.key(sigma_field)
        if len(values) == 1:
            v = values[0]
            if isinstance(v, SigmaNull):
                return lambda e: e.get(key) in (None, "")
            if isinstance(v, SigmaExists):
                want = bool(v)
                return lambda e: (e.get(key) is not None) is want
            if isinstance(v, SigmaFieldReference):
                return self.field_reference(key, v)
        test = _on_value(_value_tests(values, keyword=False))

        def match(e: Event) -> bool:
            v = e.get(key)
            return v is not None and test(v)

        return match

    def field_reference(self, key: str, ref: SigmaFieldReference) -> Matcher:
        other = self.key(ref.field)
        starts, ends = ref.starts_with, ref.ends_with

        def match(e: Event) -> bool:
            a, b = e.get(key), e.get(other)
            if a is None or b is None:
                return False
            ta, tb = _text(a).lower(), _text(b).lower()
            if starts and ends:
                return tb in ta
            if starts:
                return ta.startswith(tb)
            if ends:
                return ta.endswith(tb)
            return ta == tb

        return match

    def keywords(self, values: list[SigmaType]) -> Matcher:
        for v in values:
            if isinstance(v, (SigmaNull, SigmaExists, SigmaFieldReference)):
                raise UnsupportedRuleError(f"{type(v).__name__} without a field")
        test = _value_tests(values, keyword=True)
        k1, k2 = KEYWORD_FIELDS

        def match(e: Event) -> bool:
            v = e.get(k1)
            if v is not None and test(v):
                return True
            v = e.get(k2)
            return v is not None and test(v)

        return match


def _precondition(mapping: FieldMapping) -> Matcher | None:
    """Channel/event-id check a Windows log source implies (None: no restriction).

    An event that does not say its channel is not rejected on the channel alone, since some
    shippers drop it; an event id, when the log source names some, is required.
    """
    if not mapping.windows_sources:
        return None
    channels = frozenset(c.lower() for c, _ in mapping.windows_sources)
    with_ids = frozenset((c.lower(), i) for c, i in mapping.windows_sources if i is not None)
    ids = frozenset(i for _, i in mapping.windows_sources if i is not None)
    if not with_ids:

        def channel_only(e: Event) -> bool:
            ch = e.get("winlog.channel")
            return ch is None or _text(ch).lower() in channels

        return channel_only

    def channel_and_id(e: Event) -> bool:
        eid = _number(e.get("winlog.event_id"))
        if eid not in ids:
            return False
        ch = e.get("winlog.channel")
        return ch is None or (_text(ch).lower(), eid) in with_ids

    return channel_and_id


def _event_ids(mapping: FieldMapping) -> frozenset[int] | None:
    ids = {i for _, i in mapping.windows_sources}
    if not ids or None in ids:
        return None
    return frozenset(i for i in ids if i is not None)


def _required_ids(cond: Any, mapping: FieldMapping) -> frozenset[int] | None:
    """Event ids a condition requires (``EventID: 4688`` ANDed in), None when it allows any.

    Most rules on a whole channel (``service: security``) select their events by EventID in
    the detection: knowing it lets a pack skip them for every other event id (performance
    only; the condition still checks it).
    """
    if isinstance(cond, ConditionAND):
        found: frozenset[int] | None = None
        for arg in cond.args:
            ids = _required_ids(arg, mapping)
            if ids is not None:
                found = ids if found is None else found & ids
        return found
    if isinstance(cond, ConditionOR):
        union: set[int] = set()
        for arg in cond.args:
            ids = _required_ids(arg, mapping)
            if ids is None:
                return None
            union |= ids
        return frozenset(union)
    if (isinstance(cond, ConditionFieldEqualsValueExpression)
            and type(cond.value) is SigmaNumber and isinstance(cond.value.number, int)
            and mapping.fields.get(cond.field) == "winlog.event_id"):
        return frozenset({cond.value.number})
    return None


def _narrow(ids: frozenset[int] | None, trees: Sequence[Any],
            mapping: FieldMapping) -> frozenset[int] | None:
    """The log source's event ids narrowed by those every condition of the rule requires."""
    required: set[int] = set()
    for tree in trees:
        found = _required_ids(tree, mapping)
        if found is None:
            return ids
        required |= found
    return frozenset(required) if ids is None else ids & required


def compile_rule(
    rule: SigmaRule, field_map: FieldMapping | None = None, source: str | None = None
) -> CompiledRule:
    """Compile ``rule`` into a :class:`CompiledRule`; raises :class:`UnsupportedRuleError`.

    ``field_map`` defaults to the mapping for the rule's log source
    (:func:`~lakana.monitoring.detection.sigma.fields.mapping_for_logsource`).
    """
    if field_map is None:
        try:
            field_map = mapping_for_logsource(rule.logsource)
        except ValueError as exc:
            raise UnsupportedRuleError(str(exc)) from None
    compiler = _Compiler(field_map)
    conditions = []
    trees = []
    for cond in rule.detection.parsed_condition:
        tree = cond.parsed
        if tree is None:
            raise UnsupportedRuleError("empty condition")
        conditions.append(compiler.node(tree))
        trees.append(tree)
    body = conditions[0] if len(conditions) == 1 else compiler_or(conditions)
    pre = _precondition(field_map)
    match: Matcher = body if pre is None else (lambda e: pre(e) and body(e))
    ls = rule.logsource
    return CompiledRule(
        id=str(rule.id) if rule.id is not None else rule.title,
        title=rule.title,
        level=rule.level.name.lower() if rule.level is not None else None,
        status=rule.status.name.lower() if rule.status is not None else None,
        description=rule.description,
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        author=rule.author,
        license=rule.license,
        references=tuple(rule.references),
        logsource=(ls.product, ls.category, ls.service),
        datasets=field_map.datasets,
        event_ids=_narrow(_event_ids(field_map), trees, field_map)
        if field_map.windows_sources else _event_ids(field_map),
        source=source,
        name=rule.name,
        _match=match,
    )


def compiler_or(fns: Sequence[Matcher]) -> Matcher:
    """OR of several top-level conditions (a rule may list more than one)."""
    all_fns = tuple(fns)
    return lambda e: any(f(e) for f in all_fns)
