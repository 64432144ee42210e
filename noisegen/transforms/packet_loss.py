"""PacketLoss: drop frames as a lossy network would, at a random loss rate."""

from __future__ import annotations

from .._core.errors import ParameterError
from .._core.validation import check_choice, check_real, show_at_least, show_number
from ..effects.packet_loss import CONCEALMENTS, check_burst
from .base import Transform
from .params import draw_seed, draw_uniform, real_param, seed_param, uniform_range
from .. import effects

__all__ = ["PacketLoss"]


class PacketLoss(Transform):
    """Lose frames at a rate drawn uniformly in ``[min_loss_rate, max_loss_rate]``.

    Wraps :func:`noisegen.packet_loss` (Bernoulli losses, or bursty ones with
    ``mean_burst_frames``; lost frames concealed by zeros or by repeating the
    last frame received). The loss pattern is keyed by a ``seed`` drawn from
    ``rng``. ``last_params``: ``loss_rate``, ``seed``.

    Parameters
    ----------
    min_loss_rate, max_loss_rate : float
        In [0, 1).
    frame_ms : float
        Packet length in milliseconds.
    concealment : {"zeros", "repeat"}
    mean_burst_frames : float or None
        Mean burst length in frames; ``None`` for independent losses.
    fade_ms : float
        Crossfade at the edges of each burst.
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import PacketLoss
    >>> t = PacketLoss(min_loss_rate=0.5, max_loss_rate=0.5, p=1.0)
    >>> out = t(np.ones(16000), sample_rate=16000, rng=0)
    >>> t.last_params["loss_rate"], out.shape
    (0.5, (16000,))
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_loss_rate: float = 0.0, max_loss_rate: float = 0.2, frame_ms: float = 20.0,
                 concealment: str = "zeros", mean_burst_frames: float | None = None, fade_ms: float = 2.0,
                 p: float = 0.5):
        super().__init__(p=p)
        for value, name in ((min_loss_rate, "min_loss_rate"), (max_loss_rate, "max_loss_rate")):
            # [0, 1) as packet_loss takes it: the pair's check said [0, 1] to 1e9, then refused 1
            check_real(value, name, low=0.0, high=1.0, high_inclusive=False)
        self.min_loss_rate, self.max_loss_rate = uniform_range(
            min_loss_rate, max_loss_rate, "min_loss_rate", "max_loss_rate", low=0.0, high=1.0
        )
        self.frame_ms = check_real(frame_ms, "frame_ms", low=0.0, low_inclusive=False)
        self.concealment = check_choice(concealment, "concealment", CONCEALMENTS)
        self.mean_burst_frames = check_burst(mean_burst_frames, self.max_loss_rate, "max_loss_rate")
        self.fade_ms = check_real(fade_ms, "fade_ms", low=0.0)

    def randomize(self, y, sample_rate, gen):
        return {"loss_rate": draw_uniform(gen, self.min_loss_rate, self.max_loss_rate), "seed": draw_seed(gen)}

    def _param_checks(self, sample_rate):
        return {"loss_rate": real_param(0.0, 1.0, high_inclusive=False), "seed": seed_param()}

    def _check_params(self, params, sample_rate, name="params"):
        clean = super()._check_params(params, sample_rate, name)
        burst = self.mean_burst_frames
        # the replayed rate against this transform's bursts (check_burst's own error blamed mean_burst_frames)
        if clean["applied"] and burst is not None and clean["loss_rate"] * (1.0 + burst) > burst:
            raise ParameterError(
                f"{name}['loss_rate'] must be at most mean_burst_frames / (1 + mean_burst_frames) = "
                f"{show_at_least(burst / (1.0 + burst), 6, most=True)} for this PacketLoss's mean_burst_frames="
                f"{burst:g}, got {show_number(clean['loss_rate'])}")
        return clean

    def _apply(self, y, sample_rate, params):
        return effects.packet_loss(
            y, sample_rate=sample_rate, loss_rate=params["loss_rate"], frame_ms=self.frame_ms,
            concealment=self.concealment, mean_burst_frames=self.mean_burst_frames, fade_ms=self.fade_ms,
            rng=params["seed"],
        )

    def _config(self):
        return {"min_loss_rate": self.min_loss_rate, "max_loss_rate": self.max_loss_rate, "frame_ms": self.frame_ms,
                "concealment": self.concealment, "mean_burst_frames": self.mean_burst_frames,
                "fade_ms": self.fade_ms, "p": self.p}
