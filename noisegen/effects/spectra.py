"""FFT lengths from a coarse grid, real transforms in two vectorised steps, and a byte-bounded
cache of RIR spectra shared by all convolvers.

A convolution of ``n`` samples with an ``m``-sample RIR needs an FFT of at
least ``n + m - 1`` points, and the RIR's spectrum at that length. Taken
from :func:`fast_len` (eight lengths per octave) instead of the smallest
5-smooth length, the lengths of clips of many sizes fall on few values, so
the spectrum of a RIR computed for one clip serves the next clips of similar
lengths: one transform in three saved. The grid's lengths are products of a
large power of two and ``3**b * 5**c <= 15``, pocketfft's fastest per point
(a grid length is often faster than the smallest 5-smooth one above ``n``,
though up to 12.5 % longer).

:func:`grid_rfft` / :func:`grid_irfft` transform a length ``N = N1 * N2``
(``N1`` a power of two <= 512) in two steps (the "four-step" FFT without its
transposes): real transforms of length ``N1`` down the columns of the
``(N1, N2)`` array, a twiddle, complex transforms of length ``N2`` along the
rows. pocketfft vectorises a batch of transforms across rows (4 floats at
a time), which one long transform cannot use: 1.5-2x less time from 8192
points on (1.5x at 16384, 2x at 65536 and above; bench/KERNELS.md). The
spectrum comes out in a permuted layout, which a convolution does not mind
(the RIR's is in the same one); the output matches one transform to float
rounding.

:data:`SPECTRA` keeps the spectra, least recently used dropped first once
they hold more than :data:`SPECTRUM_CACHE_BYTES` (each process its own);
:data:`TWIDDLES` the twiddles, likewise.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import OrderedDict

import numpy as np
import scipy.fft as sfft

__all__ = ["fast_len", "grid_rfft", "grid_irfft", "SpectrumCache", "SPECTRA", "TWIDDLES", "SPECTRUM_CACHE_BYTES"]

#: Bytes of RIR spectra kept for reuse, over all convolvers of a process.
SPECTRUM_CACHE_BYTES = 64 << 20
#: Bytes of twiddles kept: the lengths of a corpus of clips (~1 MB per 128k points; the bench
#: corpus's stream fills 18 MB, and at 16 MB it remade tables it had dropped, ~1 ms apiece).
TWIDDLE_CACHE_BYTES = 32 << 20

_OCTAVE = (32, 36, 40, 45, 48, 50, 54, 60)  # x 2**k: ratios 1, 9/8, 5/4, 45/32, 3/2, 25/16, 27/16, 15/8
_GRID = sorted({1 << k for k in range(6)} | {b << k for b in _OCTAVE for k in range(58)})
_TWO_STEP_MIN = 8192  # below: one transform (the two steps' overheads outweigh the vectorisation)
_N1_MAX = 512


def fast_len(n: int) -> int:
    """The smallest grid FFT length >= ``n`` (see the module notes).

    Examples
    --------
    >>> [fast_len(n) for n in (1, 33, 100_000, 110_000, 131_072)]
    [1, 36, 102400, 110592, 131072]
    """
    return _GRID[bisect_left(_GRID, max(int(n), 1))]


class SpectrumCache:
    """Spectra by key, least recently used dropped once they hold more than ``max_bytes``.

    Thread-safe. Spectra are stored read-only; one larger than ``max_bytes``
    is returned but not kept.

    Examples
    --------
    >>> import numpy as np
    >>> cache = SpectrumCache(max_bytes=100)
    >>> a = cache.get("a", lambda: np.zeros(10))  # 80 bytes
    >>> b = cache.get("b", lambda: np.zeros(10))  # "a" dropped
    >>> cache.nbytes, cache.get("b", lambda: None) is b
    (80, True)
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        """The spectrum kept under ``key``, else ``make()`` (kept if it fits)."""
        with self._lock:
            spec = self._items.get(key)
            if spec is not None:
                self._items.move_to_end(key)
                return spec
        spec = make()
        spec.flags.writeable = False  # shared: callers multiply into their own arrays
        if spec.nbytes <= self.max_bytes:
            with self._lock:
                if key not in self._items:
                    self._items[key] = spec
                    self.nbytes += spec.nbytes
                while self.nbytes > self.max_bytes:
                    self.nbytes -= self._items.popitem(last=False)[1].nbytes
        return spec

    def clear(self):
        with self._lock:
            self._items.clear()
            self.nbytes = 0


