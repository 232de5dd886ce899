"""End-to-end deduplication of one enrollment (face + 10 fingers), synthetic — speed only.

The gallery is sharded over worker processes (:class:`ShardedGallery`, 2 by default: one
per CPU here). What is measured, in one run:

* **Faces**: ``--persons`` random unit vectors (default 1,000,000), every person has one.
  Face-only search latency (p50/p99) over the whole gallery.
* **Fingers**: full MCC templates of 10 fingers for a million persons are ~24 GB, more than
  this machine's RAM, and exhaustive MCC 1:N takes minutes per probe at that size on 2
  CPUs. So only the first ``--finger-persons`` persons (default 10,000) get 10 fingers,
  drawn from a pool of ``--pool`` distinct synthetic templates (random minutiae, not
  prints) reused across persons: enough to time the scoring and weigh the templates, not
  to measure accuracy (persons share templates, so fingers cannot tell them apart).
* **Deduplication** of one enrollment: search with a face and 10 fingers (p50/p99), then
  insert the person (p50/p99): the real path of a deduplication job.
* **Memory**: index bytes per shard and the workers' RSS, per million persons.

Then the projection to 23 million persons, on one machine and on N Ray nodes: exact search
is linear in the gallery, so ``latency(N) ≈ N × (face cost + 10 × finger cost per person)
/ cores`` plus a constant, and memory ``N × bytes per person / nodes``. Every figure is
labelled *measured* or *projected*. Usage: ``uv run python bench/bench_dedup.py`` (full,
< 10 min on 2 CPUs), ``--quick`` (100,000 persons, 2,000 with fingers), ``--persons N``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.matching.mcc import MccTemplate, mcc_template
from lakana.biometry.matching.minutiae import Minutiae
from lakana.biometry.matching.shards import ShardedGallery

DIM = 128
K = 50
FINGERS = 10
TARGET = 23_000_000
#: Bytes of RAM per Ray node assumed in the projection (a common 256 GB server, 80 % used).
NODE_RAM = 256 * 2**30 * 0.8
NODE_CORES = 32


def unit_vectors(count: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """``count`` random unit vectors, normalised in blocks (no big temporary)."""
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    for start in range(0, count, 131_072):
        block = vectors[start:start + 131_072]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


def random_template(rng: np.random.Generator, count: int = 40) -> MccTemplate:
    """The MCC template of ``count`` random minutiae (about a real print's count)."""
    return mcc_template(Minutiae(
        x=rng.uniform(60, 340, count).astype(np.float32),
        y=rng.uniform(60, 440, count).astype(np.float32),
        angle=rng.uniform(0, 2 * np.pi, count).astype(np.float32),
        quality=np.full(count, 60, np.uint8), width=400, height=500, position=1))


def ms(values: list[float], q: float) -> str:
    """A percentile of durations (s) in milliseconds."""
    return f"{np.percentile(np.array(values), q) * 1e3:,.0f} ms"


def gib(value: float) -> str:
    """Bytes in GiB."""
    return f"{value / 2**30:,.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--finger-persons", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--probes", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.persons, args.finger_persons, args.pool, args.probes = 100_000, 2_000, 50, 6
    persons, finger_persons = args.persons, min(args.finger_persons, args.persons)
    rng = np.random.default_rng(20261123)

    started = time.perf_counter()
    pool = [random_template(rng).to_bytes() for _ in range(args.pool)]
    faces = unit_vectors(persons, rng)
    with ShardedGallery(args.shards, timeout=600) as gallery:
        gallery.insert_batch(np.arange(persons), faces)
        face_only_rss = sum(gallery.rss())
        face_bytes = sum(gallery.nbytes())
        prints = [{f + 1: pool[(7 * p + 13 * f) % args.pool] for f in range(FINGERS)}
                  for p in range(finger_persons)]
        gallery.insert_batch(np.arange(finger_persons), faces[:finger_persons], prints)
        built = time.perf_counter() - started
        total_bytes = sum(gallery.nbytes())
        finger_bytes_per_person = (total_bytes - face_bytes) / max(finger_persons, 1)
        rss = gallery.rss()

        # Face-only search, then a full deduplication (search + insert) per enrollment.
        face_times, dedup_times, insert_times, hits = [], [], [], 0
        gallery.search(faces[0], prints[0], K)  # compile and warm the finger kernels
        for i in range(args.probes):
            mate = int(rng.integers(finger_persons))
            noise = rng.standard_normal(DIM).astype(np.float32) * np.float32(0.75 / DIM**0.5)
            probe = faces[mate] + noise
            t0 = time.perf_counter()
            gallery.search(probe, None, K)
            face_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            found = gallery.search(probe, prints[mate], K)
            dedup_times.append(time.perf_counter() - t0)
            hits += mate in {c.reference_id for c in found}
            t0 = time.perf_counter()
            gallery.insert(persons + i, unit_vectors(1, rng)[0], prints[mate])
            insert_times.append(time.perf_counter() - t0)
        gallery.delete(np.arange(persons, persons + args.probes))
    elapsed = time.perf_counter() - started
    _report(args, persons, finger_persons, built, elapsed, face_bytes, total_bytes,
            finger_bytes_per_person, face_only_rss, rss, face_times, dedup_times,
            insert_times, hits)


def _report(args: argparse.Namespace, persons: int, finger_persons: int, built: float,
            elapsed: float, face_bytes: int, total_bytes: int, finger_bytes_per_person: float,
            face_only_rss: int, rss: list[int], face_times: list[float],
            dedup_times: list[float], insert_times: list[float], hits: int) -> None:
    cores = args.shards
    face_per_person = float(np.median(face_times)) / persons          # s per person
    finger_part = max(float(np.median(dedup_times)) - float(np.median(face_times)), 0.0)
    finger_per_person = finger_part / max(finger_persons, 1)         # s per person, 10 fingers
    face_bpp = face_bytes / persons
    print(f"Deduplication of one enrollment (face + {FINGERS} fingers), synthetic — speed "
          f"only: {persons:,} persons sharded over {args.shards} worker processes, "
          f"{finger_persons:,} of them with {FINGERS} fingers from a pool of {args.pool} "
          f"templates, k = {K}, {args.probes} probes, load average {os.getloadavg()[0]:.2f}, "
          f"built in {built:.0f} s, run {elapsed:.0f} s.\n")
    print("| measured (synthetic — speed only) | p50 | p99 |")
    print("|---|---|---|")
    print(f"| face search over {persons:,} | {ms(face_times, 50)} | {ms(face_times, 99)} |")
    print(f"| dedup search: face over {persons:,} + {FINGERS} fingers over {finger_persons:,}"
          f" | {ms(dedup_times, 50)} | {ms(dedup_times, 99)} |")
    print(f"| insert of the enrollment (face + {FINGERS} fingers) | {ms(insert_times, 50)} | "
          f"{ms(insert_times, 99)} |")
    print(f"\nMate among the top {K}: {hits}/{args.probes} (not rank 1: finger templates are "
          f"shared by every {args.pool}th person, who tie with the mate).\n")
    print("| memory | value | per million persons |")
    print("|---|---|---|")
    print(f"| face index (measured) | {gib(face_bytes)} | {gib(face_bpp * 1e6)} |")
    print(f"| finger index, {FINGERS} fingers (measured on {finger_persons:,} persons) | "
          f"{gib(total_bytes - face_bytes)} | {gib(finger_bytes_per_person * 1e6)} "
          "(projected) |")
    print(f"| workers' RSS, faces only (measured) | {gib(face_only_rss)} | "
          f"{gib(face_only_rss / persons * 1e6)} |")
    print(f"| workers' RSS, with fingers (measured) | {gib(sum(rss))} | — |")
    per_person = face_bpp + finger_bytes_per_person
    print(f"\nProjection (exact search is linear in the gallery): latency(N) ≈ N × (face "
          f"{face_per_person * 1e9:.1f} ns + fingers {finger_per_person * 1e6:.1f} µs per "
          f"person, measured here on {cores} cores) × {cores} / total cores; memory(N) ≈ "
          f"N × {per_person / 1e3:,.1f} kB per person / nodes. Ray nodes assumed: "
          f"{NODE_CORES} cores, {gib(NODE_RAM)} usable RAM; merge and network overhead "
          "not included.\n")
    print("| projected, 23 million persons | nodes | face search | face + 10 fingers | "
          "memory per node |")
    print("|---|---|---|---|---|")
    one_machine = (TARGET * face_per_person, TARGET * (face_per_person + finger_per_person))
    print(f"| this machine ({cores} cores, 23 GB) | 1 | {one_machine[0]:,.1f} s | "
          f"{one_machine[1]:,.0f} s | {gib(TARGET * per_person)} (faces alone "
          f"{gib(TARGET * face_bpp)}) |")
    nodes_needed = max(1, int(np.ceil(TARGET * per_person / NODE_RAM)))
    for nodes in sorted({nodes_needed, 2 * nodes_needed, 4 * nodes_needed}):
        scale = cores / (nodes * NODE_CORES)
        print(f"| Ray, {NODE_CORES} cores each | {nodes} | "
              f"{one_machine[0] * scale * 1e3:,.0f} ms | {one_machine[1] * scale:,.1f} s | "
              f"{gib(TARGET * per_person / nodes)} |")


if __name__ == "__main__":
    main()
