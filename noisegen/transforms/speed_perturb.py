"""SpeedPerturb: Kaldi-style speed perturbation from a list of factors."""

from __future__ import annotations

from .._core.validation import check_real, check_sequence, show_value
from .._core.errors import ParameterError
from .base import Transform
from .params import rate_param
from .. import effects

__all__ = ["SpeedPerturb"]


class SpeedPerturb(Transform):
    """Change speed (tempo and pitch together) by a factor drawn from ``factors``.

    Wraps :func:`noisegen.speed`; the output has ``round(n / factor)``
    samples. A factor of exactly 1 returns a copy of the input.
    ``last_params``: ``factor``.

    Parameters
    ----------
    factors : sequence of float
        Candidate factors in [0.05, 20], drawn with equal probability; the Kaldi
        recipe uses (0.9, 1.0, 1.1).
    p : float
    """

    degrades = False  # a change paired targets share

    def __init__(self, *, factors=(0.9, 1.0, 1.1), p: float = 0.5):
        super().__init__(p=p)
        factors = check_sequence(factors, "factors")  # a list, tuple or 1-D array (a scalar or str refused)
        if not len(factors):
            raise ParameterError(f"factors must be a non-empty list of positive numbers, got {show_value(factors)}")
        self.factors = tuple(
            check_real(f, f"factors[{i}]", low=0.05, high=20.0) for i, f in enumerate(factors)
        )

    def randomize(self, y, sample_rate, gen):
        return {"factor": self.factors[int(gen.integers(0, len(self.factors)))]}

    def _param_checks(self, sample_rate):
        return {"factor": rate_param()}

    def _apply(self, y, sample_rate, params):
        if params["factor"] == 1.0:
            return y.copy()
        return effects.speed(y, factor=params["factor"], sample_rate=sample_rate)

    def _output_length(self, n, sample_rate, params):
        return n if params["factor"] == 1.0 else round(n / params["factor"])

    def _config(self):
        return {"factors": list(self.factors), "p": self.p}
