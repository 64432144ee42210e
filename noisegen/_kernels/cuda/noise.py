"""CUDA noise kernels: counter-RNG white noise and the coloured one-pole bank.

Same numbers as :mod:`noisegen._kernels.cpu.noise`: sample ``i`` of row ``r``
is ``normal_from_hash(hash64(stream_key(keys[r], streams[r]), start + i))``,
so a key gives the same noise on CPU and GPU (up to the last bit of the
libm ``log``/``exp`` in the ziggurat's rare tail, and the summation order of
the bank).

- :func:`white`: one thread per sample (fully parallel).
- :func:`colored`: one thread per row; the one-pole states live in
  registers / local memory. Each row may have its own bank (per-item
  ``beta``): banks are padded to one width with zero poles and zero
  residues, which contribute nothing.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..rng import ZIG_FI, ZIG_KI, ZIG_WI, hash64, normal_from_hash, stream_key

#: Largest one-pole bank a row may use (the 1/f designs use at most 9, 14 with a low ``min_freq_hz``).
MAX_SECTIONS = 16
#: Most complex one-pole pairs a row may use (the order-8 high-pass of ``min_freq_hz`` uses 4).
MAX_PAIRS = 8


@cuda.jit
def white(out, keys, streams, start):
    """``out[r, i]`` = N(0, 1) counter ``start + i`` of stream ``streams[r]`` under ``keys[r]``."""
    idx = cuda.grid(1)
    n = out.shape[1]
    if idx >= out.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    sk = stream_key(keys[r], streams[r])
    out[r, i] = normal_from_hash(hash64(sk, np.uint64(start + i)), ZIG_KI, ZIG_WI, ZIG_FI)


@cuda.jit
def colored(out, keys, streams, start, poles, residues, direct, pair_poles, pair_residues, state):
    """White noise of row ``r`` (stream ``streams[r]`` of ``keys[r]``) through its bank, like the CPU kernel.

    ``direct[r] + sum_k residues[r, k] / (1 - poles[r, k] z^-1)``, plus the
    complex one-pole pairs ``pair_poles[r, m]`` / ``pair_residues[r, m]``
    (``(re, im)``; the high-pass of ``min_freq_hz``). ``state[r]`` holds the
    ``poles.shape[1]`` real states, then ``(Re v, Im v)`` per pair; it is
    read before the first sample and written back after the last.
    """
    r = cuda.grid(1)
    if r >= out.shape[0]:
        return
    n_sections = poles.shape[1]
    n_pairs = pair_poles.shape[1]
    s = cuda.local.array(MAX_SECTIONS, np.float64)
    vr = cuda.local.array(MAX_PAIRS, np.float64)  # Re, Im of the pairs' complex states
    vi = cuda.local.array(MAX_PAIRS, np.float64)
    for k in range(n_sections):
        s[k] = state[r, k]
    for m in range(n_pairs):
        vr[m] = state[r, n_sections + 2 * m]
        vi[m] = state[r, n_sections + 2 * m + 1]
    sk = stream_key(keys[r], streams[r])
    d = direct[r]
    for j in range(out.shape[1]):
        x = normal_from_hash(hash64(sk, np.uint64(start + j)), ZIG_KI, ZIG_WI, ZIG_FI)
        y = d * x
        for k in range(n_sections):
            v = poles[r, k] * s[k] + x
            s[k] = v
            y += residues[r, k] * v
        for m in range(n_pairs):
            re = pair_poles[r, m, 0] * vr[m] - pair_poles[r, m, 1] * vi[m] + x
            im = pair_poles[r, m, 0] * vi[m] + pair_poles[r, m, 1] * vr[m]
            vr[m] = re
            vi[m] = im
            y += pair_residues[r, m, 0] * re - pair_residues[r, m, 1] * im
        out[r, j] = y
    for k in range(n_sections):
        state[r, k] = s[k]
    for m in range(n_pairs):
        state[r, n_sections + 2 * m] = vr[m]
        state[r, n_sections + 2 * m + 1] = vi[m]
