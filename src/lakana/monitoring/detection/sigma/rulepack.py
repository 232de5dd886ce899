"""Load a pack of Sigma YAML rules, compile each once, and match events by dataset.

:func:`load_rules` walks directories recursively; every file is either compiled or reported as
unsupported with the reason (YAML error with the file name, unsupported modifier, unknown field
mapping, correlation referring to an unknown rule...). Loading never raises for a bad rule: a
rule pack from the outside is data, and one broken file must not hide the thousands of good ones.

Sigma correlation rules are compiled once every file is read, so that they may refer to rules
(by ``name`` or ``id``) in any file of the same pack. A rule referenced only by correlations
whose ``generate`` is false still matches but is marked ``generates=False``: callers raise
alerts only for rules that generate.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from lakana.monitoring.detection.sigma.compiler import (
    CompiledRule,
    UnsupportedRuleError,
    compile_rule,
)
from lakana.monitoring.detection.sigma.correlation import (
    CompiledCorrelation,
    compile_correlation,
    rules_by_reference,
)

__all__ = ["RulePack", "UnsupportedRule", "load_rules"]

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class UnsupportedRule:
    """A rule file (or document in it) that was not loaded, and why."""

    path: str
    reason: str
    rule_id: str | None = None
    title: str | None = None

    @property
    def category(self) -> str:
        """The reason without rule-specific detail, for summaries (text before the first ':')."""
        return self.reason.split(":", 1)[0]


@dataclass
class RulePack:
    """Compiled rules indexed by ``event.dataset``, the correlation rules over them, plus what
    could not be loaded."""

    rules: list[CompiledRule] = field(default_factory=list)
    unsupported: list[UnsupportedRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    _by_rule: dict[str, list[CompiledCorrelation]] = field(default_factory=dict, repr=False)
    _exact: dict[str, list[CompiledRule]] = field(default_factory=dict, repr=False)
    _family: dict[str, list[CompiledRule]] = field(default_factory=dict, repr=False)
    _everywhere: list[CompiledRule] = field(default_factory=list, repr=False)
    _cache: dict[tuple[str, Any], tuple[CompiledRule, ...]] = field(
        default_factory=dict, repr=False
    )

    def add(self, rule: CompiledRule) -> None:
        """Add a compiled rule and index it by the datasets its log source applies to."""
        self.rules.append(rule)
        self._cache.clear()
        for ds in rule.datasets:
            if ds == "*":
                self._everywhere.append(rule)
            elif ds.endswith(".*"):
                self._family.setdefault(ds[:-2], []).append(rule)
            else:
                self._exact.setdefault(ds, []).append(rule)

    def add_correlation(self, correlation: CompiledCorrelation) -> None:
        """Add a compiled correlation and index it by the rules it refers to."""
        self.correlations.append(correlation)
        for ref in dict.fromkeys(correlation.rule_refs):
            self._by_rule.setdefault(ref, []).append(correlation)

    def correlations_for(self, rule_id: str) -> list[CompiledCorrelation]:
        """The correlations that count matches of the rule ``rule_id``."""
        return self._by_rule.get(rule_id, [])

    def merge(self, other: RulePack) -> None:
        """Add another pack's rules, correlations and unsupported rules to this one."""
        for rule in other.rules:
            self.add(rule)
        for correlation in other.correlations:
            self.add_correlation(correlation)
        self.unsupported.extend(other.unsupported)

    def _reindex(self) -> None:
        rules = self.rules
        self.rules = []
        self._exact.clear()
        self._family.clear()
        self._everywhere.clear()
        for rule in rules:
            self.add(rule)

    def rules_for(self, dataset: str | None, event_id: Any = None) -> tuple[CompiledRule, ...]:
        """The rules that apply to events of ``dataset`` (and Windows ``event_id``).

        Computed once per (dataset, event id) and cached: a Sysmon process-creation rule is
        never even called for a logon event.
        """
        key = dataset or ""
        found = self._cache.get((key, event_id))
        if found is None:
            seen: dict[int, CompiledRule] = {}
            candidates = [*self._exact.get(key, ()), *self._everywhere]
            family = key.split(".", 1)[0]
            if family != key or key in self._family:
                candidates.extend(self._family.get(family, ()))
            for r in candidates:
                if r.event_ids is None or event_id in r.event_ids:
                    seen.setdefault(id(r), r)
            found = tuple(seen.values())
            if len(self._cache) < 100_000:  # event ids come from outside: bound the cache
                self._cache[(key, event_id)] = found
        return found

    def match(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """The rules that fire on ``event``; only rules for its ``event.dataset`` are run."""
        ds = event.get("event.dataset")
        eid = event.get("winlog.event_id")
        if isinstance(eid, str) and eid.isdigit():
            eid = int(eid)
        elif not isinstance(eid, int) or isinstance(eid, bool):
            eid = None
        rules = self.rules_for(ds if isinstance(ds, str) else None, eid)
        return [r for r in rules if r.matches(event)]

    def summary(self) -> dict[str, Any]:
        """Counts: loaded rules, loaded correlation rules, unsupported ones in all and by
        reason category."""
        by_reason = Counter(u.category for u in self.unsupported)
        return {
            "loaded": len(self.rules),
            "correlations": len(self.correlations),
            "unsupported": len(self.unsupported),
            "unsupported_by_reason": dict(by_reason.most_common()),
        }


def _find_license(path: Path) -> str | None:
    """Licence name from a ``LICENSE.<name>`` file beside the rules or in a parent folder."""
    folder = path if path.is_dir() else path.parent
    for d in [folder, *list(folder.parents)[:3]]:
        try:
            for f in sorted(d.glob("LICENSE.*")):
                return f.name.removeprefix("LICENSE.")
        except OSError:
            return None
    return None


def _rule_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
    return [path]


def _parse_file(path: Path, pack: RulePack) -> SigmaCollection | None:
    """Parse one YAML file; on failure record why and return None."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        # References are resolved by the pack, across files, once every file is read.
        return SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"unreadable file: {exc}"
    except yaml.YAMLError as exc:
        reason = f"YAML error: {name}: {exc}"
    except SigmaError as exc:
        reason = f"invalid rule: {exc}"
    except Exception as exc:  # noqa: BLE001 - third-party parser on outside data: report, go on
        reason = f"parse failure: {type(exc).__name__}: {exc}"
    pack.unsupported.append(UnsupportedRule(name, reason))
    return None


def _compile_item(item: Any, name: str, license: str | None) -> CompiledRule | UnsupportedRule:
    """Compile one document of a rule file, or say why not."""
    rid = str(item.id) if getattr(item, "id", None) is not None else None
    title = getattr(item, "title", None)
    if not isinstance(item, SigmaRule):
        return UnsupportedRule(name, f"rule type {type(item).__name__}: not supported", rid, title)
    if item.errors:
        return UnsupportedRule(name, f"invalid rule: {item.errors[0]}", rid, title)
    try:
        compiled = compile_rule(item, source=name)
    except UnsupportedRuleError as exc:
        return UnsupportedRule(name, exc.reason, rid, title)
    except SigmaError as exc:
        return UnsupportedRule(name, f"invalid rule: {exc}", rid, title)
    except Exception as exc:  # noqa: BLE001 - one odd rule must not stop the pack
        return UnsupportedRule(name, f"compile failure: {type(exc).__name__}: {exc}", rid, title)
    if compiled.license is None and license is not None:
        compiled = dataclasses.replace(compiled, license=license)
    return compiled


@dataclass
class _Pending:
    """Correlations waiting for every file to be read, and the rules that failed to load."""

    correlations: list[tuple[SigmaCorrelationRule, str, str | None]] = field(
        default_factory=list)
    unloaded: dict[str, str] = field(default_factory=dict)


def _load_file(path: Path, license: str | None, pack: RulePack, pending: _Pending) -> None:
    collection = _parse_file(path, pack)
    if collection is None:
        return
    for item in collection.rules:
        if isinstance(item, SigmaCorrelationRule):
            pending.correlations.append((item, str(path), license))
            continue
        result = _compile_item(item, str(path), license)
        if isinstance(result, UnsupportedRule):
            pack.unsupported.append(result)
            for ref in (getattr(item, "name", None), result.rule_id):
                if ref:
                    pending.unloaded[str(ref)] = result.reason
        else:
            pack.add(result)


def _correlation_item(item: SigmaCorrelationRule, name: str, license: str | None,
                      rules: dict[str, CompiledRule], pending: _Pending, names: set[str],
                      ) -> CompiledCorrelation | UnsupportedRule:
    """Compile one correlation against the pack's rules (``names``: the correlations' own
    names and ids), or say why not."""
    rid = str(item.id) if item.id is not None else None
    for ref in item.rules or ():
        reference = str(ref.reference)
        if reference in rules:
            continue
        if reference in names:
            reason = f"correlation of correlation rules: not supported ({reference})"
        elif reference in pending.unloaded:
            reason = f"correlation: referenced rule {reference} not loaded: " \
                     f"{pending.unloaded[reference]}"
        else:
            reason = f"correlation: unknown rule {reference}"
        return UnsupportedRule(name, reason, rid, item.title)
    try:
        return compile_correlation(item, rules, source=name, license=license)
    except UnsupportedRuleError as exc:
        return UnsupportedRule(name, exc.reason, rid, item.title)
    except Exception as exc:  # noqa: BLE001 - one odd rule must not stop the pack
        return UnsupportedRule(name, f"compile failure: {type(exc).__name__}: {exc}", rid,
                               item.title)


def _resolve_correlations(pack: RulePack, pending: _Pending) -> None:
    """Compile the pending correlations, then mark rules that only feed non-generating ones."""
    rules = rules_by_reference(pack.rules)
    names = {str(c.name) for c, _, _ in pending.correlations if c.name}
    names |= {str(c.id) for c, _, _ in pending.correlations if c.id is not None}
    for item, name, license in pending.correlations:
        result = _correlation_item(item, name, license, rules, pending, names)
        if isinstance(result, UnsupportedRule):
            pack.unsupported.append(result)
        else:
            pack.add_correlation(result)
    if not pack.correlations:
        return
    # A rule generates its own alerts unless every correlation referring to it says
    # ``generate: false`` (losing an alert is worse than one more).
    generating: dict[str, bool] = {}
    for c in pack.correlations:
        for ref in c.rule_refs:
            generating[ref] = generating.get(ref, False) or c.generate
    quiet = {ref for ref, gen in generating.items() if not gen}
    if quiet:
        pack.rules = [dataclasses.replace(r, generates=False) if r.id in quiet else r
                      for r in pack.rules]
        pack._reindex()


def load_rules(paths: Iterable[str | Path] | str | Path, license: str | None = None) -> RulePack:
    """Load Sigma rules from files and directories (recursively) into a :class:`RulePack`.

    ``license`` is the attribution given to rules that do not name their own; by default it is
    taken from a ``LICENSE.<name>`` file beside the rules or up to three folders above (the
    SigmaHQ set ships ``LICENSE.DRL-1.1``).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    pack = RulePack()
    pending = _Pending()
    for p in paths:
        path = Path(p)
        if not path.exists():
            pack.unsupported.append(UnsupportedRule(str(path), "no such file or directory"))
            continue
        lic = license if license is not None else _find_license(path)
        for f in _rule_files(path):
            _load_file(f, lic, pack, pending)
    _resolve_correlations(pack, pending)
    return pack
