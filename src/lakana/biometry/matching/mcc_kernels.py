"""Compiled kernels of the Minutia Cylinder-Code (:mod:`lakana.biometry.matching.mcc`).

Numba ``@njit(cache=True, nogil=True)`` functions: building the bit cylinders of one
template, and the 1:1 and 1:N global scores (local similarity sort, LSS). They compile on
first call (a few seconds, then cached on disk next to this file's ``__pycache__``), never
at import. ``nogil`` lets threads score shards of a gallery in parallel.

Bit layout of one cylinder (``ns`` cells per side, ``nd`` direction layers): the cell
``(i, j)`` is bit ``c = i * ns + j``; layer ``k`` holds ``mw = ns * ns / 64`` words, word
``k * mw + c // 64``, bit ``c % 64``. The validity mask does not depend on the layer (a cell
is valid or not whatever the direction), so it is stored once: ``mw`` words per cylinder.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.extending import intrinsic
from numpy.typing import NDArray

_TWO_PI = 2.0 * math.pi


def _ctpop(typingctx: Any, x: Any) -> Any:
    """Bits set in a uint64: LLVM's ``ctpop``, one POPCNT instruction on x86-64 (numba
    compiles for the host CPU). A SWAR popcount written in Python was 2.5 times slower
    here: LLVM only turns it into POPCNT when it vectorises a whole loop."""
    if x != types.uint64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(ctpop, [args[0]])

    return types.uint64(types.uint64), codegen


_popcount: Any = intrinsic(_ctpop)


@njit(cache=True, nogil=True, inline="always")
def _angle_diff(a: float, b: float) -> float:
    """a − b brought into [−π, π)."""
    d = a - b
    if d < -math.pi:
        d += _TWO_PI
    elif d >= math.pi:
        d -= _TWO_PI
    return d


@njit(cache=True, nogil=True)
def _inside_hull(px: float, py: float, hx: NDArray[np.float64], hy: NDArray[np.float64],
                 omega: float) -> bool:
    """Whether (px, py) lies in the convex hull (counter-clockwise) enlarged by ``omega``."""
    n = hx.size
    if n == 0:
        return False
    inside = n >= 3
    best = 1e30
    for e in range(n):
        ax, ay = hx[e], hy[e]
        bx, by = hx[(e + 1) % n], hy[(e + 1) % n]
        ex, ey = bx - ax, by - ay
        if ex * (py - ay) - ey * (px - ax) < 0.0:
            inside = False
        length = ex * ex + ey * ey
        t = 0.0 if length == 0.0 else ((px - ax) * ex + (py - ay) * ey) / length
        t = min(1.0, max(0.0, t))
        dx, dy = px - (ax + t * ex), py - (ay + t * ey)
        best = min(best, dx * dx + dy * dy)
    return inside or best <= omega * omega


@njit(cache=True, nogil=True)
def _contributions(x: NDArray[np.float64], y: NDArray[np.float64],
                   theta: NDArray[np.float64], i: int, px: float, py: float, nd: int,
                   sigma_s: float, sigma_d: float, contrib: NDArray[np.float64]) -> None:
    """Sum, per direction layer, of the neighbours' contributions to the cell at (px, py)
    of minutia ``i``'s cylinder (spatial Gaussian × directional Gaussian area)."""
    delta_d = _TWO_PI / nd
    reach = 3.0 * sigma_s
    gs_norm = 1.0 / (sigma_s * math.sqrt(_TWO_PI))
    erf_scale = 1.0 / (sigma_d * math.sqrt(2.0))
    contrib[:] = 0.0
    for t in range(x.size):
        if t == i:
            continue
        d = math.hypot(x[t] - px, y[t] - py)
        if d > reach:
            continue
        spatial = gs_norm * math.exp(-d * d / (2.0 * sigma_s * sigma_s))
        dtheta = _angle_diff(theta[i], theta[t])
        for k in range(nd):
            # Area of the directional Gaussian over layer k's angular window.
            centre = _angle_diff(-math.pi + (k + 0.5) * delta_d, dtheta)
            area = 0.5 * (math.erf((centre + delta_d / 2) * erf_scale)
                          - math.erf((centre - delta_d / 2) * erf_scale))
            contrib[k] += spatial * area


