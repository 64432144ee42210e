"""CUDA windowed-sinc resampling with a different ratio per row, in one launch.

The arithmetic is that of :mod:`noisegen._kernels.cpu.resample` (same tables,
from :class:`noisegen._design.resample.Plan`): output sample ``k`` of row ``r`` is
the dot product of the row's table row(s) with the input around
``floor(t_k)``. All rows' tables sit in one flat array; ``iparams[r]`` says
where row ``r``'s table starts and how to read it:

``iparams[r] = (mode, table_offset, n_taps, half, up_or_phases, down)``

- ``mode == 0`` (rational ratio ``up/down``): ``t_k = k * down / up``, one
  exact table row per phase ``(k * down) % up``;
- ``mode == 1`` (any other ratio): ``t_k = k * steps[r]``, the dot products
  of the two table rows around the phase are blended linearly
  (``up_or_phases`` phases, ``n_phases + 1`` rows);
- ``mode == 2`` (ratio 1, e.g. speed factor 1.0): a plain copy, as on the CPU.

Input samples outside ``[0, n_in[r])`` count as zero and outputs at or
beyond ``n_out[r]`` are written as zero (a padded batch). One thread per
output sample; sums run in float64.
"""

from __future__ import annotations

import math

from numba import cuda


@cuda.jit
def resample_rows(x, n_in, table, iparams, steps, n_out, out):
    idx = cuda.grid(1)
    n = out.shape[1]
    if idx >= out.shape[0] * n:
        return
    r = idx // n
    k = idx - r * n
    if k >= n_out[r]:
        out[r, k] = 0.0
        return
    mode = iparams[r, 0]
    base = iparams[r, 1]
    n_taps = iparams[r, 2]
    half = iparams[r, 3]
    m_in = n_in[r]
    if mode == 2:
        out[r, k] = x[r, k] if k < m_in else 0.0
    elif mode == 0:
        up = iparams[r, 4]
        down = iparams[r, 5]
        pos = k * down
        i = pos // up
        row = base + (pos - i * up) * n_taps
        start = i + 1 - half
        acc = 0.0
        for j in range(n_taps):
            s = start + j
            if 0 <= s < m_in:
                acc += table[row + j] * x[r, s]
        out[r, k] = acc
    else:
        n_phases = iparams[r, 4]
        t = k * steps[r]
        fi = math.floor(t)
        pf = (t - fi) * n_phases
        p = int(pf)
        if p > n_phases - 1:
            p = n_phases - 1
        w = pf - p
        start = int(fi) + 1 - half
        row0 = base + p * n_taps
        row1 = row0 + n_taps
        acc0 = 0.0
        acc1 = 0.0
        for j in range(n_taps):
            s = start + j
            if 0 <= s < m_in:
                v = 1.0 * x[r, s]
                acc0 += table[row0 + j] * v
                acc1 += table[row1 + j] * v
        out[r, k] = acc0 + (acc1 - acc0) * w
