"""BitCrush: quantise to a random bit depth."""

from __future__ import annotations

from ..effects.level import crushed
from .base import Transform
from .params import int_param, int_range

__all__ = ["BitCrush"]


class BitCrush(Transform):
    """Quantise to the grid of a ``bit_depth``-bit PCM file, the depth drawn at random.

    Wraps :func:`noisegen.bitcrush` (rounding to multiples of
    ``2 ** -(bit_depth - 1)``, no clipping). The depth is an integer drawn
    uniformly in ``[min_bit_depth, max_bit_depth]`` (audiomentations'
    defaults). ``last_params``: ``bit_depth``.

    Parameters
    ----------
    min_bit_depth, max_bit_depth : int
        In [1, 32].
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import BitCrush
    >>> t = BitCrush(min_bit_depth=2, max_bit_depth=2, p=1.0)
    >>> t(np.array([0.1, 0.3, -0.8]), sample_rate=16000, rng=0), t.last_params["bit_depth"]
    (array([ 0. ,  0.5, -1. ]), 2)
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_bit_depth: int = 5, max_bit_depth: int = 10, p: float = 0.5):
        super().__init__(p=p)
        self.min_bit_depth, self.max_bit_depth = int_range(
            min_bit_depth, max_bit_depth, "min_bit_depth", "max_bit_depth", low=1, high=32)

    def randomize(self, y, sample_rate, gen):
        return {"bit_depth": int(gen.integers(self.min_bit_depth, self.max_bit_depth, endpoint=True))}

    def _param_checks(self, sample_rate):
        return {"bit_depth": int_param(1, 32)}

    def _apply(self, y, sample_rate, params):
        return crushed(y, params["bit_depth"])  # (y checked by the call, the depth drawn or checked here)

    def _config(self):
        return {"min_bit_depth": self.min_bit_depth, "max_bit_depth": self.max_bit_depth, "p": self.p}
