"""AddColoredNoise: synthetic 1/f^beta noise at a random SNR."""

from __future__ import annotations

from .._core.validation import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_real
from .._design.noise import MIN_FREQ_LOW, check_min_freq
from .._design.snr import MAX_SNR_DB, MIN_SNR_DB
from .base import Transform
from .params import draw_seed, draw_uniform, real_param, seed_param, uniform_range
from .. import effects, synth

__all__ = ["AddColoredNoise"]


class AddColoredNoise(Transform):
    """Add ``1/f**beta`` noise, ``beta`` and SNR drawn uniformly in their ranges.

    The noise comes from :func:`noisegen.colored_noise` keyed by a ``seed``
    drawn from ``rng`` and mixed with :func:`noisegen.mix_at_snr` over the
    whole clip. ``last_params``: ``beta``, ``snr_db``, ``seed``.

    Parameters
    ----------
    min_beta, max_beta : float
        Spectral exponents in [-2, 2] (0 white, 1 pink, 2 brown, -1 blue).
    min_snr_db, max_snr_db : float
    min_freq_hz : float or None
        The noise has no power below this frequency (see
        :func:`noisegen.colored_noise`), so the SNR holds over
        ``[min_freq_hz, Nyquist]`` too (power measured by the clip's DFT,
        20 Hz, 16-48 kHz, over a second: pink noise within 0.005 dB on
        average and 0.03 dB at most in 12 draws; brown noise, whose lowest
        bins the DFT leaks across the band edge, 0.03 dB on average and
        0.07 dB at most in 12 draws, 0.1 dB at most in 100 at 16 kHz (0.12
        in 1,000), 0.02 dB over 16 s; for 4096 samples at 48 kHz, under two
        cycles of 20 Hz, 0.1 dB on average and up to 1 dB in 1,000 draws),
        instead of being set by brown or pink power far below the audio
        band. Default 20 Hz; it must lie below the clip's Nyquist
        frequency. ``None``: the spectrum runs down to ``2e-5 * sample_rate``.
    p : float
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_beta: float = -2.0, max_beta: float = 2.0, min_snr_db: float = 3.0,
                 max_snr_db: float = 30.0, min_freq_hz: float | None = 20.0, p: float = 0.5):
        super().__init__(p=p)
        self.min_beta, self.max_beta = uniform_range(min_beta, max_beta, "min_beta", "max_beta", low=-2.0, high=2.0)
        self.min_snr_db, self.max_snr_db = uniform_range(min_snr_db, max_snr_db, "min_snr_db", "max_snr_db",
                                                         low=MIN_SNR_DB, high=MAX_SNR_DB)
        # the rate is not known yet: refuse what every rate refuses (colored_noise checks it against each)
        self.min_freq_hz = check_real(min_freq_hz, "min_freq_hz", low=MIN_FREQ_LOW * MIN_SAMPLE_RATE,
                                      high=MAX_SAMPLE_RATE / 2.0, high_inclusive=False, allow_none=True)

    def prepare(self, sample_rate):
        # refused here, not at the first call: a folder job at this rate fails once, before any input
        check_min_freq(self.min_freq_hz, sample_rate)

    def randomize(self, y, sample_rate, gen):
        return {
            "beta": draw_uniform(gen, self.min_beta, self.max_beta),
            "snr_db": draw_uniform(gen, self.min_snr_db, self.max_snr_db),
            "seed": draw_seed(gen),
        }

    def _param_checks(self, sample_rate):
        return {"beta": real_param(-2.0, 2.0), "snr_db": real_param(), "seed": seed_param()}

    def _apply(self, y, sample_rate, params):
        n_channels = y.shape[0] if y.ndim == 2 else None
        noise = synth.colored_noise(
            y.shape[-1], beta=params["beta"], rng=params["seed"], n_channels=n_channels, dtype=y.dtype,
            min_freq_hz=self.min_freq_hz, sample_rate=sample_rate,
        )
        return effects.mix_at_snr(y, noise, snr_db=params["snr_db"])

    def _config(self):
        return {
            "min_beta": self.min_beta, "max_beta": self.max_beta,
            "min_snr_db": self.min_snr_db, "max_snr_db": self.max_snr_db,
            "min_freq_hz": self.min_freq_hz, "p": self.p,
        }
