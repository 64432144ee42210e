"""The noise scale of a mix at a target SNR, one scalar helper for the CPU kernels, the CUDA
kernels and the host (:func:`noisegen._design.snr.snr_scale`), so every path scales alike."""

from __future__ import annotations

import math

from .._core.jit import scalar


@scalar
def noise_scale(p_signal, p_noise, ratio):
    """``sqrt(p_signal / (p_noise * ratio))`` for mean powers > 0 and a power ratio ``ratio``.

    When the quotient leaves float64's range (a noise whose power is
    subnormal: 1e-160 samples square to 1e-320), the same scale is formed
    from three square roots, which stay in range: sqrt(1e-2 / 1e-319) is
    past float64, 1e-1 / sqrt(1e-319) is not.
    """
    d = p_noise * ratio
    g = math.sqrt(p_signal / d) if d > 0.0 else math.inf
    if g == 0.0 or math.isinf(g):
        g = math.sqrt(p_signal) / math.sqrt(p_noise) / math.sqrt(ratio)
    return g
