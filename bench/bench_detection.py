"""Detection engine throughput and memory: parsing alone against parsing plus the rules.

Everything runs on ONE core (``os.sched_setaffinity``), through the path ``lakana detect file``
takes (:func:`~lakana.monitoring.detection.hunt.iter_lines`, ``parse_line``, ``RulePack.match``
and the in-memory correlator of :class:`~lakana.monitoring.detection.hunt.Hunter`; writing the
JSON lines out is left out). In the same run, on the same lines:

* (a) **OpenSSH**: ``--ssh-lines`` (200,000) lines made from ``shared/data/logs/OpenSSH_2k.log``,
  the 2,000 lines replicated with each copy's time shifted by a day and its addresses and
  invalid user names drawn afresh (seeded), written to a temporary file. Parsing alone (the
  baseline) against parsing plus Lakana's shipped rules, correlations included. Best of
  ``--runs`` (3), the two measures alternating. Goal: detection costs < 2x parsing.
* (b) **SigmaHQ Windows rules** (``shared/data/sigma/rules/windows``, with Lakana's own) over
  the real Windows events of ``shared/data/windows-events/*.zip`` read in turn until
  ``--windows-events`` (150,000) events, in a child process (so that its peak RSS is the
  engine's): events/s parsing alone and with the rules, RSS after loading the rules, peak RSS.
* (c) **Memory over ``--events`` (10,000,000) events**: the same Windows events, generated
  lazily (the archives read again and again, host names varied per pass so that the
  correlator sees new groups), through parsing and Lakana's shipped rules and correlations
  (``--flat-rules sigmahq``: the SigmaHQ Windows rules too, ~3x slower), in a child process;
  RSS sampled every ``--sample-every`` (1,000,000) events. Flat when the last sample is
  within 10% of the first. At ~15,000 events/s on a free core this part takes ~11 minutes:
  ``--events 0`` skips it.

The machine may be small and shared: the load average is printed; only comparisons within one
run mean something. Usage: ``uv run python bench/bench_detection.py [--ssh-lines 200000]
[--windows-events 150000] [--events 10000000] [--runs 3] [--parts abc]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lakana.monitoring.detection.hunt import Hunter, build_pack, iter_lines
from lakana.monitoring.detection.parsers import parse_line

ROOT = Path(__file__).resolve().parent.parent
SHARED = next((p / "shared" / "data" for p in (ROOT, ROOT.parent) if (p / "shared").is_dir()),
              ROOT.parent / "shared" / "data")
SSH_LOG = SHARED / "logs" / "OpenSSH_2k.log"
WINDOWS_ZIPS = SHARED / "windows-events"
SIGMA_WINDOWS = SHARED / "sigma" / "rules" / "windows"
GOAL_RATIO = 2.0
FLAT_GROWTH = 0.10

_IPV4 = re.compile(rb"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b")
_INVALID_USER = re.compile(rb"(nvalid user )(\S+)")
_STAMP = re.compile(rb"^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)")
_USERS = [b"admin", b"test", b"oracle", b"postgres", b"ubuntu", b"git", b"user", b"support",
          b"guest", b"pi", b"ftpuser", b"deploy", b"jenkins", b"www", b"mysql", b"backup"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def pin_one_core(core: int | None = None) -> int:
    """Run this process (and its children) on one core (default: the first allowed one);
    that core's number."""
    if core is None:
        core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    return core


def rss_mib() -> float:
    """This process's resident set now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    """This process's peak resident set (ru_maxrss), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- (a) OpenSSH --------------------------------------------------------------------------


def ssh_lines(count: int, seed: int = 6) -> Iterator[bytes]:
    """``count`` OpenSSH lines: the sample replicated, each copy a day later, with fresh
    addresses (one per original address and copy) and invalid user names."""
    base = SSH_LOG.read_bytes().splitlines()
    rng = random.Random(seed)
    start = dt.datetime(2025, 12, 10)
    made = 0
    copy = 0
    while made < count:
        addresses: dict[bytes, bytes] = {}

        def address(m: re.Match[bytes], table: dict[bytes, bytes] = addresses) -> bytes:
            key = m.group(0)
            if key not in table:
                table[key] = b"%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255),
                                              rng.randint(0, 255), rng.randint(1, 254))
            return table[key]

        for line in base:
            if made >= count:
                return
            stamp = _STAMP.match(line)
            if stamp is not None:
                day = int(stamp.group(2))
                when = start.replace(day=day) + dt.timedelta(days=copy)
                line = (f"{_MONTHS[when.month - 1]} {when.day:>2} ".encode()
                        + line[stamp.end(2) + 1:])
            line = _IPV4.sub(address, line)
            if rng.random() < 0.5:
                line = _INVALID_USER.sub(lambda m: m.group(1) + rng.choice(_USERS), line)
            made += 1
            yield line
        copy += 1


