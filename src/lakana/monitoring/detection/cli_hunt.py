"""``lakana detect file``: run the detection rules over log files, no server, no database.

One JSON object per match on standard output (or ``--output``), a progress bar on standard
error when it is a terminal, and a summary there at the end. Exit status: 2 for a usage error
(unknown level, a rules folder or an input file that does not exist or cannot be read), 0
otherwise, matches or not.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from lakana.core import i18n
from lakana.core.cli_support import fail
from lakana.monitoring.detection.hunt import LEVELS, Hunter, HuntError, build_pack

detect_app = typer.Typer(no_args_is_help=True,
                         help="Hunt in log files with the detection rules (no database).")


@detect_app.callback()
def _group() -> None:
    """Hunt in log files with the detection rules, without a server or a database."""


def _t(message: str, **params: object) -> str:
    with i18n.use_language("en"):
        return i18n.gettext(message, **params)


def _readable(path: Path, folder: bool) -> str | None:
    """Why ``path`` cannot be used (None when it can): a log file, or (``folder``) a rules
    folder or file."""
    if not path.exists():
        return _t("%(path)s: no such file or folder.", path=str(path))
    if not folder and path.is_dir():
        return _t("%(path)s: is a folder, not a log file.", path=str(path))
    try:
        if path.is_dir():
            next(iter(path.iterdir()), None)
        else:
            with path.open("rb"):
                pass
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


@contextmanager
def _progress(files: list[Path]) -> Iterator[Any]:
    """A rich progress bar over the bytes of ``files`` on a terminal; a no-op otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TextColumn("{task.fields[events]} events"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield bar


def _write(out: IO[str], record: dict[str, Any]) -> None:
    text = json.dumps(record, ensure_ascii=False, default=str)
    # Events from JSON input may hold lone surrogates ("\ud800"): replace them, not crash.
    out.write(text.encode("utf-8", "replace").decode("utf-8"))
    out.write("\n")


def _summary(hunter: Hunter, seconds: float) -> str:
    stats = hunter.stats
    by_level = ", ".join(f"{level} {stats.matches[level]}" for level in reversed(LEVELS)
                         if stats.matches[level]) or "-"
    rate = int(stats.events / seconds) if seconds > 0 else stats.events
    return _t("%(files)s file(s), %(events)s events (%(raw)s not recognised, %(cut)s lines cut); "
              "%(matches)s matches (%(levels)s), %(correlations)s correlation matches; "
              "%(loaded)s rules, %(unsupported)s unsupported; %(seconds)s s, %(rate)s events/s.",
              files=stats.files, events=stats.events, raw=stats.raw_events, cut=stats.cut_lines,
              matches=stats.total_matches, levels=by_level,
              correlations=sum(stats.correlations.values()), loaded=len(hunter.pack.rules),
              unsupported=len(hunter.pack.unsupported), seconds=f"{seconds:.1f}", rate=rate)


@detect_app.command("file")
def detect_file(
    files: Annotated[list[Path], typer.Argument(
        help="Log files: JSON lines (Windows events), syslog, access logs; plain, .gz, .bz2, "
             ".xz or .zip.", show_default=False, metavar="FILE")],
    rules_dirs: Annotated[list[Path] | None, typer.Option(
        "--rules", metavar="DIR", help="A folder (or file) of Sigma rules; may be repeated.")
    ] = None,
    min_level: Annotated[str | None, typer.Option(
        metavar="LEVEL",
        help="Report only matches of this level or above: " + ", ".join(LEVELS) + ".")] = None,
    no_builtin: Annotated[bool, typer.Option(
        "--no-builtin", help="Leave out Lakana's own rules.")] = False,
    output: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Write the JSON lines to this file instead of standard output.")
    ] = None,
) -> None:
    """Run the detection rules over log files and print one JSON line per match."""
    folders = list(rules_dirs or [])
    if min_level is not None and min_level not in LEVELS:
        fail(_t("Unknown level %(level)s (one of: %(levels)s).", level=min_level,
                levels=", ".join(LEVELS)), 2)
    if no_builtin and not folders:
        fail(_t("No rules: give --rules or leave out --no-builtin."), 2)
    for problem in [_readable(f, folder=True) for f in folders] + \
            [_readable(f, folder=False) for f in files]:
        if problem:
            fail(problem, 2)
    pack = build_pack(folders, builtin=not no_builtin)
    hunter = Hunter(pack, min_level=min_level)
    started = time.monotonic()
    try:
        out: IO[str] = (output.open("w", encoding="utf-8") if output is not None
                        else sys.stdout)
    except OSError as exc:
        fail(f"{output}: {exc.strerror or exc}", 2)
    failed = False
    try:
        with _progress(files) as bar:
            for path in files:
                failed |= not _scan_one(hunter, path, out, bar)
        out.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as grep does. Python would
        # complain again flushing stdout at exit, so it is pointed at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    finally:
        if output is not None:
            out.close()
    typer.echo(_summary(hunter, time.monotonic() - started), err=True)
    if failed:
        raise typer.Exit(2)


def _scan_one(hunter: Hunter, path: Path, out: IO[str], bar: Any) -> bool:
    """Scan one file into ``out``; False (and a message) when it could not be read to the end."""
    task = None
    start = hunter.stats.events
    if bar is not None:
        label = path.name if len(path.name) <= 32 else path.name[:31] + "…"
        task = bar.add_task(label, total=path.stat().st_size, events=0)

    def position(done: int) -> None:
        bar.update(task, completed=done, events=hunter.stats.events - start)

    try:
        for record in hunter.scan(path, position if bar is not None else None):
            _write(out, record)
    except HuntError as exc:
        typer.echo(f"lakana: {exc}", err=True)
        return False
    return True
