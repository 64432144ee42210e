"""PolarityInversion: flip the sign of every sample."""

from __future__ import annotations

import numpy as np

from .base import Transform

__all__ = ["PolarityInversion"]


class PolarityInversion(Transform):
    """Multiply the audio by -1 (inaudible alone; it changes the waveform a model sees).

    The output is exactly ``-y``. Nothing is drawn but ``applied``, so
    ``last_params`` holds no other key.

    Parameters
    ----------
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import PolarityInversion
    >>> PolarityInversion(p=1.0)(np.array([0.5, -0.25, 0.0]), sample_rate=16000, rng=0)
    array([-0.5 ,  0.25, -0.  ])
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, p: float = 0.5):
        super().__init__(p=p)

    def _apply(self, y, sample_rate, params):
        return np.negative(y)
