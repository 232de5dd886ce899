"""The match threshold for a target false-positive identification rate (FPIR).

A 1:N search against a gallery of ``N`` references makes ``N`` comparisons; if they are
independent, one non-mated search returns a false candidate with probability
``FPIR(N) = 1 - (1 - FMR)^N``. Holding FPIR at a target as the registry grows therefore
needs a per-comparison false match rate of ``1 - (1 - FPIR)^(1/N)`` (about ``FPIR / N``),
and the threshold is read off a *measured* impostor score distribution: the smallest
observed score whose empirical tail (the share of impostor scores at or above it) is at
most that FMR.

The distribution is stored as a calibration file (JSON: engine, modality, the scores as a
sorted sample or a histogram, source ``synthetic`` or ``real``, date), written by
``lakana biometry matching calibrate``. A sample of ``n`` impostor scores cannot show an
FMR below ``1/n``: when the target is below that, the choice is extrapolated (the largest
observed score plus a margin) and says so; ``3/FMR`` scores would be needed for the
"rule of three" 95 % bound.

Independence is an approximation (scores of one probe against many references are
correlated, and a real gallery holds more similar people than a random sample), so the
measured FPIR of :mod:`lakana.biometry.matching.evaluation` is the check, not this formula.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Calibration files this module writes and reads.
CALIBRATION_FORMAT = "lakana-impostor-scores/1"
SOURCES = ("synthetic", "real")


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and how it was chosen.

    ``fmr_target`` is the per-comparison FMR the FPIR target needs; ``resolvable`` says
    whether the impostor sample is large enough to show it (else ``extrapolated``: the
    largest observed score plus a margin); ``floored`` that the engine's own threshold was
    higher and was kept; ``source`` where the scores came from (``synthetic``, ``real`` or
    ``none`` when no scores were given)."""

    threshold: float
    fmr_target: float
    resolvable: bool
    source: str
    extrapolated: bool = False
    floored: bool = False
    impostor_count: int = 0
    #: Impostor scores needed to show ``fmr_target`` with 95 % confidence (rule of three).
    scores_needed: int = 0


@dataclass(frozen=True)
class Calibration:
    """A measured impostor score distribution (sorted ascending)."""

    engine: str
    modality: str
    source: str
    date: str
    scores: NDArray[np.float64]

    def to_json(self, *, histogram: bool = False) -> dict[str, Any]:
        """The calibration as a JSON object: a sorted sample, or a histogram of distinct
        values (exact, and much smaller, for integer scores such as Bozorth3's)."""
        document: dict[str, Any] = {
            "format": CALIBRATION_FORMAT, "engine": self.engine, "modality": self.modality,
            "source": self.source, "date": self.date, "count": int(self.scores.size)}
        if histogram:
            values, counts = np.unique(self.scores, return_counts=True)
            document["histogram"] = {"values": [float(v) for v in values],
                                     "counts": [int(c) for c in counts]}
        else:
            document["scores"] = [float(v) for v in self.scores]
        return document


def fmr_for_fpir(target_fpir: float, gallery_size: int) -> float:
    """The per-comparison FMR that gives ``target_fpir`` over ``gallery_size`` independent
    comparisons: ``1 - (1 - FPIR)^(1/N)``."""
    _check_fpir(target_fpir, gallery_size)
    # expm1/log1p keep precision when FPIR/N is tiny (1 - (1 - 1e-12) rounds badly).
    return -math.expm1(math.log1p(-float(target_fpir)) / int(gallery_size))


def fpir_for_fmr(fmr: float, gallery_size: int) -> float:
    """The FPIR that a per-comparison ``fmr`` predicts for a gallery of ``gallery_size``:
    ``1 - (1 - FMR)^N``."""
    if not 0.0 <= fmr <= 1.0:
        raise ValueError(f"the FMR must be between 0 and 1, not {fmr}")
    if gallery_size < 1:
        raise ValueError(f"the gallery size must be at least 1, not {gallery_size}")
    if fmr == 1.0:
        return 1.0
    return -math.expm1(gallery_size * math.log1p(-fmr))


def empirical_fmr(impostor_scores: ArrayLike, threshold: float) -> float:
    """The share of impostor scores at or above ``threshold`` (the engine matches on
    ``score >= threshold``)."""
    scores = _as_scores(impostor_scores)
    if scores.size == 0:
        raise ValueError("no impostor scores were given")
    return float(np.count_nonzero(scores >= threshold)) / scores.size


