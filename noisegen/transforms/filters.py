"""Random filters: low-pass, high-pass, band-pass, band-stop, peaking EQ, shelves.

Corner and centre frequencies are drawn uniformly on the mel scale (as in
audiomentations), then kept inside ``(0, 0.49 * sample_rate)`` so that a
range written for 16 kHz still works at 8 kHz; the frequency actually used
is what ``last_params`` records.
"""

from __future__ import annotations

import math

from ..effects import filters
from .._core.errors import ParameterError
from .._core.validation import check_int
from .._design.sections import EQ_GAIN_DB_RANGE, FREQ_MARGIN, MAX_Q
from .base import Transform
from .params import draw_uniform, frequency_param, real_param, uniform_range

__all__ = ["LowPassFilter", "HighPassFilter", "BandPassFilter", "BandStopFilter", "PeakingEQ", "LowShelf", "HighShelf"]


def _hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def _draw_mel(gen, low_hz, high_hz):
    if low_hz == high_hz:
        return float(low_hz)
    # (the round trip through mels rounds: a range a few ulps wide drew only values just outside it)
    return min(max(_mel_to_hz(draw_uniform(gen, _hz_to_mel(low_hz), _hz_to_mel(high_hz))), low_hz), high_hz)


def _fit(freq_hz, sample_rate):
    """Keep a frequency strictly inside (0, Nyquist): at most ``0.49 * sample_rate``, and at least the
    lowest the filters take (``FREQ_MARGIN * sample_rate``: a floor of ``1e-3 * sample_rate`` moved a
    20-30 Hz high-pass range to 48 Hz at 48 kHz, outside the range asked for)."""
    return float(min(max(freq_hz, FREQ_MARGIN * sample_rate), 0.49 * sample_rate))


class _CutoffFilter(Transform):
    _function = None

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_cutoff_hz: float, max_cutoff_hz: float, order: int, p: float):
        super().__init__(p=p)
        self.min_cutoff_hz, self.max_cutoff_hz = uniform_range(
            min_cutoff_hz, max_cutoff_hz, "min_cutoff_hz", "max_cutoff_hz", low=1e-6
        )
        self.order = check_int(order, "order", low=1, high=16)

    def randomize(self, y, sample_rate, gen):
        return {"cutoff_hz": _fit(_draw_mel(gen, self.min_cutoff_hz, self.max_cutoff_hz), sample_rate)}

    def _param_checks(self, sample_rate):
        return {"cutoff_hz": frequency_param(sample_rate)}

    def _filter_call(self, sample_rate, params):
        """(the effect, its keyword arguments): ``_apply`` is ``fn(y, **kwargs)``; a stream adds ``zi``."""
        return getattr(filters, self._function), dict(cutoff_hz=params["cutoff_hz"], sample_rate=sample_rate,
                                                      order=self.order)

    def _apply(self, y, sample_rate, params):
        fn, kwargs = self._filter_call(sample_rate, params)
        return fn(y, **kwargs)

    def _config(self):
        return {"min_cutoff_hz": self.min_cutoff_hz, "max_cutoff_hz": self.max_cutoff_hz, "order": self.order, "p": self.p}


class LowPassFilter(_CutoffFilter):
    """Butterworth low-pass with a random cutoff (default 150-7500 Hz).

    Wraps :func:`noisegen.lowpass`. ``last_params``: ``cutoff_hz``.

    Parameters
    ----------
    min_cutoff_hz, max_cutoff_hz : float
        Range of the -3 dB cutoff (Hz, > 0), drawn on the mel scale and kept
        inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    order : int
        Butterworth order in [1, 16] (6 dB/octave each; default 4).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import LowPassFilter
    >>> t = LowPassFilter(min_cutoff_hz=1000, max_cutoff_hz=2000, p=1.0)
    >>> out = t(np.random.default_rng(0).standard_normal(1600), sample_rate=16000, rng=0)
    >>> 1000 <= t.last_params["cutoff_hz"] <= 2000
    True
    """

    _function = "lowpass"

    def __init__(self, *, min_cutoff_hz: float = 150.0, max_cutoff_hz: float = 7500.0, order: int = 4, p: float = 0.5):
        super().__init__(min_cutoff_hz=min_cutoff_hz, max_cutoff_hz=max_cutoff_hz, order=order, p=p)


