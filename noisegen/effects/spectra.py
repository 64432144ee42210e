"""FFT lengths from a coarse grid, real FFTs in Numba for them, and a byte-bounded cache of RIR
spectra shared by all convolvers.

A convolution of ``n`` samples with an ``m``-sample RIR needs an FFT of at
least ``n + m - 1`` points, and the RIR's spectrum at that length. Taken
from :func:`fast_len` (eight lengths per octave) instead of the smallest
5-smooth length, the lengths of clips of many sizes fall on few values, so
the spectrum of a RIR computed for one clip serves the next clips of similar
lengths: one transform in three saved. The grid's lengths are products of a
large power of two and ``3**b * 5**c <= 45`` (a grid length is often faster
than the smallest 5-smooth one above ``n``, though up to 12.5 % longer).

:func:`grid_rfft` / :func:`grid_irfft` are ``scipy.fft.rfft`` / ``irfft``
(natural order, the same results to float rounding) computed from 512
points on by the kernels of :mod:`noisegen._kernels.cpu.fft`: the ``N / 2``
point complex transform of the even and odd samples as real and imaginary
parts, by the four-step method (``N / 2 = M1 M2``, ``M1`` near the square
root, both multiples of 8), each step a batch of column transforms whose
inner loop runs across columns (vectorised 8-16 floats wide, where pocketfft's
batches are 4 wide), then untangled into the real spectrum. Against the
earlier two-step pocketfft scheme, float32, an rfft + irfft pair: 1.6-1.8x
less time at 8192-32768 points, 1.2-1.35x at 65536-131072, even at 262144
(bench/KERNELS.md). :func:`rfft_blocks` transforms overlap-save's blocks where
they lie in the padded signal.

The kernels' twiddles (:func:`_make_table`) are evaluated in float64 from
exact integer phases and rounded once, and kept in the on-disk design cache
(:func:`~noisegen._core.diskcache.cached_array`: reading one takes a tenth
of making it, ~5 ms at 2**18 points, and a fresh process meets a few dozen
lengths); each thread keeps the scratch of the
largest transform it has run (a few MB at 2**19 points in float64).

:data:`SPECTRA` keeps the spectra, least recently used dropped first once
they hold more than :data:`SPECTRUM_CACHE_BYTES` (each process its own);
:data:`TWIDDLES` the twiddles, likewise.
"""

from __future__ import annotations

import functools
import math
import threading
from bisect import bisect_left

import numpy as np
import scipy.fft as sfft

from .._core.diskcache import cached_array, source_digest
from .._core.lru import BytesCache
from .._kernels.cpu import fft as _fft

__all__ = ["fast_len", "grid_rfft", "grid_irfft", "rfft_blocks", "SPECTRA", "TWIDDLES", "SPECTRUM_CACHE_BYTES"]

#: Bytes of RIR spectra kept for reuse, over all convolvers of a process.
SPECTRUM_CACHE_BYTES = 64 << 20
#: Bytes of twiddles kept: the lengths of a corpus of clips (~1 MB per 128k points; the bench
#: corpus's stream fills 18 MB, and at 16 MB it remade tables it had dropped, ~1 ms apiece).
TWIDDLE_CACHE_BYTES = 32 << 20

_OCTAVE = (32, 36, 40, 45, 48, 50, 54, 60)  # x 2**k: ratios 1, 9/8, 5/4, 45/32, 3/2, 25/16, 27/16, 15/8
_GRID = sorted({1 << k for k in range(6)} | {b << k for b in _OCTAVE for k in range(58)})
_KERNEL_MIN = 512  # below: scipy's transform (the kernels are faster from 512 points: bench/KERNELS.md)
_SLICE_POINTS = 1 << 15
_RADICES = (8, 4, 2, 3, 5)  # (4, 2, 3, 5): radix 4 only, for comparisons  # points per slice of the column transforms (the slice and its scratch in L2)


