"""The one resample-on-load reader of banks and streams, and the rule for unusable sounds.

They read with soundfile and resample with :func:`noisegen.resample`.
"""

from __future__ import annotations

import numpy as np

from .segment import read_segment


def unusable(y: np.ndarray) -> str | None:
    """Why a loaded sound cannot be used (None when it can): empty, non-finite or silent."""
    if y.shape[-1] == 0:
        return "holds no samples"
    if not np.isfinite(y).all():
        return "holds NaN/inf samples"
    if not np.any(y):
        return "silent"
    return None


def read_audio(path, *, sample_rate: int, mono: bool = True) -> np.ndarray:
    """``path`` as float32 at ``sample_rate``: ``(n,)`` (mono) or ``(channels, n)``.

    The whole file through :func:`noisegen.audio.segment.read_segment`, the
    one resample-on-load reader of banks, streams and manifests: a file
    already at ``sample_rate`` (and mono, or ``mono=False``) is read straight
    to float32; anything else as :func:`noisegen.load` reads it (float64,
    mixdown, :func:`noisegen.resample`). Raises what :func:`noisegen.load`
    raises on an unusable path.
    """
    return read_segment(path, sample_rate=sample_rate, mono=mono)
