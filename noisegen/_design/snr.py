"""The host-side SNR math shared by :func:`noisegen.mix_at_snr` (and the
other mixers) on the CPU and its CUDA target: the accepted ``snr_db`` range,
the silence rule and the noise scale."""

from __future__ import annotations

from .._core.validation import check_real
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
