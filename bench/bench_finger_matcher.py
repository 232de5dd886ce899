"""Fingerprint matching: Bozorth3 (NBIS) against Lakana's MCC (synthetic — speed and
agreement only).

``LAKANA_BENCH_FINGERS`` synthetic fingers (default 40, seeds 1 to N) are captured twice
(impressions 0 and 1) and extracted by MINDTCT. Measured on one core (``numba`` limited to
one thread, Bozorth3 single-threaded):

* comparisons per second of Bozorth3 (``nbis`` ``compare`` on loaded templates), of MCC 1:1
  (:func:`lakana.biometry.matching.mcc.mcc_score`, one Python call per pair) and of the
  compiled MCC 1:N kernel (:meth:`~lakana.biometry.matching.mcc.FingerIndex.search` of one
  finger over an index of the 2N prints repeated to at least ``GALLERY`` entries, so that
  the per-call cost is the kernel's), and the speed-up over Bozorth3;
* agreement on every pair of impression 0 against impression 1 (N genuine, N(N − 1)
  impostor): Spearman rank correlation of the two matchers' scores, and for each probe whether
  both put the same gallery print at rank 1 (and whether it is the mate);
* genuine and impostor score ranges of both.

The prints are generated, not real fingers: the figures are speed and agreement only, not
accuracy. Usage: ``LAKANA_BENCH_FINGERS=40 uv run python bench/bench_finger_matcher.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one core: before numba is imported

import time  # noqa: E402
from typing import Any  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from lakana.biometry.matching.mcc import (  # noqa: E402
    FingerIndex,
    MccTemplate,
    mcc_from_iso,
    mcc_score,
)
from lakana.biometry.nbis_engine import NbisEngine  # noqa: E402
from lakana.biometry.synthetic import synthetic_finger  # noqa: E402

MIN_SECONDS = 1.5
GALLERY = 1000


def spearman(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(v: NDArray[np.float64]) -> NDArray[np.float64]:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=np.float64)
        for value in np.unique(v):  # ties share their mean rank
            tied = v == value
            r[tied] = r[tied].mean()
        return r
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def rate(function: Any, per_call: int) -> float:
    """Calls of ``function`` per second × ``per_call`` comparisons, over ≥ MIN_SECONDS."""
    function()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < MIN_SECONDS:
        function()
        calls += 1
    return calls * per_call / (time.perf_counter() - started)


def main() -> None:
    count = int(os.environ.get("LAKANA_BENCH_FINGERS", "40"))
    numba.set_num_threads(1)
    engine = NbisEngine()
    started = time.perf_counter()
    iso = {(s, i): engine.finger_from_image(synthetic_finger(s, i), position=2).iso_template
           for s in range(1, count + 1) for i in (0, 1)}
    extracted = time.perf_counter() - started
    loaded = {k: engine.load_template(v) for k, v in iso.items()}
    mcc_from_iso(iso[1, 0])  # load the compiled kernels first: not part of a build
    started = time.perf_counter()
    mcc: dict[tuple[int, int], MccTemplate] = {k: mcc_from_iso(v) for k, v in iso.items()}
    built = (time.perf_counter() - started) / len(iso)
    seeds = list(range(1, count + 1))

    bozorth = np.array([[loaded[s, 0].compare(loaded[t, 1]) for t in seeds] for s in seeds],
                       dtype=np.float64)
    ours = np.array([[mcc_score(mcc[s, 0], mcc[t, 1]) for t in seeds] for s in seeds])
    genuine = np.eye(count, dtype=bool)

    pairs = [(loaded[s, 0], loaded[t, 1]) for s in seeds[:10] for t in seeds[:10]]
    bozorth_rate = rate(lambda: [a.compare(b) for a, b in pairs], len(pairs))
    mcc_pairs = [(mcc[s, 0], mcc[t, 1]) for s in seeds[:10] for t in seeds[:10]]
    one_rate = rate(lambda: [mcc_score(a, b) for a, b in mcc_pairs], len(mcc_pairs))
    gallery = list(mcc.values())
    index = FingerIndex()
    copies = -(-GALLERY // len(gallery))
    for copy in range(copies):
        for number, template in enumerate(gallery):
            index.add(copy * len(gallery) + number, {2: template})
    many_rate = rate(lambda: index.search({2: mcc[1, 0]}, k=50), len(index))

    same_top = int((bozorth.argmax(axis=1) == ours.argmax(axis=1)).sum())
    mate_b = int((bozorth.argmax(axis=1) == np.arange(count)).sum())
    mate_m = int((ours.argmax(axis=1) == np.arange(count)).sum())
    cylinders = np.mean([len(t) for t in gallery])
    print(f"Fingerprint matching, synthetic prints — speed and agreement only: {count} "
          f"fingers × 2 impressions (MINDTCT, {extracted / len(iso) * 1e3:.0f} ms each), "
          f"{count} genuine and {count * (count - 1)} impostor pairs; one core; load average "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| matcher | comparisons/s (one core) | speed-up | genuine scores | "
          "impostor scores | mate at rank 1 |")
    print("|---|---|---|---|---|---|")
    print(f"| Bozorth3 (nbis-py, loaded templates) | {bozorth_rate:,.0f} | 1× | "
          f"{_range(bozorth[genuine])} | {_range(bozorth[~genuine])} | {mate_b}/{count} |")
    print(f"| MCC 1:1 (`mcc_score`, one call per pair) | {one_rate:,.0f} | "
          f"{one_rate / bozorth_rate:,.0f}× | {_range(ours[genuine], 3)} | "
          f"{_range(ours[~genuine], 3)} | {mate_m}/{count} |")
    print(f"| MCC 1:N kernel (`FingerIndex.search`, {len(index):,} templates per call) | "
          f"{many_rate:,.0f} | {many_rate / bozorth_rate:,.0f}× | same | same | same |")
    print(f"\nAgreement: Spearman rank correlation of the {count * count} scores "
          f"{spearman(bozorth.ravel(), ours.ravel()):.3f}; same print at rank 1 for "
          f"{same_top}/{count} probes. MCC template: {built * 1e3:.2f} ms to build, "
          f"{cylinders:.1f} valid cylinders, {np.mean([t.nbytes for t in gallery]):,.0f} "
          "bytes on average.")


def _range(values: NDArray[np.float64], digits: int = 0) -> str:
    return f"{values.min():.{digits}f}–{np.median(values):.{digits}f}–{values.max():.{digits}f}"


if __name__ == "__main__":
    main()