class HighPassFilter(_CutoffFilter):
    """Butterworth high-pass with a random cutoff (default 20-2400 Hz).

    Wraps :func:`noisegen.highpass`. ``last_params``: ``cutoff_hz``.

    Parameters
    ----------
    min_cutoff_hz, max_cutoff_hz : float
        Range of the -3 dB cutoff (Hz, > 0), drawn on the mel scale and kept
        inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    order : int
        Butterworth order in [1, 16] (6 dB/octave each; default 4).
    p : float
    """

    _function = "highpass"

    def __init__(self, *, min_cutoff_hz: float = 20.0, max_cutoff_hz: float = 2400.0, order: int = 4, p: float = 0.5):
        super().__init__(min_cutoff_hz=min_cutoff_hz, max_cutoff_hz=max_cutoff_hz, order=order, p=p)


class _BandFilter(Transform):
    _function = None

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_center_hz: float = 200.0, max_center_hz: float = 4000.0,
                 min_bandwidth_fraction: float = 0.5, max_bandwidth_fraction: float = 1.99, order: int = 4,
                 p: float = 0.5):
        super().__init__(p=p)
        self.min_center_hz, self.max_center_hz = uniform_range(
            min_center_hz, max_center_hz, "min_center_hz", "max_center_hz", low=1e-6,
        )
        self.min_bandwidth_fraction, self.max_bandwidth_fraction = uniform_range(
            min_bandwidth_fraction, max_bandwidth_fraction,
            "min_bandwidth_fraction", "max_bandwidth_fraction", low=1e-6, high=1.999,
        )
        self.order = check_int(order, "order", low=1, high=16)

    def randomize(self, y, sample_rate, gen):
        center = _draw_mel(gen, self.min_center_hz, self.max_center_hz)
        fraction = draw_uniform(gen, self.min_bandwidth_fraction, self.max_bandwidth_fraction)
        low = _fit(center * (1.0 - fraction / 2.0), sample_rate)
        high = _fit(center * (1.0 + fraction / 2.0), sample_rate)
        if high <= low:  # the whole band was pushed against a limit: an octave inside it
            low, high = (0.5 * high, high) if high > 0.25 * sample_rate else (low, 2.0 * low)
        return {"low_hz": low, "high_hz": high}

    def _param_checks(self, sample_rate):
        return {"low_hz": frequency_param(sample_rate), "high_hz": frequency_param(sample_rate)}

    def _check_params(self, params, sample_rate, name="params"):
        clean = super()._check_params(params, sample_rate, name)
        if clean["applied"] and not clean["low_hz"] < clean["high_hz"]:  # (the filter's own error named no params)
            raise ParameterError(f"{name}['low_hz'] must be < {name}['high_hz'], got {clean['low_hz']:g} >= "
                                 f"{clean['high_hz']:g}")
        return clean

    def _filter_call(self, sample_rate, params):
        return getattr(filters, self._function), dict(low_hz=params["low_hz"], high_hz=params["high_hz"],
                                                      sample_rate=sample_rate, order=self.order)

    def _apply(self, y, sample_rate, params):
        fn, kwargs = self._filter_call(sample_rate, params)
        return fn(y, **kwargs)

    def _config(self):
        return {
            "min_center_hz": self.min_center_hz, "max_center_hz": self.max_center_hz,
            "min_bandwidth_fraction": self.min_bandwidth_fraction,
            "max_bandwidth_fraction": self.max_bandwidth_fraction, "order": self.order, "p": self.p,
        }


class BandPassFilter(_BandFilter):
    """Butterworth band-pass around a random centre (default 200-4000 Hz).

    The band is ``center * (1 -+ fraction / 2)`` with the bandwidth fraction
    drawn in ``[min_bandwidth_fraction, max_bandwidth_fraction]`` (default
    0.5-1.99). Wraps :func:`noisegen.bandpass`. ``last_params``: ``low_hz``,
    ``high_hz``.

    Parameters
    ----------
    min_center_hz, max_center_hz : float
        Range of the centre (Hz, > 0), drawn on the mel scale; the band's
        edges are kept inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    min_bandwidth_fraction, max_bandwidth_fraction : float
        Range of the bandwidth as a fraction of the centre, in (0, 1.999].
    order : int
        Butterworth order in [1, 16] (scipy's: ``order`` biquad sections; default 4).
    p : float
    """

    _function = "bandpass"


