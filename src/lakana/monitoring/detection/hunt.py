"""Hunting in log files: the detection engine over files, without a server or a database.

``lakana detect file`` reads log files line by line (plain, gzip, bzip2, xz, or zip archives of
them, recognised by their first bytes), parses each line as the receivers do
(:func:`~lakana.monitoring.detection.parsers.parse_line`: JSON Windows events, syslog, access
logs, anything else kept as a raw event), runs a rule pack (and its correlations) on it and
reports each match as one JSON object. Memory stays flat whatever the size of the
input: files are streamed, over-long lines are cut at :data:`LINE_BYTES` bytes (the rest of the
line is skipped in bounded reads), and nothing is kept per event except in the correlator,
whose windows are bounded by time and group count.

Nothing here reads the settings or opens a database: hunting is for an analyst's laptop.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import lzma
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lakana.monitoring.detection.parsers import MAX_LINE, parse_line
from lakana.monitoring.detection.sigma import InMemoryCorrelator, RulePack, load_rules
from lakana.monitoring.detection.sigma.compiler import CompiledRule

__all__ = [
    "LEVELS",
    "LINE_BYTES",
    "HuntError",
    "HuntStats",
    "Hunter",
    "build_pack",
    "iter_lines",
    "level_rank",
]

#: Sigma levels, lowest first (``--min-level`` keeps this level and those after it).
LEVELS = ("informational", "low", "medium", "high", "critical")
#: Bytes read of one line at most: MAX_LINE characters of UTF-8 are at most 4 bytes each.
LINE_BYTES = MAX_LINE * 4
# Lines between two progress callbacks: often enough for a live bar, rarely enough to cost
# nothing next to parsing.
PROGRESS_EVERY = 4096

_GZIP, _BZIP2, _XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")


class HuntError(Exception):
    """An input file that cannot be read (missing, a folder, no permission, corrupt archive)."""


def level_rank(level: str | None) -> int:
    """Position of a Sigma level in :data:`LEVELS` (unknown or no level: the lowest)."""
    try:
        return LEVELS.index(level or "informational")
    except ValueError:
        return 0


def build_pack(rule_dirs: Sequence[Path], *, builtin: bool = True) -> RulePack:
    """Compile Lakana's own rules (unless ``builtin`` is false) and the rules under
    ``rule_dirs`` into one pack; each folder keeps its own licence attribution."""
    from lakana.monitoring.detection.rules import BUILTIN_DIR, BUILTIN_LICENSE

    pack = load_rules(BUILTIN_DIR, license=BUILTIN_LICENSE) if builtin else RulePack()
    for folder in rule_dirs:
        # Correlation rules are resolved inside their own folder, then merged in.
        pack.merge(load_rules(folder))
    return pack


# ---------------------------------------------------------------------------------------------
# Reading files


def _bounded_lines(stream: Any) -> Iterator[tuple[bytes, bool]]:
    """Lines of ``stream`` as bytes, each at most :data:`LINE_BYTES` long, with a flag saying
    the line was longer and cut (its rest is read and dropped in bounded chunks)."""
    readline = stream.readline
    limit = LINE_BYTES
    while True:
        line = readline(limit)
        if not line:
            return
        if len(line) == limit and not line.endswith(b"\n"):
            while True:
                rest = readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line, True
        else:
            yield line, False


def _skipped_member(info: zipfile.ZipInfo) -> bool:
    """Archive entries that are not logs: folders and macOS resource forks (``__MACOSX/``,
    ``._name``), which zips made on a Mac carry beside every file."""
    name = info.filename
    base = name.rsplit("/", 1)[-1]
    return info.is_dir() or name.startswith("__MACOSX/") or "/__MACOSX/" in name \
        or base.startswith("._")


def iter_lines(path: Path,
               position: Callable[[int], None] | None = None
               ) -> Iterator[tuple[str | None, int, bytes, bool]]:
    """Every line of the file at ``path`` as ``(member, line number, bytes, cut)``.

    ``member`` is the file's name inside a zip archive (None otherwise); compressed files are
    recognised by their first bytes, not their name. ``position`` is called now and then with
    the number of bytes of ``path`` read so far (for a progress bar). Raises
    :class:`HuntError` when the file cannot be opened or an archive is corrupt.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise HuntError(f"{path}: {exc.strerror or exc}") from None
    with raw:
        try:
            magic = raw.read(6)
            raw.seek(0)
            # Any binary stream with readline(limit): file, GzipFile, BZ2File, LZMAFile, zip member.
            streams: Iterable[tuple[str | None, Any]]
            if magic.startswith(_ZIP):
                streams = _zip_members(raw)
            elif magic.startswith(_GZIP):
                streams = [(None, gzip.GzipFile(fileobj=raw, mode="rb"))]
            elif magic.startswith(_BZIP2):
                streams = [(None, bz2.BZ2File(raw, "rb"))]
            elif magic.startswith(_XZ):
                streams = [(None, lzma.LZMAFile(raw, "rb"))]
            else:
                streams = [(None, raw)]
            for member, stream in streams:
                lineno = 0
                for line, cut in _bounded_lines(stream):
                    lineno += 1
                    if position is not None and lineno % PROGRESS_EVERY == 0:
                        position(raw.tell())
                    yield member, lineno, line, cut
            if position is not None:
                position(raw.tell())
        except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise HuntError(f"{path}: {exc}") from None