SPECTRA = SpectrumCache(SPECTRUM_CACHE_BYTES)
#: The two-step transforms' twiddles, apart: a spectrum of a RIR met once must not push out the
#: twiddles every length needs (each ~1 ms to make for 100k points).
TWIDDLES = SpectrumCache(TWIDDLE_CACHE_BYTES)


def _split(nfft):
    """``(N1, N2)`` of the two-step transform of length ``nfft``, or None for one transform."""
    if nfft < _TWO_STEP_MIN or nfft & 1:
        return None
    n1 = min(_N1_MAX, nfft & -nfft)  # the largest power of two dividing nfft, up to 512
    return n1, nfft // n1


def _make_twiddles(n1, n2, dtype):
    """``exp(-2 pi i k1 n2 / N)`` as the product of two small tables: with ``n2 = a * B + b``
    (``B`` the divisor of ``N2`` nearest below its square root), ``w(k1 (a B + b)) = w(k1 a B) w(k1 b)``.
    The product is formed in float64 and rounded once to ``dtype`` (within 1e-15 of the
    directly evaluated twiddles), for ~sqrt(N) sines instead of N: 10x less time at 2**18 points."""
    n = n1 * n2
    rows = n1 // 2 + 1
    b = next(d for d in range(math.isqrt(n2), 0, -1) if n2 % d == 0)
    k1 = np.arange(rows)[:, None]

    def w(j):
        phase = (j % n) * (-2.0 * np.pi / n)  # exact integer products, reduced before scaling
        return np.cos(phase) + 1j * np.sin(phase)

    tw = np.empty((2, rows, n2 // b, b), dtype)
    # complex128 products cast into the complex64 rows as they are made: no table of N in float64
    np.multiply(w(k1 * (np.arange(n2 // b) * b)[None, :])[:, :, None], w(k1 * np.arange(b)[None, :])[:, None, :],
                out=tw[0], casting="same_kind")
    np.conjugate(tw[0], out=tw[1])
    return tw.reshape(2, rows, n2)


def _twiddles(n1, n2, dtype):
    """``exp(-2 pi i k1 n2 / N)`` and its conjugate, ``(2, N1 // 2 + 1, N2)``, kept in :data:`TWIDDLES`."""
    return TWIDDLES.get(("twiddles", n1, n2, dtype.char), lambda: _make_twiddles(n1, n2, dtype))


def grid_rfft(x2, nfft):
    """The spectrum of the rows of ``x2`` zero-padded to ``nfft`` samples, in :func:`grid_irfft`'s layout.

    Examples
    --------
    >>> import numpy as np
    >>> x, h = np.random.default_rng(0).standard_normal((2, 1, 9000))
    >>> y = grid_irfft(grid_rfft(x, 20480) * grid_rfft(h, 20480), 20480)
    >>> bool(np.allclose(y[0, :17999], np.convolve(x[0], h[0])))
    True
    """
    split = _split(nfft)
    if split is None:
        return sfft.rfft(x2, nfft, axis=-1, workers=1)
    n1, n2 = split
    buf = np.zeros((x2.shape[0], nfft), x2.dtype)
    buf[:, : x2.shape[1]] = x2
    a = sfft.rfft(buf.reshape(-1, n1, n2), axis=1, workers=1)  # down the columns: n2 transforms at once
    a *= _twiddles(n1, n2, a.dtype)[0]
    return sfft.fft(a, axis=2, workers=1, overwrite_x=True)


def grid_irfft(spec, nfft):
    """The ``(rows, nfft)`` real signal whose :func:`grid_rfft` is ``spec`` (which may be overwritten)."""
    split = _split(nfft)
    if split is None:
        return sfft.irfft(spec, nfft, axis=-1, workers=1)
    n1, n2 = split
    a = sfft.ifft(spec, axis=2, workers=1, overwrite_x=True)
    a *= _twiddles(n1, n2, a.dtype)[1]
    return sfft.irfft(a, n1, axis=1, workers=1).reshape(spec.shape[0], nfft)
