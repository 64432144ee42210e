"""Pure-Python twins of the explicit-SIMD intrinsics of :mod:`._simd`, for ``NUMBA_DISABLE_JIT=1``.

Each takes the arguments of its intrinsic (tuples of starts, literal ints as
plain ints) and computes what its docstring says, in NumPy, keeping the order
of the sums (a vector of lane partial sums, then the lanes summed in the same
tree); only the fusing of the multiply-adds differs, so results agree to float
rounding. :data:`ARRAY_OPS` lets the scalar code that writes the IR of a
butterfly run on NumPy arrays instead, the same operations in the same order.
"""

from __future__ import annotations

import numpy as np

#: Width of one vector of taps (AVX2: 8 float32 or 4 float64); :data:`._simd.VECTOR_BYTES`.
VECTOR_BYTES = 32
#: :data:`._simd.FIR_VECTORS` and :data:`._simd.FIR_STEPS`.
FIR_VECTORS, FIR_STEPS = 8, 5
#: :data:`._simd.BANK_CHUNK`.
BANK_CHUNK = 4


class _ArrayOps:
    """The float operations of an llvmlite IR builder, on NumPy arrays."""

    fadd, fsub, fmul, fneg = staticmethod(np.add), staticmethod(np.subtract), staticmethod(np.multiply), staticmethod(
        np.negative)


ARRAY_OPS = _ArrayOps()


def lanes_of(array) -> int:
    """Lanes of one vector of ``array``'s dtype."""
    return VECTOR_BYTES // array.itemsize


def lane_tree(v):
    """Lane sums along the last axis, lane ``l + L/2`` onto lane ``l`` and so on (:func:`._simd._lane_sums`)."""
    while v.shape[-1] > 1:
        half = v.shape[-1] // 2
        v = v[..., :half] + v[..., half:]
    return v[..., 0]


def py_dot_products(x, x_starts, h, h_starts, n):
    """Twin of :func:`._simd.dot_products`."""
    lanes = lanes_of(x)
    h_starts = (h_starts,) * len(x_starts) if np.ndim(h_starts) == 0 else h_starts
    out = []
    for s, r in zip(x_starts, h_starts):
        s, r = int(s), int(r)
        products = (h[r:r + n] * x[s:s + n]).reshape(-1, lanes)
        out.append(lane_tree(products.sum(axis=0)))  # (rows added one after the other, as the vectors)
    return tuple(out)


def py_lane_dots(x, start, h, n_taps, out, count):
    """Twin of :func:`._simd.lane_dots`."""
    lanes, start, count = lanes_of(x), int(start), int(count)
    windows = np.lib.stride_tricks.sliding_window_view(x[start:start + count * lanes + n_taps - 1], n_taps)
    products = (windows * h[:n_taps]).reshape(count * lanes, n_taps // lanes, lanes)
    out[:count * lanes] = lane_tree(products.sum(axis=1))


def py_folded_fir(p, a_starts, b_starts, taps, centre, centre_tap, out, o):
    """Twin of :func:`._simd.folded_fir`."""
    lanes = lanes_of(p)
    width = FIR_VECTORS * lanes
    i = np.arange(width)
    acc = p.dtype.type(centre_tap) * p[int(centre) + i]
    for c in range(len(a_starts)):
        a, b = int(a_starts[c]), int(b_starts[c])
        for t in range(FIR_STEPS):
            acc = taps[c * FIR_STEPS + t] * (p[a + i - lanes * t] + p[b + i + lanes * t]) + acc
    out[int(o):int(o) + width] = acc
    return lane_tree(acc.reshape(FIR_VECTORS, lanes).sum(axis=0))


def py_fmuladd(a, b, c):
    """Twin of :func:`._simd.fmuladd` (not fused)."""
    return np.float64(a) * np.float64(b) + np.float64(c)


def py_one_pole_bank(x, y, n, direct, poles, residues, state, chunks, rest):
    """Twin of :func:`._simd.one_pole_bank`."""
    width = BANK_CHUNK * (chunks + (rest > 0))
    p, r = poles[:width], residues[:width].reshape(-1, BANK_CHUNK)
    s = state[:width].copy()
    d = np.float64(direct)
    for j in range(int(n)):
        s = p * s + x[j]
        total = d * x[j]
        if chunks:
            part = np.zeros(BANK_CHUNK)
            part[0] = total
            for c in range(chunks):
                part = r[c] * s[c * BANK_CHUNK:(c + 1) * BANK_CHUNK] + part
            total = (part[0] + part[2]) + (part[1] + part[3])
        for k in range(rest):
            total = r[chunks, k] * s[chunks * BANK_CHUNK + k] + total
        y[j] = total
    state[:width] = s
