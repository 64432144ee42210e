"""Noise kernels: counter-RNG white noise and 1/f**beta noise by parallel one-poles.

Both write into a caller-allocated ``out[channel, sample]``; channel ``c`` is
counter-RNG stream ``stream0 + c`` and sample ``j`` of the call is counter
``start + j``, so any chunking of a long signal gives the same samples.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel
from ..rng import ZIG_FI, ZIG_KI, ZIG_WI, hash64, normal_from_hash, stream_key


@kernel
def white(out, key, stream0, start):
    """out[c, j] = N(0, 1) sample ``start + j`` of stream ``stream0 + c``."""
    k = np.uint64(key)
    for c in range(out.shape[0]):
        sk = stream_key(k, np.uint64(stream0 + c))
        for j in range(out.shape[1]):
            out[c, j] = normal_from_hash(hash64(sk, np.uint64(start + j)), ZIG_KI, ZIG_WI, ZIG_FI)


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
    sections.
    """
    k0 = np.uint64(key)
    n_poles = poles.shape[0]
    n_states = n_poles + 2 * pair_poles.shape[0]
    s = np.empty(n_states, dtype=np.float64)
    for c in range(out.shape[0]):
        sk = stream_key(k0, np.uint64(c))
        for k in range(n_states):
            s[k] = state[c, k]
        for j in range(out.shape[1]):
            x = normal_from_hash(hash64(sk, np.uint64(start + j)), ZIG_KI, ZIG_WI, ZIG_FI)
            y = direct * x
            for k in range(n_poles):
                v = poles[k] * s[k] + x
                s[k] = v
                y += residues[k] * v
            for m in range(pair_poles.shape[0]):
                i = n_poles + 2 * m
                re = pair_poles[m, 0] * s[i] - pair_poles[m, 1] * s[i + 1] + x
                im = pair_poles[m, 0] * s[i + 1] + pair_poles[m, 1] * s[i]
                s[i] = re
                s[i + 1] = im
                y += pair_residues[m, 0] * re - pair_residues[m, 1] * im
            out[c, j] = y
        for k in range(n_states):
            state[c, k] = s[k]