class BandStopFilter(_BandFilter):
    """Butterworth band-stop around a random centre (default 200-4000 Hz).

    Band as in :class:`BandPassFilter` (default fractions 0.5-1.99). Wraps
    :func:`noisegen.bandstop`. ``last_params``: ``low_hz``, ``high_hz``.

    Parameters
    ----------
    min_center_hz, max_center_hz : float
        Range of the centre (Hz, > 0), drawn on the mel scale; the band's
        edges are kept inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    min_bandwidth_fraction, max_bandwidth_fraction : float
        Range of the bandwidth as a fraction of the centre, in (0, 1.999].
    order : int
        Butterworth order in [1, 16] (scipy's: ``order`` biquad sections; default 4).
    p : float
    """

    _function = "bandstop"


class PeakingEQ(Transform):
    """A peaking equaliser with random centre, gain and Q.

    Wraps :func:`noisegen.peaking_eq`. ``last_params``: ``center_hz``, ``gain_db``, ``q``.

    Parameters
    ----------
    min_center_hz, max_center_hz : float
        Range of the centre (Hz, > 0; default 50-7500), drawn on the mel
        scale and kept inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    min_gain_db, max_gain_db : float
        Range of the gain at the centre, in [-60, 60] dB (default -24 to 24).
    min_q, max_q : float
        Range of the quality factor, in [0.001, 1000] (default 0.5-9.9).
    p : float
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_center_hz: float = 50.0, max_center_hz: float = 7500.0, min_gain_db: float = -24.0,
                 max_gain_db: float = 24.0, min_q: float = 0.5, max_q: float = 9.9, p: float = 0.5):
        super().__init__(p=p)
        self.min_center_hz, self.max_center_hz = uniform_range(
            min_center_hz, max_center_hz, "min_center_hz", "max_center_hz", low=1e-6
        )
        self.min_gain_db, self.max_gain_db = uniform_range(min_gain_db, max_gain_db, "min_gain_db", "max_gain_db",
                                                           low=EQ_GAIN_DB_RANGE[0], high=EQ_GAIN_DB_RANGE[1])
        self.min_q, self.max_q = uniform_range(min_q, max_q, "min_q", "max_q", low=1e-3, high=MAX_Q)

    def randomize(self, y, sample_rate, gen):
        return {
            "center_hz": _fit(_draw_mel(gen, self.min_center_hz, self.max_center_hz), sample_rate),
            "gain_db": draw_uniform(gen, self.min_gain_db, self.max_gain_db),
            "q": draw_uniform(gen, self.min_q, self.max_q),
        }

    def _param_checks(self, sample_rate):
        return {"center_hz": frequency_param(sample_rate), "gain_db": real_param(*EQ_GAIN_DB_RANGE),
                "q": real_param(0.0, MAX_Q, low_inclusive=False)}

    def _filter_call(self, sample_rate, params):
        return filters.peaking_eq, dict(center_hz=params["center_hz"], gain_db=params["gain_db"], q=params["q"],
                                        sample_rate=sample_rate)

    def _apply(self, y, sample_rate, params):
        fn, kwargs = self._filter_call(sample_rate, params)
        return fn(y, **kwargs)

    def _config(self):
        return {
            "min_center_hz": self.min_center_hz, "max_center_hz": self.max_center_hz,
            "min_gain_db": self.min_gain_db, "max_gain_db": self.max_gain_db,
            "min_q": self.min_q, "max_q": self.max_q, "p": self.p,
        }


class _Shelf(Transform):
    _function = None

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_cutoff_hz: float, max_cutoff_hz: float, min_gain_db: float = -18.0,
                 max_gain_db: float = 18.0, p: float = 0.5):
        super().__init__(p=p)
        self.min_cutoff_hz, self.max_cutoff_hz = uniform_range(
            min_cutoff_hz, max_cutoff_hz, "min_cutoff_hz", "max_cutoff_hz", low=1e-6
        )
        self.min_gain_db, self.max_gain_db = uniform_range(
            min_gain_db, max_gain_db, "min_gain_db", "max_gain_db", low=EQ_GAIN_DB_RANGE[0], high=EQ_GAIN_DB_RANGE[1]
        )

    def randomize(self, y, sample_rate, gen):
        return {"cutoff_hz": _fit(_draw_mel(gen, self.min_cutoff_hz, self.max_cutoff_hz), sample_rate),
                "gain_db": draw_uniform(gen, self.min_gain_db, self.max_gain_db)}

    def _param_checks(self, sample_rate):
        return {"cutoff_hz": frequency_param(sample_rate), "gain_db": real_param(*EQ_GAIN_DB_RANGE)}

    def _filter_call(self, sample_rate, params):
        return getattr(filters, self._function), dict(cutoff_hz=params["cutoff_hz"], gain_db=params["gain_db"],
                                                      sample_rate=sample_rate)

    def _apply(self, y, sample_rate, params):
        fn, kwargs = self._filter_call(sample_rate, params)
        return fn(y, **kwargs)

    def _config(self):
        return {"min_cutoff_hz": self.min_cutoff_hz, "max_cutoff_hz": self.max_cutoff_hz,
                "min_gain_db": self.min_gain_db, "max_gain_db": self.max_gain_db, "p": self.p}


class LowShelf(_Shelf):
    """A low shelf with random corner and gain (audiomentations' ``LowShelfFilter``).

    Wraps :func:`noisegen.low_shelf` (cookbook biquad, slope 1: ``gain_db``
    below ``cutoff_hz``, 0 dB above; no Q to draw). The corner is drawn on
    the mel scale in ``[min_cutoff_hz, max_cutoff_hz]`` (default 50-4000 Hz),
    the gain uniformly in ``[min_gain_db, max_gain_db]`` (default -18 to 18,
    within [-60, 60]). ``last_params``: ``cutoff_hz``, ``gain_db``.

    Parameters
    ----------
    min_cutoff_hz, max_cutoff_hz : float
        Range of the corner (Hz, > 0), drawn on the mel scale and kept
        inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    min_gain_db, max_gain_db : float
        Range of the shelf's gain, in [-60, 60] dB (default -18 to 18).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import LowShelf
    >>> t = LowShelf(min_cutoff_hz=200, max_cutoff_hz=200, min_gain_db=-6.0206, max_gain_db=-6.0206, p=1.0)
    >>> round(float(t(np.ones(16000), sample_rate=16000, rng=0)[-1]), 3)  # DC is below the corner
    0.5
    """

    _function = "low_shelf"

    def __init__(self, *, min_cutoff_hz: float = 50.0, max_cutoff_hz: float = 4000.0, min_gain_db: float = -18.0,
                 max_gain_db: float = 18.0, p: float = 0.5):
        super().__init__(min_cutoff_hz=min_cutoff_hz, max_cutoff_hz=max_cutoff_hz, min_gain_db=min_gain_db,
                         max_gain_db=max_gain_db, p=p)


class HighShelf(_Shelf):
    """A high shelf with random corner and gain (audiomentations' ``HighShelfFilter``).

    Wraps :func:`noisegen.high_shelf` (cookbook biquad, slope 1: ``gain_db``
    above ``cutoff_hz``, 0 dB below). Corner drawn on the mel scale in
    ``[min_cutoff_hz, max_cutoff_hz]`` (default 300-7500 Hz, kept below
    0.49 of the call's sample rate), gain as in :class:`LowShelf`.
    ``last_params``: ``cutoff_hz``, ``gain_db``.

    Parameters
    ----------
    min_cutoff_hz, max_cutoff_hz : float
        Range of the corner (Hz, > 0), drawn on the mel scale and kept
        inside ``(0, 0.49 * sample_rate)`` at each call's rate.
    min_gain_db, max_gain_db : float
        Range of the shelf's gain, in [-60, 60] dB (default -18 to 18).
    p : float
    """

    _function = "high_shelf"

    def __init__(self, *, min_cutoff_hz: float = 300.0, max_cutoff_hz: float = 7500.0, min_gain_db: float = -18.0,
                 max_gain_db: float = 18.0, p: float = 0.5):
        super().__init__(min_cutoff_hz=min_cutoff_hz, max_cutoff_hz=max_cutoff_hz, min_gain_db=min_gain_db,
                         max_gain_db=max_gain_db, p=p)
