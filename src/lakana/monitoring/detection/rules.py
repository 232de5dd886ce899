"""The rule pack detection runs: Lakana's own Sigma rules (``rules/*.yml``, AGPL-3.0-or-later)
plus, when ``Settings.detection_rules_dir`` names one, the extra packs there (such as a copy of
the SigmaHQ rules, DRL-1.1, their attribution kept per rule).

Rules are compiled once per process: :func:`rule_pack` caches the pack for the configured
folder. The app and the CLI call :func:`configure` with their settings; a process that never
does reads the setting from the environment on first use.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lakana.monitoring.detection.schemas import PackSummary, UnsupportedOut
from lakana.monitoring.detection.sigma import (
    CompiledCorrelation,
    CompiledRule,
    RulePack,
    load_rules,
)

#: Lakana's own rules, shipped with the package.
BUILTIN_DIR = Path(__file__).parent / "rules"
BUILTIN_LICENSE = "AGPL-3.0-or-later"

_lock = threading.Lock()
_packs: dict[Path | None, RulePack] = {}
_configured: list[Path | None] = []


def configure(rules_dir: Path | None) -> None:
    """Say which extra folder of rules this process uses (``None``: Lakana's own only)."""
    with _lock:
        _configured[:] = [rules_dir]


def _extra_dir() -> Path | None:
    if not _configured:
        from lakana.core.config import load_settings

        configure(load_settings().detection_rules_dir)
    return _configured[0]


def build_pack(extra: Path | None = None) -> RulePack:
    """Compile Lakana's rules and those under ``extra`` into one new pack (not cached)."""
    pack = load_rules(BUILTIN_DIR, license=BUILTIN_LICENSE)
    if extra is not None:
        pack.merge(load_rules(extra))
    return pack


def rule_pack() -> RulePack:
    """The pack of the configured folder, compiled once per process."""
    extra = _extra_dir()
    with _lock:
        pack = _packs.get(extra)
        if pack is None:
            pack = _packs[extra] = build_pack(extra)
        return pack


def clear_cache() -> None:
    """Forget compiled packs and the configured folder (tests, rule updates)."""
    with _lock:
        _packs.clear()
        _configured.clear()


def summarize(pack: RulePack) -> PackSummary:
    """Counts, unsupported rules (by reason category) and the loaded rules of ``pack``."""
    counts = pack.summary()
    every: list[CompiledRule | CompiledCorrelation] = [*pack.rules, *pack.correlations]
    return PackSummary(
        loaded=counts["loaded"], unsupported=counts["unsupported"],
        unsupported_by_reason=counts["unsupported_by_reason"],
        rules=[{"id": r.id, "title": r.title, "level": r.level, "tags": list(r.tags),
                "author": r.author, "license": r.license, "source": r.source}
               for r in sorted(every, key=lambda r: (r.title, r.id))],
        unsupported_rules=[UnsupportedOut(path=u.path, reason=u.reason, category=u.category,
                                          rule_id=u.rule_id, title=u.title)
                           for u in pack.unsupported])


def pack_summary() -> PackSummary:
    """The summary of the pack this process runs."""
    return summarize(rule_pack())