def time_parse(path: Path) -> tuple[float, int]:
    """Seconds to read and parse every line of ``path`` (the baseline), and the count."""
    hint = path.name.lower()
    started = time.perf_counter()
    count = 0
    for _member, _no, data, _cut in iter_lines(path):
        parse_line(data, hint=hint)
        count += 1
    return time.perf_counter() - started, count


def time_detect(path: Path, pack: Any) -> tuple[float, int]:
    """Seconds to read, parse and run ``pack`` (with correlations) on ``path``; matches."""
    hunter = Hunter(pack)
    started = time.perf_counter()
    found = sum(1 for _ in hunter.scan(path))
    return time.perf_counter() - started, found


def part_a(lines: int, runs: int) -> list[str]:
    """The OpenSSH rows of the table."""
    pack = build_pack([])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "openssh.log"
        with path.open("wb") as out:
            for line in ssh_lines(lines):
                out.write(line + b"\n")
        parse_best = detect_best = float("inf")
        matches = 0
        for i in range(runs):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    parse_best = min(parse_best, time_parse(path)[0])
                else:
                    spent, matches = time_detect(path, pack)
                    detect_best = min(detect_best, spent)
    ratio = detect_best / parse_best
    status = "PASS" if ratio < GOAL_RATIO else "FAIL"
    rules = f"{len(pack.rules)} rules + {len(pack.correlations)} correlations"
    return [
        f"| (a) OpenSSH, {lines:,} lines | parse only (baseline) | {lines / parse_best:,.0f} "
        f"| 1.00 | - | |",
        f"| (a) OpenSSH, {lines:,} lines | parse + Lakana rules ({rules}); {matches:,} matches "
        f"| {lines / detect_best:,.0f} | {ratio:.2f} | < {GOAL_RATIO:.0f}x | {status} |",
    ]


# --- (b), (c) Windows: child processes -------------------------------------------------------


def windows_lines(count: int | None, vary: bool) -> Iterator[tuple[str | None, int, bytes, bool]]:
    """The Windows events of the shared archives, read in turn (lazily) until ``count``
    (None: one pass); with ``vary``, host names carry the pass number after the first pass."""
    zips = [Path(p) for p in sorted(glob.glob(str(WINDOWS_ZIPS / "*.zip")))]
    if not zips:
        raise SystemExit(f"no Windows events under {WINDOWS_ZIPS}")
    made = 0
    passes = 0
    while count is None or made < count:
        for path in zips:
            for member, no, data, cut in iter_lines(path):
                if vary and passes:
                    data = data.replace(b'"Hostname":"', b'"Hostname":"p%d-' % passes).replace(
                        b'"Hostname": "', b'"Hostname": "p%d-' % passes)
                yield member, no, data, cut
                made += 1
                if count is not None and made >= count:
                    return
        passes += 1
        if count is None:
            return


def child_windows(events: int) -> dict[str, Any]:
    """(b) in this process: events/s parsing alone and with the SigmaHQ rules, RSS."""
    before = rss_mib()
    pack = build_pack([SIGMA_WINDOWS])
    loaded = rss_mib()
    started = time.perf_counter()
    for _member, _no, data, _cut in windows_lines(events, vary=False):
        parse_line(data)
    parse_s = time.perf_counter() - started
    hunter = Hunter(pack)
    started = time.perf_counter()
    found = sum(1 for _ in hunter.scan_lines(windows_lines(events, vary=False), name="windows"))
    detect_s = time.perf_counter() - started
    return {"events": events, "rules": len(pack.rules), "unsupported": len(pack.unsupported),
            "correlations": len(pack.correlations), "parse_s": parse_s, "detect_s": detect_s,
            "matches": found, "rss_start": before, "rss_loaded": loaded, "rss_end": rss_mib(),
            "peak": peak_rss_mib()}


