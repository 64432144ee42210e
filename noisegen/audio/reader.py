"""The one resample-on-load reader of banks and streams, and the rule for unusable sounds.

They read with soundfile and resample with :func:`noisegen.resample`.
"""

from __future__ import annotations

import numpy as np

from .io import check_regular, load


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

    The one resample-on-load reader of banks and streams. A file already at
    ``sample_rate`` (and mono, or ``mono=False``) is read straight to float32
    (the common case for a prepared corpus); anything else goes through
    :func:`noisegen.load` (float64 read, mixdown, :func:`noisegen.resample`).
    Raises whatever :func:`noisegen.load` raises on an unreadable file.
    """
    import soundfile as sf

    check_regular(path)
    with sf.SoundFile(path) as f:
        if f.samplerate == sample_rate and (f.channels == 1 or not mono):
            data = f.read(dtype="float32", always_2d=True)
            return np.ascontiguousarray(data[:, 0] if f.channels == 1 else data.T)
    return load(path, sample_rate=sample_rate, mono=mono, dtype=np.float32)[0]
