"""Noise kernels: counter-RNG white noise and 1/f**beta noise by parallel one-poles.

Both write into a caller-allocated ``out[channel, sample]``; channel ``c`` is
counter-RNG stream ``stream0 + c`` and sample ``j`` of the call is counter
``start + j``, so any chunking of a long signal gives the same samples.

Normals are made a block at a time (:func:`normals`): the hashes and the
ziggurat's first try run as branch-free loops LLVM vectorises, then the few
rejected samples (about 1.5 %) take the scalar ziggurat. Every sample is
still ``normal_from_hash(hash64(sk, i))``, bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import exact_kernel, kernel
from ._simd import fmuladd, one_pole_bank
from ..rng import ZIG_FI, ZIG_KI, ZIG_WI, hash64, normal_first_try, normal_from_hash, stream_key

#: Samples per block of :func:`normals` (its buffers stay in L1).
BLOCK = 256


@kernel
def _hashes(hashes, sk, start):
    for j in range(hashes.shape[0]):  # vectorised (64-bit multiplies)
        hashes[j] = hash64(sk, np.uint64(start + j))


@kernel
def _first_tries(x, rejected, hashes):
    for j in range(hashes.shape[0]):  # vectorised (table gathers): only stores of its own lanes
        x[j], ok = normal_first_try(hashes[j], ZIG_KI, ZIG_WI)
        rejected[j] = not ok
    n_rejected = 0
    for j in range(hashes.shape[0]):  # compacted in place without a branch (n_rejected <= j)
        flag = rejected[j]
        rejected[n_rejected] = j
        n_rejected += flag
    return n_rejected


@kernel
def normals(x, rejected, hashes, sk, start):
    """``x[j]`` = N(0, 1) sample ``start + j`` of the stream with key ``sk``.

    ``rejected`` (intp) and ``hashes`` (uint64) are scratch buffers as long as ``x``.
    """
    _hashes(hashes, sk, start)
    for r in range(_first_tries(x, rejected, hashes)):
        j = rejected[r]
        x[j] = normal_from_hash(hashes[j], ZIG_KI, ZIG_WI, ZIG_FI)


@kernel
def white(out, key, stream0, start):
    """out[c, j] = N(0, 1) sample ``start + j`` of stream ``stream0 + c``."""
    k = np.uint64(key)
    n = out.shape[1]
    x = np.empty(BLOCK)
    rejected = np.empty(BLOCK, dtype=np.intp)
    hashes = np.empty(BLOCK, dtype=np.uint64)
    for c in range(out.shape[0]):
        sk = stream_key(k, np.uint64(stream0 + c))
        for j0 in range(0, n, BLOCK):
            m = min(BLOCK, n - j0)
            normals(x[:m], rejected[:m], hashes[:m], sk, start + j0)
            row = out[c, j0:j0 + m]
            for j in range(m):
                row[j] = x[j]


@exact_kernel  # no fast-math: each row's sum in one order, so a channel's state is the mono draw's, bit for bit
def matmul_rows(z, weights, out):
    """out[c, i] = sum over j of z[c, j] * weights[i, j], summed in j's order (BLAS rounds a one-row and a
    many-row product apart: channel 0 of stereo noise was not the mono noise of its seed)."""
    for c in range(z.shape[0]):
        for i in range(weights.shape[0]):
            acc = 0.0
            for j in range(weights.shape[1]):
                acc += z[c, j] * weights[i, j]
            out[c, i] = acc


@kernel
def colored(out, key, start, poles, residues, direct, pair_poles, pair_residues, state):
    """White noise through ``direct + sum_k residues[k] / (1 - poles[k] z^-1)`` plus complex one-pole pairs.

    Pair ``m`` runs ``v' = p v + x`` with complex ``p = pair_poles[m, 0] +
    1j * pair_poles[m, 1]`` and adds ``Re(R v)``, ``R`` from
    ``pair_residues[m]`` (none without a high-pass). ``state[c]`` holds
    channel ``c``'s real one-pole states, then ``(Re v, Im v)`` per pair,
    before the first sample; it is updated in place, so consecutive calls
    continue seamlessly. The one-poles are independent, which keeps the
    per-sample dependency chain one multiply-add long whatever the number of
    sections. The banks of :func:`~noisegen._design.noise.design_bank`
    without a high-pass (9 real sections, or 2 for |beta| = 2) run their
    states as one vector (:func:`_colored_lanes`), with the same bits.
    """
    if pair_poles.shape[0] == 0 and (poles.shape[0] == 9 or poles.shape[0] == 2):
        _colored_lanes(out, key, start, poles, residues, direct, state)
    else:
        _colored_sections(out, key, start, poles, residues, direct, pair_poles, pair_residues, state)


@exact_kernel  # no fast-math flags on the intrinsic's arithmetic: its order is the point
def _bank_block(xs, ys, m, direct, poles, residues, s, n_poles):
    """:func:`~._simd.one_pole_bank` for the bank sizes of :func:`colored`'s vector path."""
    if n_poles == 9:
        one_pole_bank(xs, ys, m, direct, poles, residues, s, 2, 1)
    else:
        one_pole_bank(xs, ys, m, direct, poles, residues, s, 0, 2)


