"""CPU kernels that build the resampler's tables of a new ratio (host-side design, per plan).

A random pitch shift meets a new :class:`~noisegen._design.ratios.NearRatio`
almost every call, so its plan (rows blended from the interpolated table,
copied after eight zeros) is built per call: in NumPy two gathers, three
passes and a copy, ~60 us at 1 s and 16 kHz. These loops do the same float
operations in one pass each (strict IEEE: no fused multiply-add, no
reassociation), so every table entry has the bits the NumPy form gives it.
"""

from __future__ import annotations

from ..._core.jit import exact_kernel


@exact_kernel
def blend_rows(table, lo, weight, rows):
    """``rows[j] = (table[lo[j] + 1] - table[lo[j]]) * weight[j] + table[lo[j]]``, rounded after
    each operation in ``table``'s dtype (NumPy's ``take``, ``-=``, ``*=``, ``+=``)."""
    n_taps = table.shape[1]
    for j in range(rows.shape[0]):
        low = table[lo[j]]
        high = table[lo[j] + 1]
        w = weight[j]
        row = rows[j]
        for i in range(n_taps):
            d = high[i] - low[i]
            d = d * w
            row[i] = d + low[i]


@exact_kernel
def last_tap(table):
    """One past the last column of ``table`` holding a non-zero entry (at least 1)."""
    for col in range(table.shape[1] - 1, 0, -1):
        for r in range(table.shape[0]):
            if table[r, col] != 0.0:
                return col + 1
    return 1
