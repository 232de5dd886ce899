"""Technology evaluation of a matching engine on a folder of images (ISO/IEC 19795-1).

The run follows the standard's offline ("technology") protocol:

1. *Acquisition and enrolment.* Every sample is read and decoded (a file that cannot be is
   a failure to acquire, FTA) and handed to the engine (a refusal, an
   :class:`~lakana.biometry.engine.AcquisitionError`, is a failure to enrol, FTE); reasons
   are counted by message.
2. *Verification (1:1).* All genuine pairs (two samples of one identity) and all impostor
   pairs, or a seeded random sample of at most ``max_impostors``, are scored; FMR(t) is the
   share of impostor scores ``>= t``, FNMR(t) the share of genuine scores ``< t``; EER,
   FNMR at fixed FMR and the DET curve come from them. The generalised rates of the
   standard fold FTA and FTE in: GFNMR = FTA + (1-FTA)·FTE + (1-FTA)(1-FTE)·FNMR,
   GFMR = (1-FTA)(1-FTE)·FMR.
3. *Identification (1:N).* The first enrolled sample of each identity is its gallery
   entry; the next one, where there is one, its probe. For a gallery of ``N`` entries a
   mated search holds the probe's mate and ``N-1`` others, a non-mated search ``N`` others
   (the mate removed). FNIR(N, t): the mate is not returned (score below ``t`` or beyond
   the candidate list); FPIR(N, t): a non-mated search returns anyone; the closed-set
   rank-1 rate ignores the threshold.

Reports (Markdown, JSON, DET and score plots) are written by
:mod:`lakana.biometry.matching.evaluation_report`.
"""

from __future__ import annotations

import io
import itertools
import random
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from lakana.biometry.engine import AcquisitionError, MatchingEngine, Probe
from lakana.biometry.matching.evaluation_datasets import UNKNOWN_POSITION, Dataset, Sample
from lakana.biometry.matching.thresholds import ThresholdChoice, choose_threshold

#: FMR targets at which FNMR is reported (FVC's FMR100, FMR1000, FMR10000).
FMR_TARGETS = (1e-2, 1e-3, 1e-4)
GALLERY_SIZES = (10, 100, 1000)
#: The candidate list length of a search (the engine's ``identify`` default).
CANDIDATES = 10
#: Target FPIR for which the report derives a threshold per gallery size.
REPORT_FPIR = 0.01
#: Formats every engine takes as they are; other decodable ones are re-encoded as PNG.
_NATIVE = {"PNG", "JPEG", "WSQ"}
_FACE_SIZE = (300, 400)

FTA_UNREADABLE = "The file could not be read."
FTA_UNDECODABLE = "The file is not a readable image (corrupt, truncated or another format)."


@dataclass(frozen=True)
class Enrolment:
    """The outcome for one sample: a template, or a failure (``fta``/``fte``) and why."""

    sample: Sample
    template: bytes | None
    failure: str | None = None
    reason: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class OperatingPoint:
    """FMR and FNMR at one threshold; ``resolvable`` is false when the FMR asked for is
    below what the impostor sample can show (1 / number of impostor scores)."""

    threshold: float
    fmr: float
    fnmr: float
    fmr_target: float | None = None
    resolvable: bool = True


@dataclass(frozen=True)
class IdentificationRow:
    """1:N figures for one gallery size at the engine's threshold."""

    gallery_size: int
    mated_searches: int
    nonmated_searches: int
    rank1: float
    fnir: float
    fpir: float
    fpir_predicted: float
    threshold_for_target: ThresholdChoice | None = None


