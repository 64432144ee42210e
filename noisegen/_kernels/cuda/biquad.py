"""CUDA biquad cascade: one thread per row (channel or batch item).

A row's recursion is sequential, so the parallelism is across rows; each
row may have its own cascade (per-item band edges). ``coef[r, s, :]`` holds
section ``s`` of row ``r`` in the form :func:`noisegen._kernels.biquad.biquad_step`
takes, from :func:`noisegen._kernels.biquad.biquad_coefficients` (the host
applies it to scipy's ``[b0, b1, b2, 1, a1, a2]`` rows). The per-sample math
is the CPU kernels' own.
``state[r, s, :]`` (float64) is read before the first sample and written
back after the last, so chunks stream like ``scipy.signal.sosfilt`` with
``zi``.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..biquad import biquad_step

#: Longest cascade a row may use (order-32 band-pass: 32 sections).
MAX_SECTIONS = 32


@cuda.jit
def sosfilt_rows(coef, x, out, state):
    """Filter row ``r`` of ``x`` through cascade ``coef[r]`` into ``out[r]`` (``out`` may be ``x``)."""
    r = cuda.grid(1)
    if r >= x.shape[0]:
        return
    n_sections = coef.shape[1]
    z1 = cuda.local.array(MAX_SECTIONS, np.float64)
    z2 = cuda.local.array(MAX_SECTIONS, np.float64)
    for s in range(n_sections):
        z1[s] = state[r, s, 0]
        z2[s] = state[r, s, 1]
    for i in range(x.shape[1]):
        v = 1.0 * x[r, i]
        for s in range(n_sections):
            v, a, b = biquad_step(
                v, coef[r, s, 0], coef[r, s, 1], coef[r, s, 2], coef[r, s, 3], coef[r, s, 4], z1[s], z2[s]
            )
            z1[s] = a
            z2[s] = b
        out[r, i] = v
    for s in range(n_sections):
        state[r, s, 0] = z1[s]
        state[r, s, 1] = z2[s]