@kernel
def _colored_lanes(out, key, start, poles, residues, direct, state):
    """:func:`colored` for 9 or 2 real one-poles: a block of normals first, then the bank
    over it as one vector (:func:`_bank_block`)."""
    k0 = np.uint64(key)
    n = out.shape[1]
    xs = np.empty(BLOCK)
    ys = np.empty(BLOCK)
    rejected = np.empty(BLOCK, dtype=np.intp)
    hashes = np.empty(BLOCK, dtype=np.uint64)
    n_poles = poles.shape[0]
    width = -(-n_poles // 4) * 4  # whole chunks of :data:`~._simd.BANK_CHUNK`, zero-padded
    p = np.zeros(width)
    r = np.zeros(width)
    s = np.zeros(width)
    for k in range(n_poles):  # element loops: slice assignment costs seconds of compilation
        p[k] = poles[k]
        r[k] = residues[k]
    for c in range(out.shape[0]):
        sk = stream_key(k0, np.uint64(c))
        for k in range(n_poles):
            s[k] = state[c, k]
        for j0 in range(0, n, BLOCK):
            m = min(BLOCK, n - j0)
            normals(xs[:m], rejected[:m], hashes[:m], sk, start + j0)
            _bank_block(xs, ys, m, direct, p, r, s, n_poles)
            row = out[c, j0:j0 + m]
            for j in range(m):
                row[j] = ys[j]
        for k in range(n_poles):
            state[c, k] = s[k]


@exact_kernel  # no fast-math: the order below is the result (a fresh and a cached fast-math build once differed)
def _colored_sections(out, key, start, poles, residues, direct, pair_poles, pair_residues, state):
    """:func:`colored` section by section, sample by sample (any bank, complex pairs included).

    Every operation's order is written out, with explicit multiply-adds: for the real sections
    that of :func:`~._simd.one_pole_bank` (four partial sums over whole chunks of four sections,
    added as ``(a0 + a2) + (a1 + a3)``, then the rest one by one), so this loop and the vector
    path give the same bits, from any build of either.
    """
    k0 = np.uint64(key)
    n = out.shape[1]
    n_poles = poles.shape[0]
    n_chunks = n_poles // 4
    n_states = n_poles + 2 * pair_poles.shape[0]
    s = np.empty(n_states, dtype=np.float64)
    xs = np.empty(BLOCK)
    rejected = np.empty(BLOCK, dtype=np.intp)
    hashes = np.empty(BLOCK, dtype=np.uint64)
    for c in range(out.shape[0]):
        sk = stream_key(k0, np.uint64(c))
        for k in range(n_states):
            s[k] = state[c, k]
        for j in range(n):
            jb = j % BLOCK
            if jb == 0:
                m = min(BLOCK, n - j)
                normals(xs[:m], rejected[:m], hashes[:m], sk, start + j)
            x = xs[jb]
            for k in range(n_poles):
                s[k] = fmuladd(poles[k], s[k], x)
            y = direct * x
            if n_chunks:
                a0, a1, a2, a3 = y, 0.0, 0.0, 0.0
                for q in range(0, 4 * n_chunks, 4):
                    a0 = fmuladd(residues[q], s[q], a0)
                    a1 = fmuladd(residues[q + 1], s[q + 1], a1)
                    a2 = fmuladd(residues[q + 2], s[q + 2], a2)
                    a3 = fmuladd(residues[q + 3], s[q + 3], a3)
                y = (a0 + a2) + (a1 + a3)
            for k in range(4 * n_chunks, n_poles):
                y = fmuladd(residues[k], s[k], y)
            for q in range(pair_poles.shape[0]):
                i = n_poles + 2 * q
                pr, pi = pair_poles[q, 0], pair_poles[q, 1]
                re = fmuladd(pr, s[i], fmuladd(-pi, s[i + 1], x))
                im = fmuladd(pr, s[i + 1], pi * s[i])
                s[i] = re
                s[i + 1] = im
                y = fmuladd(pair_residues[q, 0], re, fmuladd(-pair_residues[q, 1], im, y))
            out[c, j] = y
        for k in range(n_states):
            state[c, k] = s[k]
