"""Room impulse response kernels: image sources as fractional delays, and the noise tail.

Both add into a caller-allocated ``out[mic, sample]`` (float64). Geometry,
absorption and the tail's level are worked out on the host
(:mod:`noisegen._design.room`); the kernels only loop.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import exact_kernel, kernel
from ..rng import ZIG_FI, ZIG_KI, ZIG_WI, hash64, normal_from_hash, stream_key

_INV_4PI = 1.0 / (4.0 * math.pi)


@kernel(inline="always")
def _add_fractional_delay(row, tau, amp, half):
    """``row[n] += amp * sinc(n - tau) * hann(n - tau)`` over the ``2 * half`` taps with ``|n - tau| < half``.

    ``sin(pi (q - f)) = -(-1)**q sin(pi f)`` for an integer ``q``, so one
    ``sin`` per image serves every tap. Taps before 0 or past the end are dropped.
    """
    n0 = int(math.floor(tau))
    frac = tau - n0
    s = math.sin(math.pi * frac)
    lo = max(n0 - half + 1, 0)
    hi = min(n0 + half, row.shape[0] - 1)
    for n in range(lo, hi + 1):
        x = n - tau
        if x == 0.0:
            v = 1.0
        else:
            v = s / (math.pi * x)
            if (n - n0) % 2 == 0:
                v = -v
        row[n] += amp * v * (0.5 + 0.5 * math.cos(math.pi * x / half))


@kernel
def add_images(out, mics, xp, xa, xo, yp, ya, yo, zp, za, zo, max_order, radius, samples_per_m, half):
    """Add every image within ``radius`` (m) of microphone ``m`` with order ``<= max_order`` to ``out[m]``.

    Per-axis image lists: positions ``*p``, amplitude factors ``*a`` (products
    of wall reflection coefficients) and reflection orders ``*o``. An image
    at distance ``d`` arrives ``d * samples_per_m`` samples after emission
    with amplitude ``a / (4 pi d)``; ``d > 0`` (the caller keeps microphones
    off the source).
    """
    r2 = radius * radius
    for m in range(mics.shape[0]):
        row = out[m]
        for i in range(xp.shape[0]):
            dx = xp[i] - mics[m, 0]
            dx2 = dx * dx
            if dx2 > r2 or xo[i] > max_order:
                continue
            for j in range(yp.shape[0]):
                dy = yp[j] - mics[m, 1]
                dxy2 = dx2 + dy * dy
                oxy = xo[i] + yo[j]
                if dxy2 > r2 or oxy > max_order:
                    continue
                axy = xa[i] * ya[j] * _INV_4PI
                for k in range(zp.shape[0]):
                    dz = zp[k] - mics[m, 2]
                    d2 = dxy2 + dz * dz
                    if d2 > r2 or oxy + zo[k] > max_order:
                        continue
                    d = math.sqrt(d2)
                    _add_fractional_delay(row, d * samples_per_m, axy * za[k] / d, half)


@exact_kernel
def add_tail(out, key, streams, start, amps, decay):
    """``out[m, n] += amps[m] * exp(-decay * n) * N(0, 1)`` for ``n >= start``.

    The normal sample is counter ``n`` of counter-RNG stream ``streams[m]``
    under ``key``, so it depends on ``(key, stream, n)`` only.
    """
    k = np.uint64(key)
    for m in range(out.shape[0]):
        sk = stream_key(k, np.uint64(streams[m]))
        a = amps[m]
        for n in range(start, out.shape[1]):
            g = normal_from_hash(hash64(sk, np.uint64(n)), ZIG_KI, ZIG_WI, ZIG_FI)
            out[m, n] += a * math.exp(-decay * n) * g
