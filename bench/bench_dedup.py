"""End-to-end deduplication of one enrollment (face + 10 fingers), synthetic — speed only.

The gallery is ``--persons`` synthetic persons (default 1,000,000) sharded over worker
processes (:class:`ShardedGallery`, 2 by default: one per CPU here). Every person has a
face (a random unit vector) and, in the design, templates for all 10 finger positions;
as in ABIS practice the 1:N **candidate search** index holds only ``--search-fingers``
positions (K, default 2: the right and left index fingers, positions 2 and 7), all 10
being kept in the registry for the **re-scoring** of the short list. Ten positions in
the index would be ~16 GB per million persons, more than this machine's RAM.

Finger templates are real MINDTCT extractions of synthetic prints
(:mod:`lakana.biometry.synthetic`, nbis-py's MINDTCT with NFIQ 2 off, then
:func:`mcc_from_iso`): a pool of ``--pool`` distinct fingers, reused across persons (so
cylinder counts and template sizes are those of real extractions; persons sharing a
finger cannot be told apart by it, which is why this measures speed, not accuracy).
Each probe is the second impression of 10 fingers of its own (not in the pool) and a
noisy copy of a face; its **mate** is a gallery person given the first impressions of
those fingers, so the mate's rank is checked at every stage.

One deduplication, timed stage by stage (p50/p99 over ``--probes`` probes):

1. the probe's K MCC templates (from its ISO records);
2. face search over the whole gallery (timed alone);
3. finger candidate search: K fingers against K positions of every person (timed alone);
4. the dedup search proper: face + K fingers in one fan-out to every shard at once, each
   shard's top k fused (max rule on the engine scale) and merged (k = ``--shortlist``);
5. re-scoring of the short list with Bozorth3 on all 10 fingers (the candidates' ISO
   records as the registry would return them), fused with the face score;
6. insert of the enrollment (face + K fingers).

The dedup total is 1 + 4 + 5. Memory: index bytes and the workers' RSS (current and
peak), per million persons, for K positions, and projected for 10. Then the projection to
23 million persons, from the measured per-comparison costs, on one machine and on N Ray
nodes (formula printed; every figure labelled *measured* or *projected*).

Usage: ``uv run python bench/bench_dedup.py`` (full, a few minutes on 2 CPUs),
``--quick`` (100,000 persons, ≤ 30 s), ``--persons N``, ``--search-fingers K``.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.engine import Probe
from lakana.biometry.matching.mcc import FingerIndex, MccTemplate, mcc_from_iso
from lakana.biometry.matching.shards import ShardCandidate, ShardedGallery, face_engine_score
from lakana.biometry.nbis_engine import NbisEngine

DIM = 128
FINGERS = tuple(range(1, 11))
#: Search positions in order of use: right index, left index, right thumb, left thumb, then
#: the middle fingers (ISO/IEC 19794-2 finger positions).
SEARCH_ORDER = (2, 7, 1, 6, 3, 8, 4, 9, 5, 10)
TARGET = 23_000_000
#: Persons generated and sent to the shards per call (the shards load in parallel).
CHUNK = 131_072
#: The typical server of the projection (and of each Ray node): cores, usable RAM.
SERVER_CORES = 32
SERVER_RAM = 256 * 2**30 * 0.8
#: Pool fingers and probe fingers come from disjoint seed ranges.
PROBE_SEED = 1_000_000


_EXTRACTOR: list[Any] = []


def extract(job: tuple[int, int]) -> bytes:
    """MINDTCT's ISO record of impression ``job[1]`` of synthetic finger ``job[0]``
    (nbis-py with NbisEngine's settings, NFIQ 2 off: only the minutiae are needed)."""
    import nbis

    from lakana.biometry.synthetic import synthetic_finger_image

    if not _EXTRACTOR:  # one per process: making one takes ~0.4 s
        _EXTRACTOR.append(nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
            min_quality=0.0, get_center=False, check_fingerprint=False,
            compute_nfiq2=False, ppi=500.0)))
    png = io.BytesIO()
    synthetic_finger_image(*job).save(png, "PNG")
    return bytes(_EXTRACTOR[0].extract_minutiae(png.getvalue()).to_iso_19794_2_2005())