@dataclass
class EvaluationResult:
    """Everything a report shows (rates are fractions, not percentages)."""

    dataset: Dataset
    engine: str
    threshold: float
    enrolments: list[Enrolment]
    genuine: NDArray[np.float64]
    impostor: NDArray[np.float64]
    impostor_pairs_possible: int
    eer: float = float("nan")
    eer_threshold: float = float("nan")
    at_threshold: OperatingPoint | None = None
    at_fmr: list[OperatingPoint] = field(default_factory=list)
    det: tuple[NDArray[np.float64], NDArray[np.float64]] = field(
        default_factory=lambda: (np.zeros(0), np.zeros(0)))
    identification: list[IdentificationRow] = field(default_factory=list)
    compare_seconds: float = 0.0

    @property
    def fta(self) -> float:
        """Failure-to-acquire rate: unreadable samples / all samples."""
        return _share(sum(e.failure == "fta" for e in self.enrolments), len(self.enrolments))

    @property
    def fte(self) -> float:
        """Failure-to-enrol rate: refused samples / acquired samples."""
        acquired = sum(e.failure != "fta" for e in self.enrolments)
        return _share(sum(e.failure == "fte" for e in self.enrolments), acquired)

    def reasons(self, failure: str) -> Counter[str]:
        """Failures of one kind counted by reason (message id)."""
        return Counter(e.reason or "?" for e in self.enrolments if e.failure == failure)

    @property
    def generalised(self) -> tuple[float, float]:
        """(GFMR, GFNMR) at the engine's threshold (ISO/IEC 19795-1)."""
        point = self.at_threshold
        if point is None:
            return float("nan"), float("nan")
        kept = (1 - self.fta) * (1 - self.fte)
        return kept * point.fmr, self.fta + (1 - self.fta) * self.fte + kept * point.fnmr


