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


@njit(cache=True, nogil=True, inline="always")
def _counts(a_bits: NDArray[np.uint64], a_mask: NDArray[np.uint64], i: int,
            b_bits: NDArray[np.uint64], b_mask: NDArray[np.uint64], j: int, nd: int,
            mw: int) -> tuple[int, int, int]:
    """Bits set in cylinder ``i`` of a, in ``j`` of b and in their xor, on the common valid
    cells. Rows are indexed here, not sliced by the caller: a slice is an array view whose
    reference counting cost more than the popcounts."""
    sa = 0
    sb = 0
    sx = 0
    if mw == 1:  # NS = 8: one mask word, a branch LLVM unrolls
        both = a_mask[i, 0] & b_mask[j, 0]
        for k in range(nd):
            a = a_bits[i, k] & both
            b = b_bits[j, k] & both
            sa += _popcount(a)
            sb += _popcount(b)
            sx += _popcount(a ^ b)
        return sa, sb, sx
    for k in range(nd):
        for w in range(mw):
            both = a_mask[i, w] & b_mask[j, w]
            a = a_bits[i, k * mw + w] & both
            b = b_bits[j, k * mw + w] & both
            sa += _popcount(a)
            sb += _popcount(b)
            sx += _popcount(a ^ b)
    return sa, sb, sx


@njit(cache=True, nogil=True)
def _lss(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
         cb: NDArray[np.uint64], mb: NDArray[np.uint64], tb: NDArray[np.float32],
         nd: int, min_me: int, cos_gate: float, top: NDArray[np.float64],
         roots: NDArray[np.float64], scratch: NDArray[np.float64],
         min_np: int, max_np: int, mu_p: float, tau_p: float) -> float:
    """Global score of two templates: mean of the ``n_P`` best local similarities."""
    na, nb = ta.size, tb.size
    if na == 0 or nb == 0:
        return 0.0
    mw = ma.shape[1]
    z = 1.0 / (1.0 + math.exp(-tau_p * (min(na, nb) - mu_p)))
    n_p = min_np + int(round(z * (max_np - min_np)))
    top[:n_p] = 0.0
    floor = 0.0  # the smallest of the kept best, replaced when beaten
    low = 0
    # Directions as unit vectors: |Δθ| ≤ δθ is cos Δθ ≥ cos δθ, two products instead of an
    # angle difference per pair.
    for j in range(nb):
        scratch[2 * j] = math.cos(tb[j])
        scratch[2 * j + 1] = math.sin(tb[j])
    for i in range(na):
        cos_i, sin_i = math.cos(ta[i]), math.sin(ta[i])
        for j in range(nb):
            if cos_i * scratch[2 * j] + sin_i * scratch[2 * j + 1] < cos_gate:
                continue
            common = 0
            for w in range(mw):
                common += _popcount(ma[i, w] & mb[j, w])
            if common < min_me:
                continue
            sa, sb, sx = _counts(ca, ma, i, cb, mb, j, nd, mw)
            denominator = roots[sa] + roots[sb]
            # λ = 1 − √sx / (√sa + √sb) beats the floor: tested without a division.
            if denominator == 0.0 or roots[sx] >= (1.0 - floor) * denominator:
                continue
            top[low] = 1.0 - roots[sx] / denominator
            low = 0
            for q in range(1, n_p):
                if top[q] < top[low]:
                    low = q
            floor = top[low]
    total = 0.0
    for q in range(n_p):
        total += top[q]
    return total / n_p


@njit(cache=True, nogil=True)
def score_one(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
              cb: NDArray[np.uint64], mb: NDArray[np.uint64], tb: NDArray[np.float32],
              nd: int, min_me: int, delta_theta: float, min_np: int, max_np: int,
              mu_p: float, tau_p: float) -> float:
    """1:1 LSS score of two templates."""
    top = np.zeros(max_np)
    roots = np.sqrt(np.arange(nd * ma.shape[1] * 64 + 1).astype(np.float64))
    scratch = np.empty(2 * tb.size)
    return _lss(ca, ma, ta, cb, mb, tb, nd, min_me, math.cos(delta_theta), top, roots,
                scratch, min_np, max_np, mu_p, tau_p)


@njit(cache=True, nogil=True)
def score_many(ca: NDArray[np.uint64], ma: NDArray[np.uint64], ta: NDArray[np.float32],
               gc: NDArray[np.uint64], gm: NDArray[np.uint64], gt: NDArray[np.float32],
               offsets: NDArray[np.int64], nd: int, min_me: int, delta_theta: float,
               min_np: int, max_np: int, mu_p: float, tau_p: float) -> NDArray[np.float32]:
    """1:N LSS scores of a probe against a flat gallery (template g is rows
    ``offsets[g]:offsets[g + 1]`` of ``gc``, ``gm`` and ``gt``)."""
    count = offsets.size - 1
    out = np.zeros(count, dtype=np.float32)
    top = np.zeros(max_np)
    # Square roots of every possible bit count, looked up rather than computed per pair.
    roots = np.sqrt(np.arange(nd * ma.shape[1] * 64 + 1).astype(np.float64))
    largest = 0
    for g in range(count):
        largest = max(largest, offsets[g + 1] - offsets[g])
    scratch = np.empty(2 * largest)
    gate = math.cos(delta_theta)
    for g in range(count):
        lo, hi = offsets[g], offsets[g + 1]
        out[g] = _lss(ca, ma, ta, gc[lo:hi], gm[lo:hi], gt[lo:hi], nd, min_me, gate, top,
                      roots, scratch, min_np, max_np, mu_p, tau_p)
    return out