def fast_len(n: int) -> int:
    """The smallest grid FFT length >= ``n`` (see the module notes).

    Examples
    --------
    >>> [fast_len(n) for n in (1, 33, 100_000, 110_000, 131_072)]
    [1, 36, 102400, 110592, 131072]
    """
    return _GRID[bisect_left(_GRID, max(int(n), 1))]


SPECTRA = BytesCache(SPECTRUM_CACHE_BYTES)
#: The kernels' twiddle tables, apart: a spectrum of a RIR met once must not push out the
#: twiddles every length needs (each ~1 ms to make for 100k points).
TWIDDLES = BytesCache(TWIDDLE_CACHE_BYTES)


def _radices(n):
    """The passes of an ``n``-point column transform: radix 8 as far as it goes (a last 2 made two 4s
    with an 8), then 3s and 5s."""
    two = (n & -n).bit_length() - 1  # n = 2**two * odd
    out = [8] * (two // 3) + {0: [], 1: [2], 2: [4]}[two % 3]
    if two % 3 == 1 and two >= 4 and _RADICES[0] == 8:
        out = out[:-2] + [4, 4]  # 8 2 -> 4 4
    if _RADICES[0] != 8:
        out = [4] * (two // 2) + [2] * (two % 2)
    n >>= two
    for r in (3, 5):
        while n % r == 0:
            out.append(r)
            n //= r
    return out if n == 1 else None


def _width(rows, columns):
    """Columns per slice of ``rows``-point column transforms: about :data:`_SLICE_POINTS` points,
    a multiple of 16 (whole vectors, and whole tiles of the transposition), at most ``columns``."""
    if rows * columns <= _SLICE_POINTS:
        return columns
    slices = -(-rows * columns // _SLICE_POINTS)
    return min(columns, (-(-columns // slices) + 15) // 16 * 16)


@functools.lru_cache(maxsize=None)
def _factors(nfft):
    """The kernels' plan of an ``nfft``-point real transform (``fac`` of
    :mod:`noisegen._kernels.cpu.fft`), or None for scipy's: ``M = nfft / 2 = M1 M2`` with ``M1``
    nearest ``sqrt(M)`` among the splits into multiples of 8 (whole tiles of the transposition)."""
    m = nfft // 2
    if nfft < _KERNEL_MIN or nfft % 2 or m % 64:
        return None
    splits = [d for d in range(8, m // 8 + 1, 8) if m % d == 0 and (m // d) % 8 == 0]
    m1 = min(splits, key=lambda d: (abs(math.log(d * d / m)), d))
    m2 = m // m1
    r1, r2 = _radices(m1), _radices(m2)
    if r1 is None or r2 is None:
        return None
    fac = np.array([m1, m2, _width(m1, m2), _width(m2, m1), len(r1), *r1, len(r2), *r2], np.int64)
    fac.flags.writeable = False
    return fac


def _circle(n):
    """``exp(-2 pi i t / n)`` for ``t < n`` (real and imaginary parts, float64; ``n`` a multiple of
    8): the angle reduced in integers to the nearest quarter turn ``k``, the rest ``(pi / 2) (4 u /
    n)`` (at most an eighth turn, ``u = t - k n / 4``) evaluated, so the error is a few 1e-17
    whatever ``t`` and ``n`` (``t * (2 pi / n)`` is off by up to ``2 pi`` ulps). ``u`` runs through
    the same ``n / 4`` integers in each quarter, so each cosine and sine is evaluated once and the
    circle pieced from slices of them, swapped and negated by the quarter (exact). The roots of a
    divisor ``d`` of ``n`` are those at ``t n / d``: the same reduced quotients, rounded once, as
    evaluated with ``d`` itself."""
    e = n // 8
    a = (np.pi / 2) * ((4 * np.arange(-e, e)) / n)  # (as in the reduced angle of each entry)
    c, s = np.cos(a), np.sin(a)  # of u = -e .. e - 1
    re, im = np.empty(n), np.empty(n)
    # exp(-i a) (-i)**k: re = c, -s, -c, s and im = -s, -c, s, c for k = 0..3 (and 4, a whole turn: 0)
    re[:e], im[:e] = c[e:], -s[e:]                     # k = 0: t < n / 8, u = t
    re[e:3 * e], im[e:3 * e] = -s, -c                  # k = 1
    re[3 * e:5 * e], im[3 * e:5 * e] = -c, s           # k = 2
    re[5 * e:7 * e], im[5 * e:7 * e] = s, c            # k = 3
    re[7 * e:], im[7 * e:] = c[:e], -s[:e]             # k = 4: u = t - n < 0
    return re, im


def _make_table(nfft, dtype):
    """The twiddles of :mod:`noisegen._kernels.cpu.fft` for ``nfft`` points, end to end: ``w_M1^j``,
    ``w_M2^j``, ``w_M^(k1 n2)`` as ``(M2, M1)``, ``w_N^k`` (``k < M``), real parts then
    imaginary of each; evaluated in float64 (:func:`_circle`) from exact integer products, rounded
    once to ``dtype``. (Evaluated entry by entry, a table of 2**18 points took 10-24 ms, most of
    it in temporaries; a stream meets each length once per process.)"""
    fac = _factors(nfft)
    m1, m2 = int(fac[0]), int(fac[1])
    m = m1 * m2
    re, im = _circle(nfft)
    product = (np.arange(m2)[:, None] * np.arange(m1)[None, :]).ravel() % m * 2  # w_M^j = w_N^(2 j)
    parts = [re[::nfft // m1], im[::nfft // m1], re[::nfft // m2], im[::nfft // m2],
             re[product], im[product], re[:m], im[:m]]
    out = np.empty(sum(p.shape[0] for p in parts), dtype)
    at = 0
    for part in parts:
        out[at:at + part.shape[0]] = part  # rounded once to dtype
        at += part.shape[0]
    return out


#: Digest of the code the stored twiddles depend on: tables on disk are made again when it changes.
_TWIDDLE_SOURCE = source_digest(__file__) + source_digest(_fft.__file__)


def _table(nfft, dtype):
    """:func:`_make_table`, kept in :data:`TWIDDLES` and in the on-disk design cache."""
    return TWIDDLES.get(("fft", nfft, dtype.char), lambda: _stored_table(nfft, dtype))


def _stored_table(nfft, dtype):
    """:func:`_make_table` from the design cache (made and stored when it is not there; an entry
    of another length or dtype, not ours, is made again)."""
    key = ("fft_twiddles", int(nfft), dtype.str, _TWIDDLE_SOURCE)
    m1, m2 = (int(v) for v in _factors(nfft)[:2])
    return cached_array("designs", key, lambda: _make_table(nfft, dtype), shape=(2 * (m1 + m2 + 2 * m1 * m2),),
                        dtype=dtype)


@functools.lru_cache(maxsize=None)
def _sizes(nfft):
    """Floats per row of the kernels' two scratch arrays for ``nfft`` points (rows padded by
    :data:`~noisegen._kernels.cpu.fft.PAD` floats, so that no two start a power of two apart)."""
    m1, m2, s1, s2 = (int(v) for v in _factors(nfft)[:4])
    pad = _fft.PAD
    return m2 * (m1 + pad) + pad, max(m1, m2) * (max(s1, s2) + pad) + pad


class _Scratch(threading.local):
    """This thread's scratch, by dtype: grown to the largest transform it has run, then kept."""

    def __init__(self):
        self.spaces = {}

    def get(self, nfft, dtype):
        big_len, small_len = _sizes(nfft)
        big, small = self.spaces.get(dtype.char, (None, None))
        if big is None or big.shape[1] < big_len or small.shape[1] < small_len:
            big = np.empty((4, max(big_len, 0 if big is None else big.shape[1])), dtype)
            small = np.empty((6, max(small_len, 0 if small is None else small.shape[1])), dtype)
            self.spaces[dtype.char] = big, small
        return big, small


_SCRATCH = _Scratch()
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_FILTER = {"f": np.zeros((0, 2), np.float32), "d": np.zeros((0, 2), np.float64)}  # irfft_rows' h: none


def _kernel_plan(nfft, dtype):
    """``(fac, table, big, small)`` for the kernels, or None where scipy transforms."""
    fac = _factors(nfft)
    if fac is None or dtype not in _KERNEL_DTYPES:
        return None
    return (fac, _table(nfft, dtype), *_SCRATCH.get(nfft, dtype))


def grid_rfft(x2, nfft):
    """``scipy.fft.rfft(x2, nfft, axis=-1)``: the spectrum of the rows of ``x2`` zero-padded (or cut)
    to ``nfft`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> x, h = np.random.default_rng(0).standard_normal((2, 1, 9000))
    >>> y = grid_irfft(grid_rfft(x, 20480) * grid_rfft(h, 20480), 20480)
    >>> bool(np.allclose(y[0, :17999], np.convolve(x[0], h[0])))
    True
    """
    plan = _kernel_plan(nfft, x2.dtype)
    if plan is None:
        return sfft.rfft(x2, nfft, axis=-1, workers=1)
    x2 = np.ascontiguousarray(x2[:, :nfft])
    rows, n = x2.shape
    return rfft_blocks(x2.reshape(-1), np.arange(0, rows * n, n, dtype=np.int64), n, nfft, plan)


def rfft_blocks(x, starts, n, nfft, plan=None, out=None):
    """``grid_rfft`` of the rows ``x[s : s + n]`` of a 1-D contiguous ``x`` (``s`` in ``starts``, an
    int64 array; ``n <= nfft``), without copying them out: overlap-save's blocks (into ``out``, a
    C-contiguous complex array of their shape, when given)."""
    plan = plan or _kernel_plan(nfft, x.dtype)
    if plan is None:
        rows = np.stack([x[s:s + n] for s in starts]) if len(starts) else np.zeros((0, n), x.dtype)
        return sfft.rfft(rows, nfft, axis=-1, workers=1)
    if out is None:
        out = np.empty((len(starts), nfft // 2 + 1), np.complex64 if x.dtype == np.float32 else np.complex128)
    _fft.rfft_rows(x, starts, n, out.view(x.dtype), *plan)
    return out


def grid_irfft(spec, nfft, *, skip=0, stop=None, times=None, out=None):
    """``scipy.fft.irfft(spec * times, nfft, axis=-1)[:, skip:stop]`` of the rows of a 2-D ``spec``
    (into ``out``, real ``(rows, stop - skip)`` with contiguous rows, when given).

    ``times`` (None: 1), a spectrum the rows are multiplied by, one row for all or one per row (a
    filter's): the kernels form the product as they read the rows, without storing it; ``stop``
    (None: ``nfft``) ends the samples kept, which are all the kernels write.
    """
    stop = nfft if stop is None else stop
    real = {"F": np.dtype(np.float32), "D": np.dtype(np.float64)}.get(spec.dtype.char)
    plan = _kernel_plan(nfft, real) if real is not None and spec.shape[1] == nfft // 2 + 1 else None
    if times is not None:
        times = np.asarray(times)
        times = times.reshape(-1, times.shape[-1])
        if (plan is None or times.dtype != spec.dtype or times.shape[0] not in (1, spec.shape[0])
                or times.shape[1] != spec.shape[1]):  # (NumPy's product broadcasts, or says why not)
            spec, times, plan = spec * times, None, None
    if plan is None:
        y = sfft.irfft(spec, nfft, axis=-1, workers=1)[:, skip:stop]
        if out is None:
            return y
        out[...] = y
        return out
    spec = np.ascontiguousarray(spec)
    h = _NO_FILTER[real.char] if times is None else np.ascontiguousarray(times).view(real)
    if out is None:
        out = np.empty((spec.shape[0], stop - skip), real)
    _fft.irfft_rows(spec.view(real), h, out, skip, *plan)
    return out