def evaluate(dataset: Dataset, engine: MatchingEngine | None = None, *,
             max_impostors: int = 20_000, max_gallery: int = 200,
             gallery_sizes: Sequence[int] = GALLERY_SIZES, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> EvaluationResult:
    """Run the three steps on ``dataset`` (see the module); ``engine`` defaults to
    :class:`~lakana.biometry.nbis_engine.NbisEngine`, with dlib's face encoder for faces."""
    engine = engine or default_engine(dataset.modality)
    say = progress or (lambda _message: None)
    say(f"enrolling {len(dataset.samples)} samples")
    enrolments = [enrol(sample, engine) for sample in dataset.samples]
    enrolled = [e for e in enrolments if e.template is not None]
    scorer = _Scorer(engine, enrolled)
    rng = random.Random(seed)
    genuine_pairs = _genuine_pairs(enrolled)
    impostor_pairs, possible = _impostor_pairs(enrolled, max_impostors, rng)
    say(f"scoring {len(genuine_pairs)} genuine and {len(impostor_pairs)} impostor pairs")
    genuine = np.array([scorer(i, j) for i, j in genuine_pairs], dtype=np.float64)
    impostor = np.array([scorer(i, j) for i, j in impostor_pairs], dtype=np.float64)
    result = EvaluationResult(dataset=dataset, engine=engine.name,
                              threshold=engine.match_threshold, enrolments=enrolments,
                              genuine=genuine, impostor=impostor,
                              impostor_pairs_possible=possible)
    if genuine.size and impostor.size:
        _verification_figures(result)
    say("identification (1:N)")
    result.identification = _identification(enrolled, scorer, impostor, engine.match_threshold,
                                            gallery_sizes, max_gallery, rng, dataset.source)
    result.compare_seconds = scorer.seconds / max(scorer.count, 1)
    return result


def default_engine(modality: str) -> MatchingEngine:
    """The built-in engine (with dlib's ResNet for faces)."""
    from lakana.biometry.nbis_engine import NbisEngine

    if modality == "face":
        from lakana.biometry.matching.faces import DlibFaceEncoder

        return NbisEngine(face_encoder=DlibFaceEncoder())
    return NbisEngine()


def enrol(sample: Sample, engine: MatchingEngine) -> Enrolment:
    """Read, decode and enrol one sample; never raises for a bad sample."""
    started = time.perf_counter()
    try:
        data = sample.path.read_bytes()
    except OSError:
        return Enrolment(sample, None, "fta", FTA_UNREADABLE)
    prepared = _prepare(data, sample.modality)
    if prepared is None:
        return Enrolment(sample, None, "fta", FTA_UNDECODABLE)
    try:
        if sample.modality == "face":
            template = engine.face_from_image(prepared).template
            if not template:
                raise AcquisitionError("The engine has no face encoder: faces cannot be "
                                       "compared.")
        else:
            template = engine.finger_from_image(
                prepared, position=sample.position or UNKNOWN_POSITION,
                ppi=sample.ppi).iso_template
    except AcquisitionError as exc:
        return Enrolment(sample, None, "fte", exc.message, time.perf_counter() - started)
    return Enrolment(sample, template, seconds=time.perf_counter() - started)


def rates(genuine: NDArray[np.float64], impostor: NDArray[np.float64],
          thresholds: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(FMR, FNMR) at each threshold: impostors ``>= t``, genuine ``< t``."""
    imp, gen = np.sort(impostor), np.sort(genuine)
    fmr = (imp.size - np.searchsorted(imp, thresholds, side="left")) / max(imp.size, 1)
    fnmr = np.searchsorted(gen, thresholds, side="left") / max(gen.size, 1)
    return fmr.astype(np.float64), fnmr.astype(np.float64)


def candidate_thresholds(genuine: NDArray[np.float64], impostor: NDArray[np.float64]
                         ) -> NDArray[np.float64]:
    """Every observed score, and one above them all (where nothing matches)."""
    scores = np.unique(np.concatenate([genuine, impostor]))
    top = float(scores[-1]) + 1 if scores.size else 1.0
    return np.append(scores, top)


def equal_error_rate(genuine: NDArray[np.float64], impostor: NDArray[np.float64]
                     ) -> tuple[float, float]:
    """(EER, its threshold): where FMR and FNMR cross; at the observed threshold closest to
    the crossing, the mean of the two (FVC's convention)."""
    thresholds = candidate_thresholds(genuine, impostor)
    fmr, fnmr = rates(genuine, impostor, thresholds)
    # FMR falls and FNMR rises with t: the first t where FNMR >= FMR, or the one before.
    index = int(np.argmax(fnmr >= fmr))
    best = min((i for i in (index - 1, index) if i >= 0),
               key=lambda i: abs(fmr[i] - fnmr[i]))
    return float((fmr[best] + fnmr[best]) / 2), float(thresholds[best])


def _verification_figures(result: EvaluationResult) -> None:
    genuine, impostor = result.genuine, result.impostor
    result.eer, result.eer_threshold = equal_error_rate(genuine, impostor)
    fmr, fnmr = rates(genuine, impostor, np.array([result.threshold]))
    result.at_threshold = OperatingPoint(result.threshold, float(fmr[0]), float(fnmr[0]))
    thresholds = candidate_thresholds(genuine, impostor)
    all_fmr, all_fnmr = rates(genuine, impostor, thresholds)
    for target in FMR_TARGETS:
        index = int(np.argmax(all_fmr <= target))  # the last threshold always has FMR 0
        result.at_fmr.append(OperatingPoint(
            float(thresholds[index]), float(all_fmr[index]), float(all_fnmr[index]),
            fmr_target=target, resolvable=target * impostor.size >= 1))
    result.det = (all_fmr, all_fnmr)


def _identification(enrolled: list[Enrolment], scorer: _Scorer, impostor: NDArray[np.float64],
                    threshold: float, sizes: Sequence[int], max_gallery: int,
                    rng: random.Random, source: str) -> list[IdentificationRow]:
    """1:N rows for each gallery size up to the gallery (see the module)."""
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for index, item in enumerate(enrolled):
        identity = item.sample.identity
        if identity not in first:
            first[identity] = index
        elif identity not in second:
            second[identity] = index
    identities = list(first)
    if len(identities) > max_gallery:
        # Identities with a probe first: without them there is no search to make.
        with_probe = [i for i in identities if i in second]
        rng.shuffle(with_probe)
        rest = [i for i in identities if i not in second]
        rng.shuffle(rest)
        identities = (with_probe + rest)[:max_gallery]
    probes = [i for i in identities if i in second]
    if not probes or len(identities) < 2:
        return []
    gallery = [first[i] for i in identities]
    matrix = np.array([[scorer(second[p], g) for g in gallery] for p in probes])
    mate_column = {p: identities.index(p) for p in probes}
    full = len(identities)
    rows = []
    for size in sorted({s for s in sizes if 2 <= s < full} | {full}):
        rows.append(_identification_row(matrix, probes, mate_column, size, threshold,
                                        impostor, rng, source))
    return rows


def _identification_row(matrix: NDArray[np.float64], probes: list[str],
                        mate_column: dict[str, int], size: int, threshold: float,
                        impostor: NDArray[np.float64], rng: random.Random,
                        source: str) -> IdentificationRow:
    columns = matrix.shape[1]
    rank1 = misses = false_positives = 0
    nonmated = 0
    for row, probe in enumerate(probes):
        mate = mate_column[probe]
        others = [c for c in range(columns) if c != mate]
        chosen = others if size - 1 >= len(others) else rng.sample(others, size - 1)
        mate_score = matrix[row, mate]
        # Ties count against the mate (a pessimistic rank).
        rank = 1 + int(np.count_nonzero(matrix[row, chosen] >= mate_score))
        rank1 += rank == 1
        misses += not (mate_score >= threshold and rank <= CANDIDATES)
        pool = others if size >= len(others) else rng.sample(others, size)
        if pool:
            nonmated += 1
            false_positives += bool(np.max(matrix[row, pool]) >= threshold)
    fmr = float(np.count_nonzero(impostor >= threshold)) / impostor.size if impostor.size \
        else float("nan")
    target = None
    if impostor.size:
        target = choose_threshold(REPORT_FPIR, size, impostor, engine_threshold=threshold,
                                  source=source)
    predicted = float(1 - (1 - fmr) ** size) if impostor.size else float("nan")
    return IdentificationRow(gallery_size=size, mated_searches=len(probes),
                             nonmated_searches=nonmated, rank1=_share(rank1, len(probes)),
                             fnir=_share(misses, len(probes)),
                             fpir=_share(false_positives, nonmated),
                             fpir_predicted=predicted, threshold_for_target=target)


class _Scorer:
    """Scores pairs of enrolled samples through the engine, each pair once, timed."""

    def __init__(self, engine: MatchingEngine, enrolled: list[Enrolment]) -> None:
        self.engine = engine
        self.probes = [_probe(e) for e in enrolled]
        self.cache: dict[tuple[int, int], float] = {}
        self.seconds = 0.0
        self.count = 0

    def __call__(self, left: int, right: int) -> float:
        key = (min(left, right), max(left, right))
        score = self.cache.get(key)
        if score is None:
            started = time.perf_counter()
            score = float(self.engine.compare(self.probes[left], self.probes[right]).score)
            self.seconds += time.perf_counter() - started
            self.count += 1
            self.cache[key] = score
        return score


def _probe(enrolment: Enrolment) -> Probe:
    template = enrolment.template or b""
    if enrolment.sample.modality == "face":
        return Probe(face=template)
    # One key for every finger: the engine compares the positions both probes hold, and
    # an impostor pair of two different fingers must still be compared.
    return Probe(fingers={UNKNOWN_POSITION: template})


def _genuine_pairs(enrolled: list[Enrolment]) -> list[tuple[int, int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(enrolled):
        groups[item.sample.identity].append(index)
    return [pair for members in groups.values()
            for pair in itertools.combinations(members, 2)]


def _impostor_pairs(enrolled: list[Enrolment], cap: int, rng: random.Random
                    ) -> tuple[list[tuple[int, int]], int]:
    """All impostor pairs, or ``cap`` distinct ones drawn at random; and how many exist."""
    identities = [item.sample.identity for item in enrolled]
    count = len(identities)
    sizes = Counter(identities).values()
    possible = count * (count - 1) // 2 - sum(s * (s - 1) // 2 for s in sizes)
    if possible <= cap:
        return [(i, j) for i, j in itertools.combinations(range(count), 2)
                if identities[i] != identities[j]], possible
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < cap:
        i, j = rng.randrange(count), rng.randrange(count)
        if identities[i] != identities[j]:
            chosen.add((min(i, j), max(i, j)))
    return sorted(chosen), possible


def _prepare(data: bytes, modality: str) -> bytes | None:
    """The image as the engine takes it, or None when it cannot be decoded. FVC's TIFF and
    BMP are re-encoded losslessly as PNG; small or square faces (LFW's 250×250 crops) are
    padded, never cropped, into a 3:4 portrait, as the engine's capture checks expect one."""
    import wsq  # noqa: F401  (registers the WSQ codec with Pillow)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            picture.load()
    except Exception:  # noqa: BLE001  (third-party codecs raise anything on bad input)
        return None
    if modality == "face":
        ratio = picture.width / picture.height
        if picture.width >= 240 and picture.height >= 320 and 0.6 <= ratio <= 1.0 \
                and picture.format in _NATIVE:
            return data
        fitted = ImageOps.pad(picture.convert("RGB"), _FACE_SIZE, color=(128, 128, 128))
        return _png(fitted)
    if picture.format in _NATIVE:
        return data
    return _png(picture.convert("L"))


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")