def _zip_members(raw: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """Readers of a zip archive's log members, one at a time, buffered for fast ``readline``."""
    with zipfile.ZipFile(raw) as archive:
        for info in archive.infolist():
            if _skipped_member(info):
                continue
            with archive.open(info) as member:
                yield info.filename, io.BufferedReader(member, 1 << 16)


# ---------------------------------------------------------------------------------------------
# Matching


@dataclass
class HuntStats:
    """What a hunt saw: counts only, so that it stays small whatever the input."""

    files: int = 0
    events: int = 0
    raw_events: int = 0
    cut_lines: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    correlations: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def total_matches(self) -> int:
        """Rule matches reported, all levels."""
        return sum(self.matches.values())


def _rule_fields(rule: Any) -> dict[str, Any]:
    """The attribution a match line carries (same keys for rules and correlations)."""
    return {
        "rule_id": rule.id,
        "title": rule.title,
        "level": rule.level,
        "tags": list(rule.tags),
        "author": rule.author,
        "license": rule.license,
        "rule_source": rule.source,
    }


def _event_time(event: dict[str, Any]) -> dt.datetime | None:
    stamp = event.get("@timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class Hunter:
    """Runs a rule pack (and its correlations) over files and yields one dict per match.

    A rule match: ``{"kind": "rule", rule_id, title, level, tags, author, license, rule_source,
    file, member, line, event}``. A correlation match: ``{"kind": "correlation", rule_id, ...,
    correlation_type, group, count, first, last, rules, file, member, line}`` where the line is
    the one whose event completed it.
    """

    def __init__(self, pack: RulePack, *, min_level: str | None = None) -> None:
        self.pack = pack
        self.min_rank = level_rank(min_level) if min_level else 0
        self.stats = HuntStats()
        self.correlator = _correlator(pack)
        self._last_time: dt.datetime | None = None

    def _keep(self, rule: Any) -> bool:
        return level_rank(rule.level) >= self.min_rank

    def scan(self, path: Path, position: Callable[[int], None] | None = None
             ) -> Iterator[dict[str, Any]]:
        """Matches in the file at ``path``, in file order. Raises :class:`HuntError`."""
        self.stats.files += 1
        try:
            # RFC 3164 lines have no year: the file's modification time is the reference.
            received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except OSError:
            received = None
        yield from self.scan_lines(iter_lines(path, position), name=str(path),
                                   hint=path.name.lower(), received=received)

    def scan_lines(self, lines: Iterable[tuple[str | None, int, bytes, bool]], *, name: str,
                   hint: str | None = None, received: dt.datetime | None = None
                   ) -> Iterator[dict[str, Any]]:
        """Matches in ``lines`` as :func:`iter_lines` gives them (``name`` is the file
        reported); for callers that make their lines themselves (benchmarks, archives)."""
        stats = self.stats
        match = self.pack.match
        correlator = self.correlator
        for member, lineno, data, cut in lines:
            if data.isspace() or not data:
                continue
            event = parse_line(data, hint=hint, received=received)
            stats.events += 1
            if cut:
                stats.cut_lines += 1
                event["event.truncated"] = True
            if event.get("event.dataset") == "raw":
                stats.raw_events += 1
            rules = match(event)
            if not rules:
                continue
            where = {"file": name, "member": member, "line": lineno}
            for rule in rules:
                if getattr(rule, "generates", True) and self._keep(rule):
                    stats.matches[rule.level or "informational"] += 1
                    yield {"kind": "rule", **_rule_fields(rule), **where, "event": event}
            if correlator is not None:
                yield from self._correlate(event, rules, where, received)

    def _correlate(self, event: dict[str, Any], rules: list[CompiledRule],
                   where: dict[str, Any], received: dt.datetime | None
                   ) -> Iterator[dict[str, Any]]:
        # Only matched events can count towards a correlation, so the others are not fed.
        when = _event_time(event) or self._last_time or received or dt.datetime.now(dt.UTC)
        self._last_time = when
        assert self.correlator is not None
        for hit in self.correlator.feed(event, rules, when):
            corr = hit.correlation
            if not self._keep(corr):
                continue
            self.stats.correlations[corr.level or "informational"] += 1
            yield {"kind": "correlation", **_rule_fields(corr), "correlation_type": corr.kind,
                   "rules": list(corr.rule_refs), "group": dict(hit.group), "count": hit.count,
                   "first": hit.first.isoformat(), "last": hit.last.isoformat(), **where}


def _correlator(pack: RulePack) -> InMemoryCorrelator | None:
    """An in-memory correlator over the pack's correlation rules (None when it has none)."""
    return InMemoryCorrelator(pack.correlations) if pack.correlations else None
