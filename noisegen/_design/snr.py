"""The host-side SNR math shared by :func:`noisegen.mix_at_snr` (and the
other mixers) on the CPU and its CUDA target: the accepted ``snr_db`` range,
the silence rule and the noise scale."""

from __future__ import annotations

import math

import numpy as np

from .._core.validation import check_real
from .._kernels.cpu import mix as _mix
from .._kernels.snr import noise_scale

#: Accepted SNRs, dB.
MIN_SNR_DB = -100.0
MAX_SNR_DB = 200.0
#: The warning when no SNR can be set (``which``: "signal" or "noise").
SILENT = "mix_at_snr: the {which} is silent, so no SNR can be set; the signal is returned unchanged"


def check_snr_db(value, name: str = "snr_db") -> float:
    """``value`` as a float in [:data:`MIN_SNR_DB`, :data:`MAX_SNR_DB`]; ParameterError otherwise."""
    return check_real(value, name, low=MIN_SNR_DB, high=MAX_SNR_DB)


def silent_part(p_signal: float, p_noise: float) -> str | None:
    """``"signal"`` or ``"noise"`` when that power is zero (no SNR can be set), else None."""
    if p_signal == 0.0:
        return "signal"
    return "noise" if p_noise == 0.0 else None


def snr_ratio(snr_db: float) -> float:
    """The power ratio ``P_signal / P_noise`` of ``snr_db``."""
    return 10.0 ** (snr_db / 10.0)


def snr_scale(p_signal: float, p_noise: float, snr_db: float) -> float:
    """The factor on the noise that puts it ``snr_db`` below the signal (mean powers, both > 0).

    The CPU and CUDA kernels compute it with the same helper, :func:`noisegen._kernels.snr.noise_scale`.
    """
    # Python floats: powers read back from a device are NumPy scalars, whose quotient past float64
    # (a subnormal noise power) gave a RuntimeWarning before the helper's in-range fallback
    return noise_scale(float(p_signal), float(p_noise), snr_ratio(snr_db))


#: A float64 sum of squares below this lost bits: samples below ~1e-154 square to subnormals, below ~1e-162 to 0.
EXACT_TOTAL = 2.0**-900


def _pow2_exponent(x, total):
    """0, or the binary exponent of ``max |x|`` when ``x``'s sum of squares ``total`` is positive but below
    :data:`EXACT_TOTAL` (``x * 2**-e`` then squares without loss)."""
    return math.frexp(float(np.max(np.abs(x))))[1] if 0.0 < total < EXACT_TOTAL else 0


def exactly_squared(s2, n2, offset, signal_total, noise_total):
    """``(s, noise, e, signal_total, noise_total)`` to measure a mix's powers on: ``s2`` and ``n2``
    as they are (``e = 0``), or, when a float64 one squares past float64's normal range (a signal at
    1e-160 was mixed 0.3 dB off its SNR), copies scaled by powers of two (exact) and their sums.
    The mix is then ``s2 + ldexp(g, e) * noise``, ``g`` the scale of the measured powers."""
    e_s, e_n = _pow2_exponent(s2, signal_total), _pow2_exponent(n2, noise_total)
    if not (e_s or e_n):
        return s2, n2, 0, signal_total, noise_total
    s, noise = np.ldexp(s2, -e_s), np.ldexp(n2, -e_n)
    return (s, noise, e_s) + tuple(_mix.crop_powers(s, noise, offset))


def power_exactly(x, power, total, measure):
    """``(power, 0)``, or, when float64 ``x``'s sum of squares ``total`` lost bits (as in
    :func:`exactly_squared`: add_background_noises was 0.19 dB off its SNR for speech at 1e-160),
    ``(measure(x * 2**-e), e)``: the power measured on a copy scaled by a power of two (exact)."""
    e = _pow2_exponent(x, total)
    return (measure(np.ldexp(x, -e)), e) if e else (power, 0)


def rows_exactly(totals, rows):
    """``(totals, e)``: each row's float64 sum of squares, measured again on a copy of the row scaled by
    ``2**-e[r]`` (exact) where it lost bits (as in :func:`exactly_squared`: a float64 batch row at 1e-160
    was mixed off its SNR on the GPU), ``e[r] = 0`` elsewhere. ``rows()`` gives the rows on the host,
    called only then."""
    e = np.zeros(totals.shape, np.int64)
    need = np.flatnonzero((totals > 0.0) & (totals < EXACT_TOTAL))
    if need.size == 0:
        return totals, e
    host, totals = rows(), np.array(totals, np.float64)
    for r in need:
        e[r] = _pow2_exponent(host[r], totals[r])
        totals[r] = _mix.sum_squares(np.ldexp(host[r:r + 1], -e[r]))
    return totals, e
