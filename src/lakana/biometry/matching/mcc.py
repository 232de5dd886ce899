"""Minutia Cylinder-Code (MCC): a fast fingerprint matcher for 1:N candidate search.

Cappelli, Ferrara and Maltoni, "Minutia Cylinder-Code: a new representation and matching
technique for fingerprint recognition", IEEE TPAMI 32(12), 2010, in its bit-based form.
Each minutia gets a *cylinder*: ``NS × NS`` cells of side ``2R/NS`` around it, rotated to
its direction, times ``ND`` direction layers; a cell's bit says whether neighbouring
minutiae (near the cell, with that direction relative to the centre minutia) contribute
more than ``MU_PSI``. Cylinders are invariant to translation and rotation, so two
impressions need no alignment. Two cylinders compare by the paper's bit formula on their
common valid cells, ``1 − ‖a ⊕ b‖ / (‖a‖ + ‖b‖)`` with ``‖v‖ = √popcount(v)``, when their
directions differ by at most π/2; two templates compare by LSS (local similarity sort, the
mean of the ``n_P`` best cylinder similarities). Scores are in [0, 1].

Parameters are the paper's (R = 70 px at 500 ppi, σS = 28/3, σD = 2π/9, μψ = 0.01, ω = 50,
minVC = 0.75, minM = 2, minME = 0.6, δθ = π/2, n_P from 4 to 12 with μP = 20, τP = 2/5),
except ``NS = 8`` rather than 16: a cylinder is then 6 words of 64 bits and its mask one
word, which makes a comparison about four times faster (the speed this search is for; the
short list is re-scored by Bozorth3, :meth:`lakana.biometry.nbis_engine.NbisEngine.identify`).

The kernels (:mod:`lakana.biometry.matching.mcc_kernels`) are compiled by Numba on first use
and cached on disk; importing this module compiles nothing.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.matching.minutiae import Minutiae, parse_iso_19794_2

NS = 8
ND = 6
RADIUS = 70.0
SIGMA_S = 28.0 / 3.0
SIGMA_D = 2.0 * math.pi / 9.0
MU_PSI = 0.01
OMEGA = 50.0
MIN_VC = 0.75
MIN_M = 2
MIN_ME = 0.60
DELTA_THETA = math.pi / 2.0
MIN_NP, MAX_NP, MU_P, TAU_P = 4, 12, 20.0, 0.4
#: Cylinders kept per template, those with the most valid cells (the most central minutiae):
#: comparisons cost cylinders², and on MINDTCT prints of synthetic fingers the central 28 of
#: about 37 separated genuine from impostor pairs as well as all of them (worst genuine minus
#: best impostor 0.30 rather than 0.29, same mates at rank 1) at 1.8 times the speed.
MAX_CYLINDERS = 28
#: Templates per flat segment of a :class:`FingerIndex` position (~110 MB at 28 cylinders):
#: what one addition may copy at most, and the extra memory of a bulk load.
SEGMENT = 65_536

#: Serialised template: magic, version, NS, ND, cylinder count; then angles (float32),
#: cylinders and masks (little-endian uint64).
_MAGIC = b"LMCC"
_HEAD = struct.Struct("<4sBBBxI")
_VERSION = 1


@dataclass(frozen=True, eq=False)
class MccTemplate:
    """The valid cylinders of one finger: bits ``(m, ND × NS²/64)``, validity masks
    ``(m, NS²/64)`` (one bit per cell, shared by the direction layers) and the minutiae
    directions ``(m,)`` in radians."""

    cylinders: NDArray[np.uint64]
    masks: NDArray[np.uint64]
    angles: NDArray[np.float32]
    ns: int = NS
    nd: int = ND

    def __len__(self) -> int:
        return int(self.angles.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.cylinders.nbytes + self.masks.nbytes + self.angles.nbytes)

    def to_bytes(self) -> bytes:
        """The template as bytes (:meth:`from_bytes` reads them back)."""
        return (_HEAD.pack(_MAGIC, _VERSION, self.ns, self.nd, len(self))
                + self.angles.astype("<f4").tobytes()
                + self.cylinders.astype("<u8").tobytes() + self.masks.astype("<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> MccTemplate:
        """Read a template written by :meth:`to_bytes`; :class:`AcquisitionError` if it is
        not one or is truncated."""
        if len(data) < _HEAD.size or not data.startswith(_MAGIC):
            raise AcquisitionError("This is not a Lakana MCC finger template (wrong header).")
        _, version, ns, nd, count = _HEAD.unpack_from(data)
        if version != _VERSION or ns not in (8, 16) or nd < 1:
            raise AcquisitionError("This MCC finger template's header is not supported "
                                   "(version %(version)s, %(ns)s×%(ns)s×%(nd)s cells).",
                                   version=version, ns=ns, nd=nd)
        mw = ns * ns // 64
        expected = _HEAD.size + count * (4 + 8 * mw * (nd + 1))
        if len(data) != expected:
            raise AcquisitionError("The MCC finger template is truncated or padded "
                                   "(%(actual)s bytes, header says %(declared)s).",
                                   actual=len(data), declared=expected)
        at = _HEAD.size
        angles = np.frombuffer(data, "<f4", count, at).astype(np.float32)
        at += 4 * count
        cylinders = np.frombuffer(data, "<u8", count * nd * mw, at).astype(np.uint64)
        at += 8 * count * nd * mw
        masks = np.frombuffer(data, "<u8", count * mw, at).astype(np.uint64)
        return cls(cylinders=cylinders.reshape(count, nd * mw),
                   masks=masks.reshape(count, mw), angles=angles, ns=ns, nd=nd)


def mcc_template(minutiae: Minutiae, *, ns: int = NS) -> MccTemplate:
    """The MCC template of one finger view: its valid cylinders, at most
    :data:`MAX_CYLINDERS` (coordinates are brought to 500 ppi first, the resolution the
    parameters are for)."""
    from lakana.biometry.matching import mcc_kernels

    if ns not in (8, 16):
        raise ValueError(f"NS must be 8 or 16, not {ns}")
    scale = 500.0 / minutiae.ppi if minutiae.ppi > 0 else 1.0
    x = minutiae.x.astype(np.float64) * scale
    y = minutiae.y.astype(np.float64) * scale
    # ISO angles turn counter-clockwise with y up; the image's y axis points down, so the
    # direction in image coordinates is the opposite angle (else cylinders would turn the
    # wrong way when the finger turns, and lose their rotation invariance).
    theta = (-minutiae.angle.astype(np.float64)) % (2 * math.pi)
    hx, hy = _convex_hull(x, y)
    cyl, msk, valid = mcc_kernels.build_cylinders(
        x, y, theta, hx, hy, ns, ND, RADIUS, SIGMA_S, SIGMA_D, MU_PSI, OMEGA,
        math.ceil(MIN_VC * _disk_cells(ns)), MIN_M)
    kept = np.flatnonzero(valid)
    if kept.size > MAX_CYLINDERS:
        # The cylinders with the most valid cells (the most central minutiae) first.
        cells = np.unpackbits(msk[kept].view(np.uint8), axis=1).sum(axis=1)
        kept = np.sort(kept[np.argsort(-cells, kind="stable")[:MAX_CYLINDERS]])
    return MccTemplate(cylinders=np.ascontiguousarray(cyl[kept]),
                       masks=np.ascontiguousarray(msk[kept]),
                       angles=theta[kept].astype(np.float32), ns=ns, nd=ND)


def mcc_from_iso(iso_template: bytes) -> MccTemplate:
    """The MCC template of an ISO/IEC 19794-2:2005 record (:class:`AcquisitionError` if the
    record is malformed)."""
    return mcc_template(parse_iso_19794_2(iso_template))


def mcc_score(a: MccTemplate, b: MccTemplate) -> float:
    """1:1 similarity of two fingers in [0, 1] (LSS of their cylinder similarities)."""
    from lakana.biometry.matching import mcc_kernels

    _same_shape(a, b)
    return float(mcc_kernels.score_one(
        a.cylinders, a.masks, a.angles, b.cylinders, b.masks, b.angles, a.nd,
        _min_me(a), DELTA_THETA, MIN_NP, MAX_NP, MU_P, TAU_P))


def mcc_scores(probe: MccTemplate, gallery: Sequence[MccTemplate]) -> NDArray[np.float32]:
    """1:N similarities of ``probe`` against every template of ``gallery`` (one compiled
    call over a flat copy of the gallery; keep a :class:`FingerIndex` to search often)."""
    flat = _Flat.of(list(gallery), probe.ns, probe.nd)
    return flat.scores(probe)


class _Flat:
    """Templates side by side, one column per cylinder and one row per word (the cylinder
    words, then the mask words: :func:`~lakana.biometry.matching.mcc_kernels.to_columns`),
    so the kernel reads a word of consecutive cylinders from contiguous memory; template g
    is columns ``offsets[g]:offsets[g + 1]``."""

    def __init__(self, words: NDArray[np.uint64], angles: NDArray[np.float32],
                 offsets: NDArray[np.int64]) -> None:
        self.words, self.angles, self.offsets = words, angles, offsets

    @classmethod
    def of(cls, templates: list[MccTemplate], ns: int, nd: int) -> _Flat:
        from lakana.biometry.matching import mcc_kernels

        mw = ns * ns // 64
        for template in templates:
            if template.ns != ns or template.nd != nd:
                raise ValueError("MCC templates of different cylinder sizes")
        sizes = np.array([len(t) for t in templates], dtype=np.int64)
        offsets = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if not templates:
            return cls(np.zeros(((nd + 1) * mw, 0), np.uint64), np.zeros(0, np.float32),
                       offsets)
        words, angles = mcc_kernels.to_columns(
            np.concatenate([t.cylinders for t in templates]),
            np.concatenate([t.masks for t in templates]),
            np.concatenate([t.angles for t in templates]), offsets)
        return cls(words, angles, offsets)

    @property
    def nbytes(self) -> int:
        return int(self.words.nbytes + self.angles.nbytes + self.offsets.nbytes)

    def keep(self, rows: NDArray[np.bool_]) -> _Flat:
        """The templates whose ``rows`` flag is set, still flat."""
        sizes = np.diff(self.offsets)
        cells = np.repeat(rows, sizes)
        offsets = np.zeros(int(rows.sum()) + 1, dtype=np.int64)
        np.cumsum(sizes[rows], out=offsets[1:])
        return _Flat(np.ascontiguousarray(self.words[:, cells]), self.angles[cells], offsets)

    def scores(self, probe: MccTemplate) -> NDArray[np.float32]:
        from lakana.biometry.matching import mcc_kernels

        if self.words.shape[0] != probe.cylinders.shape[1] + probe.masks.shape[1]:
            raise ValueError("MCC templates of different cylinder sizes")
        result: NDArray[np.float32] = mcc_kernels.score_many(
            probe.cylinders, probe.masks, probe.angles, self.words, self.angles, self.offsets,
            probe.nd, _min_me(probe), DELTA_THETA, MIN_NP, MAX_NP, MU_P, TAU_P)
        return result


class FingerIndex:
    """1:N candidate search over persons of up to ten fingers: flat stores per finger
    position, probe fingers scored against the same positions only.

    Fusion: the **mean** of the MCC scores over the positions both the probe and the person
    hold (the sum rule normalised by the number of compared fingers). On synthetic prints it
    separated mates from non-mates better than the max rule: an impostor's best finger out of
    several is higher than its average, while a mate scores high on every finger.

    Storage: each position is a list of flat *segments* of at most :data:`SEGMENT`
    templates. Additions wait as objects until searched or until :data:`SEGMENT` of one
    position are pending, then become a new segment, merged with the smaller last ones (a
    binary counter: a segment is merged while its predecessor is no larger and the two fit
    in one segment). So an insert copies a few small segments, never the whole position,
    and building a large index never holds it twice. Picklable (plain NumPy arrays), so
    it can be shipped to worker processes."""

    def __init__(self, *, ns: int = NS) -> None:
        self.ns = ns
        self._ids: dict[int, list[NDArray[np.int64]]] = {}
        self._flat: dict[int, list[_Flat]] = {}
        self._pending: dict[int, list[tuple[int, MccTemplate]]] = {}
        self._persons: set[int] = set()

    def __len__(self) -> int:
        return len(self._persons)

    @property
    def nbytes(self) -> int:
        """Memory held by the flat stores (after pending additions are merged)."""
        self._merge()
        return sum(f.nbytes + i.nbytes for p, segments in self._flat.items()
                   for f, i in zip(segments, self._ids[p], strict=True))

    def segments(self) -> dict[int, list[int]]:
        """Templates per segment, by position (after pending additions are merged)."""
        self._merge()
        return {p: [i.size for i in ids] for p, ids in self._ids.items()}

    def add(self, reference_id: int, fingers: Mapping[int, MccTemplate]) -> None:
        """Add a person's fingers (position → template); adding an id again adds more
        fingers, it does not replace (remove first to replace)."""
        for position, template in fingers.items():
            if template.ns != self.ns or template.nd != ND:
                raise ValueError("MCC templates of different cylinder sizes")
            pending = self._pending.setdefault(position, [])
            pending.append((int(reference_id), template))
            if len(pending) >= SEGMENT:
                self._merge_position(position)
        self._persons.add(int(reference_id))

    def remove(self, reference_ids: Iterable[int]) -> int:
        """Drop every finger of these persons; returns how many persons were dropped."""
        gone = {int(r) for r in reference_ids} & self._persons
        if not gone:
            return 0
        self._merge()
        drop = np.fromiter(gone, dtype=np.int64, count=len(gone))
        for position, segments in self._ids.items():
            for s, ids in enumerate(segments):
                keep = ~np.isin(ids, drop)
                if not keep.all():
                    self._flat[position][s] = self._flat[position][s].keep(keep)
                    segments[s] = ids[keep]
        self._persons -= gone
        return len(gone)

    def search(self, probe: Mapping[int, MccTemplate], k: int = 50
               ) -> list[tuple[int, float]]:
        """Up to ``k`` (reference id, fused score), best first (ties by reference id)."""
        self._merge()
        ids: list[NDArray[np.int64]] = []
        scores: list[NDArray[np.float32]] = []
        for position, template in probe.items():
            for flat, held in zip(self._flat.get(position, []), self._ids.get(position, []),
                                  strict=True):
                if held.size:
                    ids.append(held)
                    scores.append(flat.scores(template))
        if not ids or k <= 0:
            return []
        persons, inverse = np.unique(np.concatenate(ids), return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate(scores), minlength=persons.size)
        fused = total / np.bincount(inverse, minlength=persons.size)
        order = np.lexsort((persons, -fused))[:k]
        return [(int(persons[i]), float(fused[i])) for i in order]

    def _merge(self) -> None:
        """Fold every pending addition into the flat stores."""
        for position in list(self._pending):
            self._merge_position(position)

    def _merge_position(self, position: int) -> None:
        """One position's pending additions as a new segment, merged with the last ones
        while they are no larger and the result fits in :data:`SEGMENT` templates."""
        added = self._pending.pop(position, [])
        if not added:
            return
        flats = self._flat.setdefault(position, [])
        ids = self._ids.setdefault(position, [])
        flats.append(_Flat.of([t for _, t in added], self.ns, ND))
        ids.append(np.array([r for r, _ in added], dtype=np.int64))
        del added
        while (len(ids) >= 2 and ids[-2].size <= ids[-1].size
               and ids[-2].size + ids[-1].size <= SEGMENT):
            flats[-2:] = [_concat(flats[-2:])]
            ids[-2:] = [np.concatenate(ids[-2:])]


def _concat(parts: list[_Flat]) -> _Flat:
    offsets = [parts[0].offsets]
    for part in parts[1:]:
        offsets.append(part.offsets[1:] + offsets[-1][-1])
    return _Flat(np.concatenate([p.words for p in parts], axis=1),
                 np.concatenate([p.angles for p in parts]), np.concatenate(offsets))


def _min_me(template: MccTemplate) -> int:
    """Common valid cells two cylinders need to be compared (minME of the most cells a
    cylinder can have valid)."""
    return int(math.ceil(MIN_ME * _disk_cells(template.ns)))


def _disk_cells(ns: int) -> int:
    """Cells whose centre is within the radius: the most a cylinder can have valid (the
    paper's minVC and minME are fractions of it)."""
    centres = (np.arange(ns) + 0.5 - ns / 2.0) * (2.0 * RADIUS / ns)
    return int((centres[:, None] ** 2 + centres[None, :] ** 2 <= RADIUS ** 2).sum())


def _same_shape(a: MccTemplate, b: MccTemplate) -> None:
    if a.ns != b.ns or a.nd != b.nd:
        raise ValueError("MCC templates of different cylinder sizes")


def _convex_hull(x: NDArray[np.float64], y: NDArray[np.float64]
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Counter-clockwise convex hull of the points (Andrew's monotone chain)."""
    points = sorted(set(zip(x.tolist(), y.tolist(), strict=True)))
    if len(points) < 3:
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])

    def half(ordered: list[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for p in ordered:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])
                                       ) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    hull = half(points)[:-1] + half(points[::-1])[:-1]
    return np.array([p[0] for p in hull]), np.array([p[1] for p in hull])