@njit(cache=True, nogil=True)
def build_cylinders(x: NDArray[np.float64], y: NDArray[np.float64], theta: NDArray[np.float64],
                    hx: NDArray[np.float64], hy: NDArray[np.float64], ns: int, nd: int,
                    radius: float, sigma_s: float, sigma_d: float, mu_psi: float,
                    omega: float, min_cells: int, min_m: int
                    ) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.bool_]]:
    """The bit cylinders, validity masks and cylinder validity of every minutia."""
    m = x.size
    cells = ns * ns
    mw = (cells + 63) // 64
    cyl = np.zeros((m, nd * mw), dtype=np.uint64)
    msk = np.zeros((m, mw), dtype=np.uint64)
    valid = np.zeros(m, dtype=np.bool_)
    delta_s = 2.0 * radius / ns
    reach = 3.0 * sigma_s
    contrib = np.zeros(nd)
    for i in range(m):
        # Cylinder validity, part one: enough neighbours within reach of the cylinder.
        neighbours = 0
        for t in range(m):
            if t != i and math.hypot(x[t] - x[i], y[t] - y[i]) <= radius + reach:
                neighbours += 1
        cos_t, sin_t = math.cos(theta[i]), math.sin(theta[i])
        valid_cells = 0
        for a in range(ns):
            for b in range(ns):
                # Cell centre, in the minutia's frame rotated by its direction.
                u = (b + 0.5 - ns / 2.0) * delta_s
                v = (a + 0.5 - ns / 2.0) * delta_s
                px = x[i] + cos_t * u - sin_t * v
                py = y[i] + sin_t * u + cos_t * v
                if u * u + v * v > radius * radius or not _inside_hull(px, py, hx, hy, omega):
                    continue
                c = a * ns + b
                msk[i, c // 64] |= np.uint64(1) << np.uint64(c % 64)
                valid_cells += 1
                _contributions(x, y, theta, i, px, py, nd, sigma_s, sigma_d, contrib)
                for k in range(nd):
                    if contrib[k] >= mu_psi:
                        cyl[i, k * mw + c // 64] |= np.uint64(1) << np.uint64(c % 64)
        valid[i] = neighbours >= min_m and valid_cells >= min_cells
    return cyl, msk, valid


@njit(cache=True, nogil=True)
def probe_order(angles: NDArray[np.float32], delta_theta: float) -> NDArray[np.int64]:
    """The probe's cylinders by increasing ``θ − δθ`` taken modulo 2π: the order in which
    :func:`_lss`'s window over the gallery cylinders (sorted by direction) only moves
    forward."""
    order = np.argsort(angles, kind="mergesort")
    first = 0
    while first < order.size and angles[order[first]] < delta_theta:
        first += 1
    return np.concatenate((order[first:], order[:first]))


@njit(cache=True, nogil=True, inline="always")
def _window(gt: NDArray[np.float32], lo: int, nb: int, left: float, width: float,
            start: int, end: int) -> tuple[int, int]:
    """The gallery cylinders whose direction is in ``[left, left + width]``: a window
    ``[start, end)`` over the template's cylinders (sorted by direction) seen twice, the
    second time 2π higher; moved forward from the previous window."""
    while start < 2 * nb and (gt[lo + start] if start < nb
                              else gt[lo + start - nb] + _TWO_PI) < left:
        start += 1
    end = max(end, start)
    while end < 2 * nb and (gt[lo + end] if end < nb
                            else gt[lo + end - nb] + _TWO_PI) <= left + width:
        end += 1
    return start, min(end, start + nb)


@njit(cache=True, nogil=True, inline="always")
def _count_pairs(ca: NDArray[np.uint64], ma: NDArray[np.uint64], i: int,
                 gw: NDArray[np.uint64], first: int, last: int, at: int, nd: int,
                 min_me: int, counts: NDArray[np.int64]) -> None:
    """Bits set in probe cylinder ``i``, in gallery columns ``first:last`` and in their xor,
    on their common valid cells, into ``counts[0:3, at:]``; a pair with fewer than ``min_me``
    common cells gets no bits (it can never be kept). No branches: LLVM vectorises the loop
    (AVX2 popcounts on four pairs at once)."""
    mw = ma.shape[1]
    words = nd * mw
    if mw == 1 and nd == 6:
        # NS = 8, ND = 6: one mask word and six bit words per cylinder.
        m0 = ma[i, 0]
        a0, a1, a2, a3, a4, a5 = ca[i, 0], ca[i, 1], ca[i, 2], ca[i, 3], ca[i, 4], ca[i, 5]
        # Layers set per cell of the probe cylinder, as three bit planes (a bit-sliced
        # adder): sa from three popcounts instead of six.
        p0 = np.uint64(0)
        p1 = np.uint64(0)
        p2 = np.uint64(0)
        for k in range(6):
            carry = p0 & ca[i, k]
            p0 ^= ca[i, k]
            p2 ^= p1 & carry
            p1 ^= carry
        for c in range(first, last):
            both = m0 & gw[6, c]
            x0, y0 = a0 & both, gw[0, c] & both
            x1, y1 = a1 & both, gw[1, c] & both
            x2, y2 = a2 & both, gw[2, c] & both
            x3, y3 = a3 & both, gw[3, c] & both
            x4, y4 = a4 & both, gw[4, c] & both
            x5, y5 = a5 & both, gw[5, c] & both
            sa = (_popcount(p0 & both) + 2 * _popcount(p1 & both)
                  + 4 * _popcount(p2 & both))
            sb = (_popcount(y0) + _popcount(y1) + _popcount(y2) + _popcount(y3)
                  + _popcount(y4) + _popcount(y5))
            sx = (_popcount(x0 ^ y0) + _popcount(x1 ^ y1) + _popcount(x2 ^ y2)
                  + _popcount(x3 ^ y3) + _popcount(x4 ^ y4) + _popcount(x5 ^ y5))
            ok = _popcount(both) >= min_me
            q = at + c - first
            counts[0, q] = sa if ok else 0
            counts[1, q] = sb if ok else 0
            counts[2, q] = sx
        return
    for c in range(first, last):
        sa = 0
        sb = 0
        sx = 0
        common = 0
        for w in range(mw):
            both = ma[i, w] & gw[words + w, c]
            common += _popcount(both)
            for k in range(nd):
                x = ca[i, k * mw + w] & both
                y = gw[k * mw + w, c] & both
                sa += _popcount(x)
                sb += _popcount(y)
                sx += _popcount(x ^ y)
        ok = common >= min_me
        q = at + c - first
        counts[0, q] = sa if ok else 0
        counts[1, q] = sb if ok else 0
        counts[2, q] = sx


@njit(cache=True, nogil=True, inline="always")
def _keep_best(counts: NDArray[np.int64], size: int, roots: NDArray[np.float64],
               top: NDArray[np.float64], n_p: int, floor: float, low: int
               ) -> tuple[float, int]:
    """Put the local similarities of ``counts[:, :size]`` that beat ``floor`` (the smallest
    of the ``n_P`` best so far, ``top[low]``) in the place of the smallest; the new floor and
    its place."""
    # λ > floor needs sx < 2 (1 − floor)² (sa + sb), since √sa + √sb ≤ √(2 (sa + sb)): a
    # test without square roots that rejects most pairs (with a hair of slack).
    bound = 2.0 * (1.0 - floor) * (1.0 - floor) * (1.0 + 1e-9)
    for q in range(size):
        sa, sb, sx = counts[0, q], counts[1, q], counts[2, q]
        if sx >= bound * (sa + sb):
            continue
        denominator = roots[sa] + roots[sb]
        # λ = 1 − √sx / (√sa + √sb) beats the floor: tested without a division.
        if roots[sx] >= (1.0 - floor) * denominator:
            continue
        top[low] = 1.0 - roots[sx] / denominator
        low = 0
        for r in range(1, n_p):
            if top[r] < top[low]:
                low = r
        floor = top[low]
        bound = 2.0 * (1.0 - floor) * (1.0 - floor) * (1.0 + 1e-9)
    return floor, low


@njit(cache=True, nogil=True)
def _lss(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
         order: NDArray[np.int64], gw: NDArray[np.uint64], lo: int, hi: int,
         gt: NDArray[np.float32], nd: int, min_me: int, delta_theta: float,
         top: NDArray[np.float64], roots: NDArray[np.float64],
         counts: NDArray[np.int64], min_np: int, max_np: int, mu_p: float,
         tau_p: float) -> float:
    """Global score of probe ``a`` (one row per cylinder, visited in ``order``:
    :func:`probe_order`) against the gallery template held by columns ``lo:hi`` of ``gw``
    (one row per word: the ``nd × mw`` cylinder words, then the ``mw`` mask words), its
    cylinders sorted by direction ``gt``: mean of the ``n_P`` best local similarities.

    Only gallery cylinders whose direction is within ``δθ`` of the probe cylinder's can be
    compared; sorted, they are a circular window that slides forward as the probe's
    directions grow (:func:`_window`), so about half the pairs are never looked at. The
    window's pairs are counted without branches (:func:`_count_pairs`), then the best
    ``n_P`` kept (:func:`_keep_best`)."""
    na, nb = ta.size, hi - lo
    if na == 0 or nb == 0:
        return 0.0
    z = 1.0 / (1.0 + math.exp(-tau_p * (min(na, nb) - mu_p)))
    n_p = min_np + int(round(z * (max_np - min_np)))
    top[:n_p] = 0.0
    floor = 0.0  # the smallest of the kept best, replaced when beaten
    low = 0
    start = 0
    stop = 0
    for i in order:
        left = ta[i] - delta_theta
        if left < 0.0:
            left += _TWO_PI
        start, stop = _window(gt, lo, nb, left, 2.0 * delta_theta, start, stop)
        # The window's columns up to the end of the template, then from its start.
        if start < nb:
            _count_pairs(ca, ma, i, gw, lo + start, lo + min(stop, nb), 0, nd, min_me,
                         counts)
        if stop > nb:
            _count_pairs(ca, ma, i, gw, lo + max(start, nb) - nb, lo + stop - nb,
                         max(0, nb - start), nd, min_me, counts)
        floor, low = _keep_best(counts, stop - start, roots, top, n_p, floor, low)
    total = 0.0
    for q in range(n_p):
        total += top[q]
    return total / n_p


@njit(cache=True, nogil=True)
def to_columns(cylinders: NDArray[np.uint64], masks: NDArray[np.uint64],
               angles: NDArray[np.float32], offsets: NDArray[np.int64]
               ) -> tuple[NDArray[np.uint64], NDArray[np.float32]]:
    """Templates (rows ``offsets[g]:offsets[g + 1]`` of the arrays) in the gallery layout
    of :func:`score_many`: one row per word (cylinder words, then mask words), one column
    per cylinder, each template's cylinders sorted by direction; and the sorted
    directions."""
    words = cylinders.shape[1]
    mw = masks.shape[1]
    m = angles.size
    out = np.empty((words + mw, m), dtype=np.uint64)
    sorted_angles = np.empty(m, dtype=np.float32)
    for g in range(offsets.size - 1):
        lo, hi = offsets[g], offsets[g + 1]
        order = np.argsort(angles[lo:hi], kind="mergesort")
        for r in range(hi - lo):
            source = lo + order[r]
            sorted_angles[lo + r] = angles[source]
            for w in range(words):
                out[w, lo + r] = cylinders[source, w]
            for w in range(mw):
                out[words + w, lo + r] = masks[source, w]
    return out, sorted_angles


@njit(cache=True, nogil=True)
def score_one(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
              cb: NDArray[np.uint64], mb: NDArray[np.uint64], tb: NDArray[np.float32],
              nd: int, min_me: int, delta_theta: float, min_np: int, max_np: int,
              mu_p: float, tau_p: float) -> float:
    """1:1 LSS score of two templates."""
    top = np.zeros(max_np)
    roots = np.sqrt(np.arange(nd * ma.shape[1] * 64 + 1).astype(np.float64))
    counts = np.empty((3, tb.size), dtype=np.int64)
    offsets = np.array([0, tb.size], dtype=np.int64)
    gw, gt = to_columns(cb, mb, tb, offsets)
    return _lss(ca, ma, ta, probe_order(ta, delta_theta), gw, 0, tb.size, gt, nd, min_me,
                delta_theta, top, roots, counts, min_np,
                max_np, mu_p, tau_p)


@njit(cache=True, nogil=True)
def score_many(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
               gw: NDArray[np.uint64], gt: NDArray[np.float32],
               offsets: NDArray[np.int64], nd: int, min_me: int, delta_theta: float,
               min_np: int, max_np: int, mu_p: float, tau_p: float) -> NDArray[np.float32]:
    """1:N LSS scores of a probe against a flat gallery: template g is columns
    ``offsets[g]:offsets[g + 1]`` of ``gw`` and ``gt`` (:func:`to_columns`)."""
    count = offsets.size - 1
    out = np.zeros(count, dtype=np.float32)
    top = np.zeros(max_np)
    # Square roots of every possible bit count, looked up rather than computed per pair.
    roots = np.sqrt(np.arange(nd * ma.shape[1] * 64 + 1).astype(np.float64))
    largest = 0
    for g in range(count):
        largest = max(largest, offsets[g + 1] - offsets[g])
    counts = np.empty((3, largest), dtype=np.int64)
    order = probe_order(ta, delta_theta)
    for g in range(count):
        out[g] = _lss(ca, ma, ta, order, gw, offsets[g], offsets[g + 1], gt, nd, min_me,
                      delta_theta, top, roots, counts, min_np, max_np, mu_p,
                      tau_p)
    return out