def extract_all(jobs: list[tuple[int, int]]) -> list[bytes]:
    """ISO records of many impressions, over 2 processes (before the shards start)."""
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(extract, jobs, chunksize=8))


def unit_vectors(count: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """``count`` random unit vectors, normalised in blocks (no big temporary)."""
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    for start in range(0, count, CHUNK):
        block = vectors[start:start + CHUNK]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


@dataclass
class Population:
    """Who holds which finger: person ``p``'s position ``f`` is pool finger
    ``pool_of(p, f)``, except the probes' mates, who hold their own first impressions."""

    pool_iso: list[bytes]
    pool_mcc: list[bytes]
    mates: dict[int, int]                      # person → probe index
    mate_iso: list[dict[int, bytes]]           # probe index → position → ISO record
    mate_mcc: list[dict[int, bytes]]
    search: tuple[int, ...]

    def pool_of(self, person: int, position: int) -> int:
        return (person * 2_654_435_761 + position * 40_503) % len(self.pool_iso)

    def search_fingers(self, person: int) -> dict[int, bytes]:
        """The person's MCC templates of the search positions (what the index holds)."""
        probe = self.mates.get(person)
        if probe is not None:
            return {f: self.mate_mcc[probe][f] for f in self.search}
        return {f: self.pool_mcc[self.pool_of(person, f)] for f in self.search}

    def iso_fingers(self, person: int) -> dict[int, bytes]:
        """The person's 10 ISO records (what the registry returns for re-scoring)."""
        probe = self.mates.get(person)
        if probe is not None:
            return self.mate_iso[probe]
        return {f: self.pool_iso[self.pool_of(person, f)] for f in FINGERS}


@dataclass
class Timings:
    """Seconds per probe, by stage; ranks of the mate (1-based, 0 = not found)."""

    stages: dict[str, list[float]] = field(default_factory=dict)
    ranks: dict[str, list[int]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.stages.setdefault(stage, []).append(seconds)

    def rank(self, stage: str, ids: list[int], mate: int) -> None:
        self.ranks.setdefault(stage, []).append(ids.index(mate) + 1 if mate in ids else 0)

    def p(self, stage: str, q: float) -> float:
        return float(np.percentile(np.array(self.stages[stage]), q))


def chunks(count: int) -> Iterator[NDArray[np.int64]]:
    for start in range(0, count, CHUNK):
        yield np.arange(start, min(count, start + CHUNK), dtype=np.int64)


def proc_status(pid: int | None, key: str) -> int:
    """A memory line of /proc/PID/status in bytes (VmRSS, VmHWM), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--search-fingers", type=int, default=2, choices=range(1, 11),
                        metavar="K", help="finger positions in the candidate search index")
    parser.add_argument("--pool", type=int, default=64, help="distinct pool fingers")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--shortlist", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.persons, args.pool, args.probes = 100_000, 16, 3
    started = time.perf_counter()
    rng = np.random.default_rng(20261123)
    search = SEARCH_ORDER[:args.search_fingers]

    # Fingers: the pool (first impressions of seeds 0…) and the probes (both impressions).
    jobs = [(s, 0) for s in range(args.pool)]
    jobs += [(PROBE_SEED + 10 * i + f, imp) for i in range(args.probes) for f in range(10)
             for imp in (0, 1)]
    records = extract_all(jobs)
    pool_iso = records[:args.pool]
    probe_records = records[args.pool:]
    mate_iso = [{f: probe_records[20 * i + 2 * (f - 1)] for f in FINGERS}
                for i in range(args.probes)]
    probe_iso = [{f: probe_records[20 * i + 2 * (f - 1) + 1] for f in FINGERS}
                 for i in range(args.probes)]
    mates = rng.choice(args.persons, args.probes, replace=False)
    population = Population(
        pool_iso=pool_iso, pool_mcc=[mcc_from_iso(r).to_bytes() for r in pool_iso],
        mates={int(m): i for i, m in enumerate(mates)}, mate_iso=mate_iso,
        mate_mcc=[{f: mcc_from_iso(r).to_bytes() for f, r in fingers.items()}
                  for fingers in mate_iso], search=search)
    cylinders = [len(MccTemplate.from_bytes(t)) for t in population.pool_mcc]
    pooled = time.perf_counter() - started
    core_rate = one_core_rate(population, probe_iso[0])
    engine = NbisEngine()
    engine.load_template(pool_iso[0])  # its MINDTCT/Bozorth3 object is made on first use

    faces = unit_vectors(args.persons, rng)
    timings = Timings()
    with ShardedGallery(args.shards, timeout=600) as gallery:
        # Warm the workers' compiled kernels on a one-person gallery, then empty it.
        gallery.insert(0, faces[0], population.search_fingers(0))
        gallery.search(faces[0], population.search_fingers(0), 1)
        gallery.delete([0])
        base_rss = [proc_status(pid, "VmRSS") for pid in gallery.pids()]
        t0 = time.perf_counter()
        for ids in chunks(args.persons):
            gallery.insert_batch(ids, faces[ids],
                                 [population.search_fingers(p) for p in ids.tolist()])
        built = time.perf_counter() - t0
        index_bytes = sum(gallery.nbytes())
        rss = [proc_status(pid, "VmRSS") for pid in gallery.pids()]
        peak = [proc_status(pid, "VmHWM") for pid in gallery.pids()]

        for i, mate in enumerate(mates.tolist()):
            noise = rng.standard_normal(DIM).astype(np.float32) * np.float32(0.75 / DIM**0.5)
            face = faces[mate] + noise
            face /= np.linalg.norm(face)
            t0 = time.perf_counter()
            fingers = {f: mcc_from_iso(probe_iso[i][f]) for f in search}
            timings.add("probe", time.perf_counter() - t0)
            t0 = time.perf_counter()
            found = gallery.search(face, None, args.shortlist)
            timings.add("face", time.perf_counter() - t0)
            timings.rank("face", [c.reference_id for c in found], mate)
            t0 = time.perf_counter()
            found = gallery.search(None, fingers, args.shortlist)
            timings.add("finger", time.perf_counter() - t0)
            timings.rank("finger", [c.reference_id for c in found], mate)
            t0 = time.perf_counter()
            found = gallery.search(face, fingers, args.shortlist)
            timings.add("fused", time.perf_counter() - t0)
            timings.rank("fused", [c.reference_id for c in found], mate)
            t0 = time.perf_counter()
            rescored = rescore(engine, probe_iso[i], found, population)
            timings.add("rescore", time.perf_counter() - t0)
            timings.rank("rescore", rescored, mate)
            timings.add("total", sum(timings.stages[s][-1] for s in ("probe", "fused",
                                                                     "rescore")))
            t0 = time.perf_counter()
            gallery.insert(args.persons + i, face, fingers)
            timings.add("insert", time.perf_counter() - t0)
        gallery.delete(np.arange(args.persons, args.persons + args.probes))
    elapsed = time.perf_counter() - started
    Report(args, search, cylinders, pooled, built, elapsed, index_bytes, base_rss, rss, peak,
           core_rate, timings).print()


def one_core_rate(population: Population, probe: dict[int, bytes],
                  templates: int = 65_536) -> float:
    """MCC comparisons per second of one process alone (the workers idle): the per-core
    rate of the projection to servers with real cores."""
    index = FingerIndex()
    for person in range(templates):
        index.add(person, {2: MccTemplate.from_bytes(population.pool_mcc[
            population.pool_of(person, 2)])})
    template = {2: mcc_from_iso(probe[2])}
    index.search(template, 1)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        index.search(template, 50)
        runs.append(time.perf_counter() - t0)
    return templates / min(runs)


def rescore(engine: NbisEngine, probe: dict[int, bytes], found: list[ShardCandidate],
            population: Population) -> list[int]:
    """The short list re-ranked: Bozorth3 on all 10 fingers (engine.compare, the best
    finger) fused with the face by the max rule; reference ids, best first."""
    scored: list[tuple[float, int]] = []
    for candidate in found:
        fingers = engine.compare(Probe(fingers=probe),
                                 Probe(fingers=population.iso_fingers(candidate.reference_id)))
        face = (face_engine_score(candidate.face_similarity)
                if candidate.face_similarity is not None else 0.0)
        scored.append((-max(fingers.score, face), candidate.reference_id))
    return [reference_id for _, reference_id in sorted(scored)]


@dataclass
class Report:
    args: argparse.Namespace
    search: tuple[int, ...]
    cylinders: list[int]
    pooled: float
    built: float
    elapsed: float
    index_bytes: int
    base_rss: list[int]
    rss: list[int]
    peak: list[int]
    core_rate: float
    t: Timings

    def print(self) -> None:
        a, t, n, k = self.args, self.t, self.args.persons, len(self.search)
        print(f"Deduplication of one enrollment (face + 10 fingers), synthetic — speed only: "
              f"{n:,} persons over {a.shards} worker processes ({os.cpu_count()} CPUs), "
              f"candidate search on K = {k} finger positions {list(self.search)} + face, "
              f"short list {a.shortlist} re-scored with Bozorth3 on 10 fingers; pool of "
              f"{a.pool} MINDTCT fingers ({min(self.cylinders)}–{max(self.cylinders)} "
              f"cylinders), {a.probes} probes; pool {self.pooled:.0f} s, gallery built in "
              f"{self.built:.0f} s, whole run {self.elapsed:.0f} s, load average "
              f"{os.getloadavg()[0]:.2f}.\n")
        print(f"| stage (measured, synthetic — speed only) | p50 | p99 | mate rank "
              f"(of {a.shortlist}) |")
        print("|---|---|---|---|")
        rows = [("probe", f"1. probe's {k} MCC templates (from ISO)"),
                ("face", f"2. face search over {n:,} (alone)"),
                ("finger", f"3. finger candidate search, {k} × {n:,} MCC comparisons (alone)"),
                ("fused", f"4. dedup search: face + {k} fingers, fused and merged"),
                ("rescore", f"5. Bozorth3 re-scoring, {a.shortlist} × 10 fingers"),
                ("total", "**dedup total (1 + 4 + 5)**"),
                ("insert", f"6. insert of the enrollment (face + {k} fingers)")]
        for stage, label in rows:
            ranks = t.ranks.get(stage)
            rank = "—" if ranks is None else ", ".join(str(r) if r else "missed"
                                                        for r in ranks)
            print(f"| {label} | {ms(t.p(stage, 50))} | {ms(t.p(stage, 99))} | {rank} |")

        workers = a.shards
        face_cost = t.p("face", 50) * workers / n              # worker-s per person
        mcc_here = t.p("finger", 50) * workers / (n * k)       # worker-s per MCC comparison
        mcc_core = 1.0 / self.core_rate                        # s per comparison, one core
        boz_cost = t.p("rescore", 50) / (a.shortlist * 10)     # s per Bozorth3 comparison
        fixed = t.p("probe", 50) + t.p("rescore", 50)          # independent of N
        face_bytes = n * (4 * DIM + 8)                         # FaceIndex: vectors + ids
        id_bytes = n * 8                                       # the shard's id list
        finger_bytes = self.index_bytes - face_bytes - id_bytes
        per_template = finger_bytes / (n * k)
        slower = ("" if mcc_here < 1.25 * mcc_core else
                  f": the {workers} workers were slowed down, by each other on this VM's "
                  f"vCPUs or by other processes")
        print(f"\nMeasured costs: face {face_cost * 1e9:.1f} ns per person per worker; MCC "
              f"{mcc_here * 1e6:.2f} µs per comparison per worker in the sharded search "
              f"({1 / mcc_here:,.0f}/s per worker, {workers / mcc_here:,.0f}/s for the "
              f"{workers} together) and {mcc_core * 1e6:.2f} µs in one process alone "
              f"({self.core_rate:,.0f}/s{slower}); Bozorth3 {boz_cost * 1e3:.2f} ms per comparison "
              f"(parsing included); fixed per dedup (probe templates + re-scoring) "
              f"{fixed * 1e3:,.0f} ms.\n")
        mb = 1e6 / n
        print("| memory | value | per million persons |")
        print("|---|---|---|")
        print(f"| index, total (measured) | {gib(self.index_bytes)} | "
              f"{gib(self.index_bytes * mb)} |")
        print(f"| face index (derived: {4 * DIM + 8} B per person) | {gib(face_bytes)} | "
              f"{gib(face_bytes * mb)} |")
        print(f"| finger index, K = {k} (measured; {per_template:,.0f} B per template) | "
              f"{gib(finger_bytes)} | {gib(finger_bytes * mb)} |")
        print(f"| finger index, K = 10 (projected) | — | "
              f"{gib(per_template * 10 * 1e6)} |")
        print(f"| workers' RSS before loading (measured) | {gib(sum(self.base_rss))} | — |")
        print(f"| workers' RSS loaded (measured) | {gib(sum(self.rss))} | "
              f"{gib((sum(self.rss) - sum(self.base_rss)) * mb)} (above the empty workers) |")
        print(f"| workers' peak RSS while loading (measured, VmHWM) | {gib(sum(self.peak))} | "
              f"— |")

        person_bytes = (face_bytes + id_bytes) / n
        print(f"\nProjection (exact search is linear in the gallery): latency(N, C cores) ≈ "
              f"N × (face + K × MCC) / C + fixed {fixed * 1e3:,.0f} ms, with face "
              f"{face_cost * 1e9:.1f} ns and MCC {mcc_here * 1e6:.2f} µs per worker as "
              f"measured here for this machine, MCC {mcc_core * 1e6:.2f} µs (one core alone) "
              f"for servers of real cores; memory(N) ≈ N × ({person_bytes:,.0f} + K × "
              f"{per_template:,.0f}) B; dedups/hour ≈ 3600 × C / (N × (face + K × MCC)) "
              f"(the fixed part runs on the front end). Servers and Ray nodes: "
              f"{SERVER_CORES} cores as fast as one here, {gib(SERVER_RAM)} usable RAM; Ray "
              "fan-out, merge and network not included. All projected.\n")
        print("| projected, 23 million persons | K | RAM per node | dedup latency | "
              "dedups/hour |")
        print("|---|---|---|---|---|")
        for kk in sorted({k, 10}):
            memory = TARGET * (person_bytes + kk * per_template)
            needed = max(1, math.ceil(memory / SERVER_RAM))
            setups = [(f"this machine ({workers} workers, 23 GB)", 1, workers, mcc_here,
                       23 * 10**9 * 0.8),
                      (f"one server ({SERVER_CORES} cores, 256 GB)", 1, SERVER_CORES,
                       mcc_core, SERVER_RAM)]
            setups += [(f"Ray, {nodes} nodes × {SERVER_CORES} cores", nodes,
                        nodes * SERVER_CORES, mcc_core, SERVER_RAM)
                       for nodes in sorted({needed, 4, 16} - {1})]
            for name, nodes, cores, mcc_cost, ram in setups:
                work = TARGET * (face_cost + kk * mcc_cost)      # CPU-s per dedup
                fits = "" if memory / nodes <= ram else " (does not fit)"
                print(f"| {name} | {kk} | {gib(memory / nodes)}{fits} | "
                      f"{work / cores + fixed:,.1f} s | {3600 * cores / work:,.0f} |")
        campaign = TARGET**2 / 2 * (face_cost + k * mcc_core)
        print(f"\nEnrolling all 23 million with each deduplicated against those before "
              f"(K = {k}): ≈ N²/2 × (face + K × MCC) = {campaign / 3.156e7:,.0f} CPU-years "
              f"of exhaustive search, i.e. {campaign / 86400 / (16 * SERVER_CORES):,.0f} days "
              f"on 16 nodes × {SERVER_CORES} cores (projected).")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms"


def gib(value: float) -> str:
    return f"{value / 2**30:,.2f} GiB"


if __name__ == "__main__":
    main()