def child_flat(events: int, every: int, rules: str) -> dict[str, Any]:
    """(c) in this process: ``events`` events through parse + rules (``lakana``: Lakana's
    shipped rules and correlations; ``sigmahq``: the SigmaHQ Windows rules too), RSS every
    ``every``."""
    pack = build_pack([SIGMA_WINDOWS] if rules == "sigmahq" else [])
    hunter = Hunter(pack)
    samples: list[tuple[int, float, float]] = []
    started = time.perf_counter()

    def sampled() -> Iterator[tuple[str | None, int, bytes, bool]]:
        # Sampled as the next line is taken: the events before it are done.
        for i, item in enumerate(windows_lines(events, vary=True)):
            if i and i % every == 0:
                samples.append((i, rss_mib(), time.perf_counter() - started))
                print(json.dumps({"sample": samples[-1]}), file=sys.stderr, flush=True)
            yield item
        samples.append((hunter.stats.events, rss_mib(), time.perf_counter() - started))

    matches = sum(1 for _ in hunter.scan_lines(sampled(), name="windows"))
    return {"events": hunter.stats.events, "matches": matches, "samples": samples,
            "peak": peak_rss_mib(), "groups": len(hunter.correlator or ()),
            "rules": len(pack.rules), "correlations": len(pack.correlations)}


def run_child(*args: str) -> dict[str, Any]:
    """Run this file as a child with ``args``; its JSON result."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def part_b(events: int) -> list[str]:
    """The SigmaHQ rows of the table."""
    r = run_child("--child", "windows", "--windows-events", str(events))
    ratio = r["detect_s"] / r["parse_s"]
    rules = f"{r['rules']:,} rules ({r['unsupported']} unsupported)"
    return [
        f"| (b) Windows (OTRF), {events:,} events | parse only (baseline) "
        f"| {events / r['parse_s']:,.0f} | 1.00 | - | |",
        f"| (b) Windows (OTRF), {events:,} events | parse + SigmaHQ Windows + Lakana: {rules}; "
        f"{r['matches']:,} matches; RSS {r['rss_start']:.0f} MiB at start, "
        f"{r['rss_loaded']:.0f} MiB rules loaded, peak {r['peak']:.0f} MiB "
        f"| {events / r['detect_s']:,.0f} | {ratio:.2f} | - | |",
    ]


def part_c(events: int, every: int, rules: str) -> list[str]:
    """The memory table of (c)."""
    r = run_child("--child", "flat", "--events", str(events), "--sample-every", str(every),
                  "--flat-rules", rules)
    samples = r["samples"]
    rows = ["| events | RSS (MiB) | elapsed (s) | events/s so far |", "|---:|---:|---:|---:|"]
    for count, rss, spent in samples:
        rows.append(f"| {count:,} | {rss:.1f} | {spent:.0f} | {count / spent:,.0f} |")
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / first
    status = "PASS" if growth < FLAT_GROWTH else "FAIL"
    rows.append("")
    rows.append(f"(c) {r['events']:,} events, rules: {rules} ({r['rules']:,} rules, "
                f"{r['correlations']} correlations), {r['matches']:,} matches, peak RSS "
                f"{r['peak']:.0f} MiB, correlator groups held at the end: {r['groups']:,}. "
                f"RSS first sample {first:.1f} MiB, last {last:.1f} MiB: growth "
                f"{growth:+.1%} (goal < {FLAT_GROWTH:.0%}): {status}")
    return rows


def main() -> None:
    """Run the parts and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--ssh-lines", type=int, default=200_000)
    parser.add_argument("--windows-events", type=int, default=150_000)
    parser.add_argument("--events", type=int, default=10_000_000,
                        help="events for the memory test (c); 0 skips it")
    parser.add_argument("--sample-every", type=int, default=1_000_000)
    parser.add_argument("--flat-rules", choices=("lakana", "sigmahq"), default="lakana",
                        help="rules of the memory test (c): Lakana's shipped rules and "
                             "correlations (default), or the SigmaHQ Windows rules as well")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", default="abc", help="which parts to run (a, b, c)")
    parser.add_argument("--core", type=int, default=None, help="the core to run on")
    parser.add_argument("--child", choices=("windows", "flat"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    core = pin_one_core(args.core)
    if args.child == "windows":
        print(json.dumps(child_windows(args.windows_events)))
        return
    if args.child == "flat":
        print(json.dumps(child_flat(args.events, args.sample_every, args.flat_rules)))
        return
    print(f"Pinned to core {core}; load average before: {os.getloadavg()}")
    print()
    print("| input | measure | events/s | time / parse only | goal | status |")
    print("|---|---|---:|---:|---|---|")
    if "a" in args.parts:
        for row in part_a(args.ssh_lines, args.runs):
            print(row, flush=True)
    if WINDOWS_ZIPS.is_dir() and SIGMA_WINDOWS.is_dir():
        if "b" in args.parts:
            for row in part_b(args.windows_events):
                print(row, flush=True)
        if args.events > 0 and "c" in args.parts:
            print()
            for row in part_c(args.events, args.sample_every, args.flat_rules):
                print(row, flush=True)
    else:
        print(f"(b), (c) skipped: no {WINDOWS_ZIPS} or {SIGMA_WINDOWS}")
    print()
    print(f"Load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
