"""Symmetric FIRs as sums of pairs: the layouts of the folded kernels, and the 2x interpolator's design.

A linear-phase filter weighs the two inputs at the same distance from an
output's instant equally, so the folded kernels
(:func:`~noisegen._kernels.cpu._simd.folded_fir`) add each pair first and
weigh the sum once. :func:`folded_chains` lays out the pairs of one table
row for them: for the integer decimator and for both rows of the 2x
interpolator.

Upsampling by 2 puts output ``2 i`` on input ``i`` and output ``2 i + 1``
halfway to input ``i + 1``. With a linear-phase prototype ``f`` at the
output rate (``4 half - 1`` taps, centre ``K = 2 half - 1``, pass-band gain
2) the two table rows are its even and odd taps::

    row0[j] = f[K + 2 (half - 1 - j)]        j = 0 .. 2 half - 2   (symmetric about half - 1)
    row1[j] = f[K + 1 + 2 (half - 1 - j)]    j = 0 .. 2 half - 1   (symmetric about half - 1/2)

so both outputs are sums of pairs (:mod:`noisegen._kernels.cpu.interpolate`)::

    y[2 i]     = row0[half - 1] x[i] + sum_{d >= 1} row0[half - 1 + d] (x[i - d] + x[i + d])
    y[2 i + 1] =                       sum_{d >= 0} row1[half + d]     (x[i - d] + x[i + 1 + d])

The prototype (:func:`noisegen._design.resample.interpolation_design`) is
designed as the decimators are: equiripple, pass band to 0.9 of the input
Nyquist frequency within 1.5e-3, images from the input Nyquist frequency on
84 dB down. It takes 41 pairs per output where the Kaiser sinc of the same
band edges took 54 taps a side.
"""

from __future__ import annotations

import numpy as np

from .._kernels.cpu.decimate import STEPS

#: Pair counts ``half`` tried for the 2x prototype (``4 half - 1`` taps), shortest first.
INTERPOLATOR_HALVES = range(38, 56)


def folded_chains(row, half: int, down: int, lanes: int, shift: int = 0):
    """``(chains, taps, lead, reach, h)`` of the folded kernels for one table row, or None.

    ``shift`` 0: ``row`` holds a symmetric filter of ``2 half - 1`` taps
    centred on tap ``half - 1`` (the centre tap is weighed on its own); the
    pair at distance ``d >= 1`` adds ``x[down k - d]`` (phase ``-d mod
    down``, element ``k + floor(-d / down)``) to ``x[down k + d]`` (phase
    ``d mod down``, element ``k + floor(d / down)``). ``shift`` 1 (``down``
    1): ``2 half`` taps symmetric about ``half - 1/2``, pairs ``x[k - d]`` and
    ``x[k + 1 + d]`` for ``d >= 0``. None when the taps are not exactly
    symmetric or nonzero taps follow them. Distances ``lanes * down`` apart
    keep their phases and move their elements by one whole vector: they form
    the chains of :data:`~noisegen._kernels.cpu.decimate.STEPS` pairs (the
    last of a run padded with zero taps). ``chains[c]`` = ``(phase_a,
    element_a, phase_b, element_b)`` of the chain's first pair; ``lead`` and
    ``reach`` are the phase elements read before output ``k`` and after it
    (+1); ``h`` the plain taps.
    """
    n = 2 * half - 1 + shift
    h = row[:n]
    if n > row.shape[0] or np.any(row[n:] != 0) or not np.array_equal(h, h[::-1]):
        return None
    chains, taps = [], []
    first = 1 - shift
    for d0 in range(first, first + lanes * down):
        run = list(range(d0, half, lanes * down))
        for s in range(0, len(run), STEPS):
            d, e = run[s], run[s] + shift
            chains.append(((-d) % down, (-d) // down, e % down, e // down))
            part = [h[half - 1 + shift + d] for d in run[s : s + STEPS]]
            taps += part + [0.0] * (STEPS - len(part))
    chains = np.array(chains, dtype=np.int64).reshape(-1, 4)
    lead = max(0, int(np.max(lanes * (STEPS - 1) - chains[:, 1], initial=0)))
    reach = int(np.max(chains[:, 3] + lanes * (STEPS - 1), initial=0)) + 1
    taps, h = np.array(taps, dtype=row.dtype), np.array(h)
    for a in (chains, taps, h):
        a.flags.writeable = False
    return chains, taps, lead, reach, h


def interpolation_rows(f, dtype_char: str):
    """``(half, table)`` of the 2x interpolator from its prototype ``f`` (``4 half - 1`` taps at the
    output rate, linear phase, unit pass-band gain): ``table`` ``(2, n_taps)`` in the rows' layout of
    :class:`~noisegen._design.resample.Plan` (``n_taps = 2 half`` rounded up to 16)."""
    f = f + f[::-1]  # exactly symmetric (the folds need it), and gain 2: one per output phase
    half = (len(f) + 1) // 4
    centre = 2 * half - 1
    j = np.arange(2 * half)
    table = np.zeros((2, -(-2 * half // 16) * 16))
    table[0, : 2 * half - 1] = f[centre + 2 * (half - 1 - j[:-1])]
    table[1, : 2 * half] = f[centre + 1 + 2 * (half - 1 - j)]
    table = table.astype(np.dtype(dtype_char))
    table.flags.writeable = False
    return half, table


def interpolation_folds(table, half: int, lanes: int):
    """``(even, odd, lead, reach)`` of a 2x table: the :func:`folded_chains` of its two rows
    (``lead`` and ``reach`` covering both), or None when a row does not fold."""
    even, odd = folded_chains(table[0], half, 1, lanes), folded_chains(table[1], half, 1, lanes, shift=1)
    if even is None or odd is None:
        return None
    return even, odd, max(even[2], odd[2]), max(even[3], odd[3])