def choose_threshold(target_fpir: float, gallery_size: int,
                     impostor_scores: ArrayLike | None = None, *,
                     engine_threshold: float = 40.0, source: str = "real",
                     margin: float | None = None) -> ThresholdChoice:
    """The threshold for ``target_fpir`` at ``gallery_size``, with how it was chosen.

    Without scores it is the engine's threshold (``source="none"``, not resolvable).
    Otherwise it is the smallest observed impostor score whose tail is at most the needed
    FMR, or, when no observed score is rare enough, the largest one plus ``margin`` (by
    default a tenth of the observed range, at least 1) with ``extrapolated=True``. It is
    never below ``engine_threshold``: a calibration sample (synthetic impostors score 0 to
    10) would otherwise lower the threshold far under the validated operating point."""
    fmr = fmr_for_fpir(target_fpir, gallery_size)
    needed = math.ceil(3.0 / fmr) if fmr > 0 else 0
    if impostor_scores is None:
        return ThresholdChoice(threshold=float(engine_threshold), fmr_target=fmr,
                               resolvable=False, source="none", scores_needed=needed)
    scores = _as_scores(impostor_scores)
    if scores.size == 0:
        raise ValueError("no impostor scores were given")
    values, counts = np.unique(scores, return_counts=True)
    # tails[i]: share of scores >= values[i] (a reversed cumulative sum of the counts).
    tails = np.cumsum(counts[::-1])[::-1] / scores.size
    allowed = np.nonzero(tails <= fmr)[0]
    if allowed.size:
        threshold, extrapolated = float(values[allowed[0]]), False
    else:
        span = float(values[-1] - values[0])
        pad = margin if margin is not None else max(1.0, 0.1 * span)
        if pad < 0:
            raise ValueError(f"the margin must not be negative, not {pad}")
        threshold, extrapolated = float(values[-1]) + pad, True
    floored = threshold < engine_threshold
    return ThresholdChoice(threshold=max(threshold, float(engine_threshold)), fmr_target=fmr,
                           resolvable=not extrapolated, source=source,
                           extrapolated=extrapolated, floored=floored,
                           impostor_count=int(scores.size), scores_needed=needed)


def threshold_for_fpir(target_fpir: float, gallery_size: int,
                       impostor_scores: ArrayLike | None = None, *,
                       engine_threshold: float = 40.0) -> float:
    """The threshold of :func:`choose_threshold` alone (see it for the rule)."""
    return choose_threshold(target_fpir, gallery_size, impostor_scores,
                            engine_threshold=engine_threshold).threshold


def calibration_from_scores(scores: ArrayLike, *, engine: str, modality: str, source: str,
                            date: str | None = None) -> Calibration:
    """A calibration from measured impostor scores."""
    if source not in SOURCES:
        raise ValueError(f"the source must be one of {', '.join(SOURCES)}, not {source!r}")
    values = np.sort(_as_scores(scores))
    if values.size == 0:
        raise ValueError("a calibration needs at least one impostor score")
    return Calibration(engine=engine, modality=modality, source=source,
                       date=date or dt.date.today().isoformat(), scores=values)


def save_calibration(calibration: Calibration, path: Path, *, histogram: bool = False) -> None:
    """Write a calibration file (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.to_json(histogram=histogram), indent=1) + "\n",
                    encoding="utf-8")


def load_calibration(path: Path) -> Calibration:
    """Read a calibration file; :class:`ValueError` says what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable calibration file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != CALIBRATION_FORMAT:
        raise ValueError(f"{path} is not a calibration file (format {CALIBRATION_FORMAT})")
    for key in ("engine", "modality", "source", "date"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"{path}: the field {key!r} is missing or not a string")
    scores = _scores_of(document, path)
    return calibration_from_scores(scores, engine=document["engine"],
                                   modality=document["modality"], source=document["source"],
                                   date=document["date"])


def _scores_of(document: dict[str, Any], path: Path) -> NDArray[np.float64]:
    """The scores of a calibration document, from its sample or its histogram."""
    if "scores" in document:
        return _as_scores(document["scores"])
    histogram = document.get("histogram")
    if not isinstance(histogram, dict):
        raise ValueError(f"{path}: neither 'scores' nor 'histogram' is given")
    values, counts = histogram.get("values"), histogram.get("counts")
    if not isinstance(values, list) or not isinstance(counts, list) \
            or len(values) != len(counts):
        raise ValueError(f"{path}: the histogram needs 'values' and 'counts' of one length")
    if any(not isinstance(c, int) or c < 0 for c in counts):
        raise ValueError(f"{path}: histogram counts must be non-negative integers")
    return np.repeat(_as_scores(values), counts)


def _as_scores(scores: ArrayLike | Sequence[float]) -> NDArray[np.float64]:
    values = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("impostor scores must be finite numbers")
    return values


def _check_fpir(target_fpir: float, gallery_size: int) -> None:
    if isinstance(target_fpir, bool) or not isinstance(target_fpir, numbers.Real) \
            or not 0.0 < float(target_fpir) < 1.0:
        raise ValueError(f"the target FPIR must be strictly between 0 and 1, not "
                         f"{target_fpir!r}")
    if isinstance(gallery_size, bool) or not isinstance(gallery_size, numbers.Integral) \
            or gallery_size < 1:
        raise ValueError(f"the gallery size must be an integer of at least 1, not "
                         f"{gallery_size!r}")
