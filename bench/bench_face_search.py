"""Face 1:N: exact search over N enrolled face embeddings (synthetic — speed only).

The gallery is N random unit vectors of 128 dimensions (``LAKANA_BENCH_FACES``, default
1,000,000: 512 MB of float32); each query is a gallery vector plus noise (its "mate", at a
cosine similarity of about 0.8, while the best of a million random vectors is about 0.45), so
mate recall at rank 1 must be 100 %. Measured in one run on this machine:

* **Lakana** (:class:`lakana.biometry.matching.search.FaceIndex`): float32 matrix products
  over blocks of the gallery, top 10 by ``argpartition``; one query at a time (p50, p99)
  and batches of 256 queries (queries/s).
* **Reference**: exact FAISS ``IndexFlatIP`` (the physical reference: a full scan of the
  gallery in optimised BLAS), and a naive NumPy full scan (a float64 copy of the gallery, one
  matrix-vector product and a full ``argsort`` per query) to show what the naive way costs.

The vectors are random, not faces: the figures are speed only, not accuracy. Usage:
``LAKANA_BENCH_FACES=1000000 uv run python bench/bench_face_search.py``.
"""

from __future__ import annotations

import os
import time

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.matching.search import FaceIndex

DIM = 128
K = 10
SINGLE_QUERIES = 50
BATCH = 256
BATCHES = 4


def gallery(count: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """``count`` random unit vectors (float32), normalised in blocks (no big temporary)."""
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    for start in range(0, count, 131_072):
        block = vectors[start:start + 131_072]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return vectors


def mates(vectors: NDArray[np.float32], rows: NDArray[np.int64],
          rng: np.random.Generator) -> NDArray[np.float32]:
    """Noisy copies of ``vectors[rows]`` (cosine ≈ 0.8 with their mate), normalised."""
    noise = rng.standard_normal((rows.size, DIM), dtype=np.float32) * np.float32(
        0.75 / np.sqrt(DIM))
    queries = vectors[rows] + noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    count = int(os.environ.get("LAKANA_BENCH_FACES", "1000000"))
    rng = np.random.default_rng(20261120)
    started = time.perf_counter()
    vectors = gallery(count, rng)
    index = FaceIndex(DIM)
    index.add(np.arange(count, dtype=np.int64), vectors)
    built = time.perf_counter() - started
    rows = rng.choice(count, size=SINGLE_QUERIES + BATCH * BATCHES, replace=False)
    queries = mates(vectors, rows, rng)
    hits = 0
    mate_similarity: list[float] = []

    single: list[float] = []
    for i in range(SINGLE_QUERIES):
        t0 = time.perf_counter()
        result = index.search(queries[i], K)[0]
        single.append(time.perf_counter() - t0)
        hits += result[0][0] == rows[i]
        mate_similarity.append(result[0][1])
    t0 = time.perf_counter()
    for b in range(BATCHES):
        start = SINGLE_QUERIES + b * BATCH
        results = index.search(queries[start:start + BATCH], K)
        hits += sum(r[0][0] == rows[start + j] for j, r in enumerate(results))
    batched = time.perf_counter() - t0
    total = SINGLE_QUERIES + BATCH * BATCHES

    references = _references(vectors, queries, rows)
    print(f"Face 1:N exact search, synthetic — speed only: N = {count:,} × {DIM} float32 "
          f"({index.nbytes / 2**20:.0f} MiB), k = {K}, load average "
          f"{os.getloadavg()[0]:.2f}, built in {built:.1f} s\n")
    print("| search | one query p50 | one query p99 | queries/s (batches of 256) | "
          "mate at rank 1 |")
    print("|---|---|---|---|---|")
    print(f"| Lakana FaceIndex (NumPy float32, argpartition) | {percentile(single, 50) * 1e3:.1f}"
          f" ms | {percentile(single, 99) * 1e3:.1f} ms | {BATCH * BATCHES / batched:,.0f} | "
          f"{hits}/{total} ({100 * hits / total:.1f} %) |")
    for name, ref_single, ref_qps, ref_hits, ref_total in references:
        print(f"| {name} | {percentile(ref_single, 50) * 1e3:.1f} ms | "
              f"{percentile(ref_single, 99) * 1e3:.1f} ms | {ref_qps} | "
              f"{ref_hits}/{ref_total} ({100 * ref_hits / ref_total:.1f} %) |")
    print(f"\nMate cosine similarity: min {min(mate_similarity):.3f}, median "
          f"{percentile(mate_similarity, 50):.3f}. Memory: {index.nbytes / count * 1e6 / 2**30:.2f}"
          " GiB per million faces (vectors and ids).")


def _references(vectors: NDArray[np.float32], queries: NDArray[np.float32],
                rows: NDArray[np.int64]) -> list[tuple[str, list[float], str, int, int]]:
    """The physical reference (FAISS IndexFlatIP) and a naive float64 scan, measured on the
    same queries as the index."""
    import faiss

    found_rows: list[tuple[str, list[float], str, int, int]] = []
    single: list[float] = []
    hits = 0
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    for i in range(SINGLE_QUERIES):
        t0 = time.perf_counter()
        _, found = flat.search(queries[i:i + 1], K)
        single.append(time.perf_counter() - t0)
        hits += int(found[0][0] == rows[i])
    t0 = time.perf_counter()
    _, found = flat.search(queries[SINGLE_QUERIES:], K)
    qps = f"{(queries.shape[0] - SINGLE_QUERIES) / (time.perf_counter() - t0):,.0f}"
    hits += int((found[:, 0] == rows[SINGLE_QUERIES:]).sum())
    found_rows.append(("FAISS IndexFlatIP (exact, faiss-cpu)", single, qps, hits,
                       queries.shape[0]))
    del flat
    wide = vectors.astype(np.float64)
    naive = 20
    single, hits = [], 0
    for i in range(naive):
        t0 = time.perf_counter()
        scores = wide @ queries[i].astype(np.float64)
        order = np.argsort(-scores)[:K]
        single.append(time.perf_counter() - t0)
        hits += int(order[0] == rows[i])
    found_rows.append(("naive NumPy float64 full scan + argsort", single,
                       f"{naive / sum(single):,.1f} (one at a time)", hits, naive))
    return found_rows


if __name__ == "__main__":
    main()
