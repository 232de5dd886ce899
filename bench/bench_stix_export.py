"""STIX 2.1 export of 1,000 / 5,000 / 10,000 cases: streamed bundle against a naive one.

Generates 10,000 cases holding 100,000 indicators (10 a case, every kind, 10 % of the cases
and of the sightings under TLP:AMBER+STRICT or TLP:RED) with bulk Core inserts in a fresh
SQLite database (generation not measured). Each case's ``updated_at`` grows with its id,
so ``since`` picks the last N cases. Then, in the same run, for N = 1,000, 5,000, 10,000:

* **streaming** — :func:`lakana.csirt.stix_export.write_bundle` to a file: cases read 500
  at a time, their sightings with one IN query per batch, objects written one by one;
* **naive** (the baseline, implemented here) — every case and sighting loaded at once, every
  STIX object built into one Python list, then ``json.dump`` of the whole bundle.

Each export runs once, in a forked process: wall-clock time, and peak resident memory above
the process's at the start (``ru_maxrss`` minus the RSS at fork: the whole process, SQLite
and the JSON encoder included, and no tracing overhead on the time). The smallest bundles
are read back as JSON (same object count both ways). Linux only (``/proc``, ``fork``).
Prints a Markdown table: cases, indicators exported, bundle size, time, peak memory, and the
ratio naive / streaming. Goal: the streaming peak stays flat in the number of cases.
Usage: ``uv run python bench/bench_stix_export.py``.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import lakana.models  # noqa: F401  (every table on the metadata)
from lakana.app import core_plugins, domains, register_all
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.db import Base
from lakana.csirt import stix_export
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.models import Case, CaseObservable, Observable

CASES, PER_CASE = 10_000, 10
SIZES = (1_000, 5_000, 10_000)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KINDS = ("ipv4", "domain", "url", "sha256", "email", "cve", "cidr", "ipv6", "md5", "sha1")
CASE_LABELS = ("amber", "green", "clear", "amber", "green", "amber", "clear", "green",
               "amber", "amber", "amber", "green", "clear", "amber", "green", "amber",
               "clear", "green", "red", "amber+strict")  # 10 % never leave


def _value(kind: str, n: int) -> str:
    """A valid, normalized value of ``kind``, unique for ``n``."""
    a, b, c = n >> 16 & 255, n >> 8 & 255, n & 255
    return {
        "ipv4": f"10.{a}.{b}.{c}", "domain": f"host{n}.evil.ml",
        "url": f"https://phish{n}.evil.ml/login?id={n}", "email": f"user{n}@evil.ml",
        "sha256": hashlib.sha256(str(n).encode()).hexdigest(),
        "md5": hashlib.md5(str(n).encode()).hexdigest(),  # noqa: S324  (an indicator)
        "sha1": hashlib.sha1(str(n).encode()).hexdigest(),  # noqa: S324
        "cve": f"CVE-2025-{10000 + n}", "cidr": f"{100 + a}.{b}.{c}.0/24",
        "ipv6": f"2001:db8::{n:x}",
    }[kind]


def generate(engine: Engine) -> None:
    """10,000 cases, 100,000 shared indicators, 100,000 sightings."""
    Base.metadata.create_all(engine)
    cases, observables, sightings = [], [], []
    for i in range(1, CASES + 1):
        at = START + dt.timedelta(minutes=i)
        cases.append({
            "id": i, "reference": f"INC-2026-{i:05d}", "title": f"Incident {i} : hameçonnage",
            "description": "Courriels d'hameçonnage visant les agents. " * 4,
            "source": "analyst", "status": "investigation", "severity": "high",
            "tlp": CASE_LABELS[i % len(CASE_LABELS)], "taxonomy_class": "fraud",
            "taxonomy_type": "phishing", "reporter_name": "Confidentiel",
            "reported_at": at, "created_at": at, "updated_at": at})
        for j in range(PER_CASE):
            n = (i - 1) * PER_CASE + j + 1
            kind = KINDS[j]
            value = _value(kind, n)
            observables.append({"id": n, "kind": kind, "value": value,
                                "value_hash": hashlib.sha256(value.encode()).hexdigest(),
                                "first_seen": at, "last_seen": at})
            sightings.append({"id": n, "case_id": i, "observable_id": n,
                              "tlp": "red" if n % 10 == 3 else "green", "is_ioc": True,
                              "comment": "interne", "added_by": "bench", "added_at": at})
    with engine.begin() as conn:
        for table, rows in ((Case, cases), (Observable, observables),
                            (CaseObservable, sightings)):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start:start + 5000])


def since_for(size: int) -> dt.datetime:
    """The ``since`` that selects the last ``size`` cases."""
    return START + dt.timedelta(minutes=CASES - size + 1)


def streaming(engine: Engine, actor: Actor, since: dt.datetime, out: Path) -> int:
    """The export under test; returns the number of indicators exported."""
    with Session(engine) as session, out.open("w", encoding="utf-8") as handle:
        return stix_export.write_bundle(session, handle, actor=actor, since=since).observables


def naive(engine: Engine, actor: Actor, since: dt.datetime, out: Path) -> int:
    """The baseline: load everything, build every object in one list, dump it at once."""
    with Session(engine) as session:
        cases = session.scalars(select(Case).where(Case.updated_at >= since)
                                .order_by(Case.id)).all()
        shareable = [c for c in cases if tlp_labels.shareable(c.tlp)]
        rows = session.execute(
            select(CaseObservable.id, CaseObservable.case_id, CaseObservable.tlp,
                   CaseObservable.is_ioc, CaseObservable.added_at, Observable.kind,
                   Observable.value)
            .join(Observable, Observable.id == CaseObservable.observable_id)
            .where(CaseObservable.case_id.in_([c.id for c in shareable]))).all()
        by_case: dict[int, list[stix_export.Sighting]] = {}
        for row in rows:
            by_case.setdefault(row[1], []).append(stix_export.Sighting(*row))
        objects: list[dict[str, Any]] = list(stix_export.preamble())
        exported = 0
        for case in shareable:
            items = by_case.get(case.id, [])
            exported += sum(1 for s in items if tlp_labels.shareable(s.tlp))
            objects.extend(stix_export._objects(case, items))
        with out.open("w", encoding="utf-8") as handle:
            json.dump({"type": "bundle", "id": stix_export.bundle_id(), "objects": objects},
                      handle, ensure_ascii=False)
    return exported


def _rss() -> int:
    """This process's resident memory now, in bytes (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _in_child(engine: Engine, run: Callable[[], int]) -> dict[str, float]:
    """Run ``run`` in a forked process: its time, and its peak resident memory above what
    the process held when it started (``ru_maxrss`` minus the RSS at fork), so that one run
    gives both and no run pays for tracing."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report through the pipe, leave without clean-up
        os.close(read)
        try:
            engine.dispose(close=False)  # connections belong to the parent
            gc.collect()
            base = _rss()
            started = time.perf_counter()
            exported = run()
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
            os.write(write, json.dumps({"seconds": seconds, "peak": peak / 2**20,
                                        "exported": exported}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the measuring process failed")
    result: dict[str, float] = json.loads(data)
    return result


def measure(engine: Engine, tmp: Path) -> list[dict[str, Any]]:
    """Both exports at each size: time, peak memory, bundle size."""
    actor = system_actor("bench")
    results = []
    for size in SIZES:
        since = since_for(size)
        row: dict[str, Any] = {"cases": size}
        for name, export in (("streaming", streaming), ("naive", naive)):
            out = tmp / f"{name}-{size}.json"

            def run(export: Callable[..., int] = export, out: Path = out,
                    since: dt.datetime = since) -> int:
                return export(engine, actor, since, out)

            row[name] = {**_in_child(engine, run), "mb": out.stat().st_size / 2**20}
            if size == SIZES[0]:  # the smallest bundles are read back: valid JSON, same size
                row[name]["objects"] = len(json.loads(out.read_text("utf-8"))["objects"])
            out.unlink()
        assert row["streaming"]["exported"] == row["naive"]["exported"]
        results.append(row)
    return results


def main() -> None:
    """Generate, measure, print the Markdown table."""
    register_all([*core_plugins(), *domains()])
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        engine = create_engine(f"sqlite:///{tmp / 'bench.db'}")
        started = time.perf_counter()
        generate(engine)
        generated = time.perf_counter() - started
        results = measure(engine, tmp)
        engine.dispose()
    first = results[0]
    print(f"\n{CASES:,} cases × {PER_CASE} indicators on SQLite (generation not counted: "
          f"{generated:.1f} s); 10 % of cases and of sightings never leave (AMBER+STRICT/RED)."
          f" {first['cases']:,} cases: {first['streaming']['objects']:,} STIX objects in "
          f"both bundles. Peak = resident memory above the process's at the start of the "
          f"export (ru_maxrss).\n")
    print("| cases | indicators exported | bundle (MB) | streaming time (s) "
          "| naive time (s) | streaming peak (MiB) | naive peak (MiB) | naive / streaming "
          "peak |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        s, n = row["streaming"], row["naive"]
        print(f"| {row['cases']:,} | {s['exported']:,} | {s['mb']:.1f} | "
              f"{s['seconds']:.2f} | {n['seconds']:.2f} | {s['peak']:.1f} | {n['peak']:.1f} | "
              f"{n['peak'] / s['peak']:.1f}× |")


if __name__ == "__main__":
    main()
