"""CUDA mixing and sample-wise effect kernels, batched over rows.

Every kernel works on a 2-D ``(rows, n)`` array with per-row parameters, so a
``(B, T)`` batch with per-item SNR, gain, clip level or mask is one launch.

- :func:`row_sum_squares`: one block per row; its threads stride over the row
  (float64 partial sums) and reduce in shared memory. Any block size up to
  ``MAX_THREADS`` works (non powers of two included).
- :func:`snr_scales`: noise scale per row from the two powers and the SNR.
- the rest: one thread per sample.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ..._core.jit import scalar
from ..snr import noise_scale

#: Largest block size the reductions accept (the shared buffer's length).
MAX_THREADS = 1024


@cuda.jit
def row_sum_squares(x, offsets, n, out):
    """``out[r] = sum_{i < n} x[r, (offsets[r] + i) % m] ** 2`` (float64), ``m = x.shape[1]``.

    Launch with ``grid = rows`` blocks; ``offsets = 0`` and ``n = m`` give
    the plain sum of squares of each row.
    """
    buf = cuda.shared.array(MAX_THREADS, np.float64)
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    if r >= x.shape[0]:
        return
    m = x.shape[1]
    off = offsets[r]
    acc = 0.0
    i = t
    while i < n:
        j = off + i
        j -= (j // m) * m
        # np.float64(): float64 squares on the GPU and in the simulator alike, where the squares of
        # 1e-30 or 1e30 float32 samples underflow or overflow: 1.0 * a NumPy float32 stays float32
        # (NumPy 2) in the simulator, and Numba types float(float32) as float32 on the GPU
        v = np.float64(x[r, j])
        acc += v * v
        i += nt
    buf[t] = acc
    cuda.syncthreads()
    # tree reduction for any block size: the span is the next power of two
    span = 1
    while span < nt:
        span *= 2
    half = span // 2
    while half > 0:
        if t < half and t + half < nt:
            buf[t] += buf[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        out[r] = buf[0]


@cuda.jit
def snr_scales(p_signal, p_noise, snr_db, scales):
    """``scales[r] = sqrt(p_signal[r] / (p_noise[r] * 10**(snr_db[r] / 10)))`` (the shared
    :func:`~noisegen._kernels.snr.noise_scale`); 0 when either power is 0."""
    r = cuda.grid(1)
    if r >= scales.shape[0]:
        return
    ps = p_signal[r]
    pn = p_noise[r]
    if ps > 0.0 and pn > 0.0:
        scales[r] = noise_scale(ps, pn, 10.0 ** (snr_db[r] / 10.0))
    else:
        scales[r] = 0.0


@cuda.jit
def mix_rows(signal, noise, offsets, scales, out):
    """``out[r, i] = signal[r, i] + scales[r] * noise[r', (offsets[r] + i) % m]``.

    ``r' = r`` when ``noise`` has as many rows as ``signal``, else row 0 (a
    mono noise added to every row).
    """
    idx = cuda.grid(1)
    n = signal.shape[1]
    if idx >= signal.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    m = noise.shape[1]
    rn = r if noise.shape[0] == signal.shape[0] else 0
    j = offsets[r] + i
    j -= (j // m) * m
    out[r, i] = signal[r, i] + scales[r] * noise[rn, j]


@cuda.jit
def gain_rows(x, gains, out):
    """``out[r, i] = x[r, i] * gains[r]`` (``gains`` in ``x``'s dtype: the CPU rounding)."""
    idx = cuda.grid(1)
    n = x.shape[1]
    if idx >= x.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    out[r, i] = x[r, i] * gains[r]


@cuda.jit
def zero_past(x, lengths):
    """``x[r, i] = 0`` for ``i >= lengths[r]``, in place: a padded row's tail stays silent."""
    idx = cuda.grid(1)
    n = x.shape[1]
    if idx >= x.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    if i >= lengths[r]:
        x[r, i] = 0.0


@cuda.jit
def clip_rows(x, levels, out):
    """``out[r, i] = clip(x[r, i], -levels[r], levels[r])``."""
    idx = cuda.grid(1)
    n = x.shape[1]
    if idx >= x.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    v = x[r, i]
    lv = levels[r]
    if v > lv:
        v = lv
    elif v < -lv:
        v = -lv
    out[r, i] = v


@scalar
def round_half_even(v):
    """``numpy.round``'s rounding of a float to the nearest integer, ties to even."""
    f = v - math.fmod(v, 1.0)  # trunc(v), kept a float (math.floor would give an int)
    if f > v:
        f -= 1.0  # floor for negative v
    d = v - f
    if d > 0.5 or (d == 0.5 and math.fmod(f, 2.0) != 0.0):
        f += 1.0
    return f


@cuda.jit
def bitcrush_rows(x, steps, out):
    """``out[r, i] = round(x[r, i] * steps[r]) / steps[r]`` (``steps = 2 ** (bits - 1)``)."""
    idx = cuda.grid(1)
    n = x.shape[1]
    if idx >= x.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    s = steps[r]
    v = x[r, i] * s
    if abs(v) >= 4503599627370496.0:  # 2**52: a whole number already, or inf (x past max / s): x is on the grid
        out[r, i] = x[r, i]
    else:
        out[r, i] = round_half_even(v) / s


@scalar
def mask_weight(k, length, fade):
    """Weight of sample ``k`` of a masked stretch of ``length``: 1->0 fade, zeros, 0->1 fade."""
    if fade > length // 2:
        fade = length // 2
    if k < fade:
        return 0.5 + 0.5 * math.cos(math.pi * (k + 0.5) / fade)
    if k >= length - fade:
        return 0.5 + 0.5 * math.cos(math.pi * (length - 1 - k + 0.5) / fade)
    return 0.0


@cuda.jit
def time_mask_rows(x, starts, lengths, fades, out):
    """Multiply ``x[r, starts[r]:starts[r] + lengths[r]]`` by the mask window; copy the rest."""
    idx = cuda.grid(1)
    n = x.shape[1]
    if idx >= x.shape[0] * n:
        return
    r = idx // n
    i = idx - r * n
    k = i - starts[r]
    v = x[r, i]
    if 0 <= k < lengths[r]:
        v = v * mask_weight(k, lengths[r], fades[r])
    out[r, i] = v


from . import register_scalars  # noqa: E402

register_scalars([round_half_even, mask_weight])
