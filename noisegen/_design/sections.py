"""Second-order sections: Butterworth and cookbook (shelf, peak) designs,
the check of a user's ``sos`` array, and the speech-shaped (LTASS) filter.
Shared by the functional API (:mod:`noisegen.effects.filters`,
:mod:`noisegen.synth`) and the CUDA targets (:mod:`noisegen._gpu.ops`).
"""

from __future__ import annotations

import functools
import math
from functools import lru_cache

import numpy as np

from .._core.errors import ParameterError
from .butterworth import butter_zpk, zpk_sections
from .._core.validation import (
    check_choice,
    check_int,
    check_real,
    check_real_array,
    check_sample_rate,
    show_number,
    show_value,
)

_KINDS = ("lowpass", "highpass", "bandpass", "bandstop", "peaking", "low_shelf", "high_shelf")
#: The design arguments each kind reads (design_sos refuses the others rather than ignore them).
_USES = {
    "lowpass": ("cutoff_hz", "order"), "highpass": ("cutoff_hz", "order"),
    "bandpass": ("low_hz", "high_hz", "order"), "bandstop": ("low_hz", "high_hz", "order"),
    "peaking": ("center_hz", "gain_db", "q"), "low_shelf": ("cutoff_hz", "gain_db"), "high_shelf": ("cutoff_hz", "gain_db"),
}
#: Gains (dB) of the peaking and shelving sections, and the most Q of a peaking one (the effects'
#: range, and the one :class:`noisegen.PeakingEQ` and the shelf transforms draw from).
EQ_GAIN_DB_RANGE = (-60.0, 60.0)
MAX_Q = 1000.0


# ----------------------------------------------------------------------------- design


@lru_cache(maxsize=512)
def _butter(kind: str, order: int, freqs: tuple, sample_rate: int) -> np.ndarray:
    z, p = butter_zpk(kind, order, freqs, sample_rate)
    # scipy's gain k (all in the first section) underflows at high orders and
    # extreme cutoffs (2e-87 for order 32 at 10 Hz); pair without it and give
    # every section its own unit gain instead.
    sos = _unit_gain_sections(zpk_sections(z, p), _reference_angle(kind, freqs, sample_rate))
    sos = _low_noise_order(sos)
    sos.flags.writeable = False
    return sos


def _reference_angle(kind: str, freqs: tuple, sample_rate: int) -> float:
    """Digital frequency (rad/sample) where a Butterworth ``kind`` has gain exactly 1."""
    if kind in ("lowpass", "bandstop"):
        return 0.0
    if kind == "highpass":
        return math.pi
    # band-pass: the pre-warped geometric centre of the band
    t1, t2 = (math.tan(math.pi * f / sample_rate) for f in freqs)
    return 2.0 * math.atan(math.sqrt(t1 * t2))


def _unit_gain_sections(sos: np.ndarray, angle: float) -> np.ndarray:
    """Scale each section's numerator to gain 1 at ``e^{j angle}`` (the cascade's gain there is 1 too).

    Keeps every intermediate signal of the cascade near the input's level, so
    nothing under- or overflows between sections whatever the order.
    """
    sos = np.array(sos, dtype=np.float64)
    zr = np.exp(-1j * angle)  # z^-1 at the reference frequency
    h = (sos[:, 0] + sos[:, 1] * zr + sos[:, 2] * zr * zr) / (1.0 + sos[:, 4] * zr + sos[:, 5] * zr * zr)
    sos[:, :3] /= np.abs(h)[:, None]
    if np.prod(h / np.abs(h)).real < 0.0:  # the Butterworth gain at the reference is +1, not -1
        sos[0, :3] = -sos[0, :3]
    return np.ascontiguousarray(sos)


@lru_cache(maxsize=512)
def _cookbook(kind: str, freq_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, sw = math.cos(w0), math.sin(w0)
    if kind == "peaking":
        # the cookbook's rows (alpha = sw / 2q) times 2q: alpha overflowed for a q near 1e-308 and
        # every coefficient was NaN; this way any q > 0 gives finite sections
        b = (2.0 * q + sw * a, -4.0 * q * cw, 2.0 * q - sw * a)
        den = (2.0 * q + sw / a, -4.0 * q * cw, 2.0 * q - sw / a)
    else:
        alpha = sw / 2.0 * math.sqrt(2.0)  # shelf slope S = 1
        k = 2.0 * math.sqrt(a) * alpha
        if kind == "low_shelf":
            b = (a * ((a + 1) - (a - 1) * cw + k), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - k))
            den = ((a + 1) + (a - 1) * cw + k, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - k)
        else:
            b = (a * ((a + 1) + (a - 1) * cw + k), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - k))
            den = ((a + 1) - (a - 1) * cw + k, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - k)
    a0 = den[0]
    sos = np.array([[b[0] / a0, b[1] / a0, b[2] / a0, 1.0, den[1] / a0, den[2] / a0]], dtype=np.float64)
    sos.flags.writeable = False
    return sos


#: Every frequency argument must lie at least this fraction of the sample rate
#: away from 0 and from Nyquist. Closer, the poles sit within ~1e-5 of z = 1 or
#: z = -1, where float64 coefficients cannot place them (scipy's own design
#: then turns to zero gain or NaN) and the cascade loses its accuracy.
FREQ_MARGIN = 1e-5


@lru_cache(maxsize=1)
def _base_grid() -> tuple:
    """The frequencies (rad/sample) every design is judged on, dense near 0 and near Nyquist, and their
    cosines and sines (of ``w`` and ``2w``)."""
    edge = np.geomspace(1e-7, 1.0, 400)
    return _trig(np.concatenate([np.linspace(0.0, math.pi, 2049), edge, math.pi - edge]))


def _trig(w: np.ndarray) -> tuple:
    return np.cos(w), np.sin(w), np.cos(2.0 * w), np.sin(2.0 * w)


def _log_gains(sos: np.ndarray) -> np.ndarray:
    """``log|H_s|`` of every section on the grid of :func:`_base_grid` and at every pole angle."""
    a1, a2 = sos[:, 4], sos[:, 5]
    inside = a1 * a1 < 4.0 * a2  # complex poles (real ones lie at 0 or Nyquist's angle, on the grid)
    angles = np.arccos(np.clip(-a1[inside] / (2.0 * np.sqrt(a2[inside])), -1.0, 1.0))
    grid = [np.concatenate([base, extra]) for base, extra in zip(_base_grid(), _trig(angles))]

    def power(b0, b1, b2):  # |b0 + b1 e^-jw + b2 e^-2jw|^2 per section (rows) and frequency
        c1, s1, c2, s2 = grid
        re = b0[:, None] + b1[:, None] * c1 + b2[:, None] * c2
        im = b1[:, None] * s1 + b2[:, None] * s2
        return np.maximum(re * re + im * im, 1e-300)  # (a zero on the grid: far below any maximum taken)

    return 0.5 * np.log(power(sos[:, 0], sos[:, 1], sos[:, 2]) / power(sos[:, 3], a1, a2))


def _low_noise_order(sos: np.ndarray) -> np.ndarray:
    """Reorder sections so no partial cascade has a large gain swing across frequencies.

    Rounding noise made after section k is amplified by ``max|P_k| * max|H/P_k|``
    (``P_k``: the sections so far; ``H``: the whole filter). scipy's order
    (poles nearest the unit circle last) can make that 1e15 or more, e.g. a
    wide band-stop running every upper-edge section before any lower-edge
    one, and float64 output then has no correct digit. Greedily taking the
    section that keeps it smallest alternates them and keeps it near 1.
    """
    logs = _log_gains(sos)
    total = logs.sum(axis=0)
    partial = np.zeros_like(total)
    left, order = list(range(len(sos))), []
    while left:
        rest = logs[left]
        swing = np.maximum(np.max(partial + rest, axis=1), np.max((total - partial) - rest, axis=1))
        best = left.pop(int(np.argmin(swing)))
        order.append(best)
        partial = partial + logs[best]
    return np.ascontiguousarray(sos[order])


def freq_limits(sample_rate):
    """``(lo, hi, shown)``: the frequencies a filter takes at ``sample_rate`` (:data:`FREQ_MARGIN` away from
    0 and from Nyquist) and those bounds as an error shows them (8 digits). 1e-7 of slack lets the bounds
    as shown pass: the 0.11025 and 5512.39 named at 11025 Hz were refused (1e-5 * 11025 is
    0.11025000000000001; :g rounded 5512.38975 up)."""
    lo, hi = FREQ_MARGIN * sample_rate, (0.5 - FREQ_MARGIN) * sample_rate
    return lo * (1.0 - 1e-7), hi * (1.0 + 1e-7), (f"{lo:.8g}", f"{hi:.8g}")


def check_freq(value, name, sample_rate):
    """``value`` as a frequency the filters take at ``sample_rate`` (also the filter transforms' replay check)."""
    lo, hi, (shown_lo, shown_hi) = freq_limits(sample_rate)
    value = check_real(value, name)
    if not lo <= value <= hi:
        raise ParameterError(
            f"{name} must be in [{shown_lo}, {shown_hi}] Hz (1e-5 of sample_rate={sample_rate} away from 0 and "
            f"from Nyquist), got {show_number(value)}"  # (:g showed 7999.841 as 7999.84, the bound it passed)
        )
    return value


def design_sos(kind, *, sample_rate, cutoff_hz=None, low_hz=None, high_hz=None, order=4,
               center_hz=None, gain_db=None, q=None):
    """Second-order sections of one of noisegen's filters (cached, read-only).

    Parameters
    ----------
    kind : {"lowpass", "highpass", "bandpass", "bandstop", "peaking", "low_shelf", "high_shelf"}
    sample_rate : int
    cutoff_hz : float
        Corner of lowpass/highpass (-3 dB) and of the shelves (half gain in dB).
    low_hz, high_hz : float
        Band edges of bandpass/bandstop.
    order : int
        Butterworth order in [1, 32] (LP/HP: ``ceil(order/2)`` sections; BP/BS: ``order`` sections).
    center_hz, gain_db, q : float
        Peaking EQ centre, gain and quality factor; ``gain_db`` also sets the shelves.

    Every frequency lies in ``[1e-5, 0.5 - 1e-5] * sample_rate`` (0.16 Hz to
    7999.84 Hz at 16 kHz; :data:`FREQ_MARGIN`).
    An argument the kind does not read (``q`` for a low-pass, ``order``
    other than 4 for the cookbook kinds) is refused, not ignored.

    Returns
    -------
    sos : np.ndarray [shape=(n_sections, 6)], float64, read-only
        The Butterworth sections are scipy's (same pairing, same
        denominators) with the overall gain spread so that each section has
        gain 1 in the pass band (at DC, Nyquist or the band's centre), where
        scipy puts it all in the first section (where it underflows at high
        orders). Use these sections, not scipy's, for ``zi`` (e.g.
        ``scipy.signal.sosfilt_zi(design_sos(...))``). ``scipy.signal.sosfilt``
        and ``sosfiltfilt`` refuse a read-only array: pass them a copy,
        ``np.array(sos)``.

    Examples
    --------
    >>> design_sos("bandpass", sample_rate=16000, low_hz=300, high_hz=3400).shape
    (4, 6)
    """
    check_choice(kind, "kind", _KINDS)
    sample_rate = check_sample_rate(sample_rate)
    _refuse_unused(kind, cutoff_hz=cutoff_hz, low_hz=low_hz, high_hz=high_hz, order=order, center_hz=center_hz,
                   gain_db=gain_db, q=q)
    if kind in ("lowpass", "highpass"):
        order = check_int(order, "order", low=1, high=32)
        return _butter(kind, order, (check_freq(cutoff_hz, "cutoff_hz", sample_rate),), sample_rate)
    if kind in ("bandpass", "bandstop"):
        order = check_int(order, "order", low=1, high=32)
        lo = check_freq(low_hz, "low_hz", sample_rate)
        hi = check_freq(high_hz, "high_hz", sample_rate)
        if lo >= hi:
            raise ParameterError(f"low_hz must be < high_hz, got low_hz={lo:g} >= high_hz={hi:g}")
        return _butter(kind, order, (lo, hi), sample_rate)
    gain_db = check_real(gain_db, "gain_db", low=EQ_GAIN_DB_RANGE[0], high=EQ_GAIN_DB_RANGE[1])
    if kind == "peaking":
        center_hz = check_freq(center_hz, "center_hz", sample_rate)
        q = check_real(q, "q", low=0.0, high=MAX_Q, low_inclusive=False)
        return _cookbook(kind, center_hz, gain_db, q, sample_rate)
    return _cookbook(kind, check_freq(cutoff_hz, "cutoff_hz", sample_rate), gain_db, 0.0, sample_rate)


def _refuse_unused(kind: str, **given) -> None:
    """Refuse a design argument ``kind`` does not read: ignored, ``q`` given to a low-pass (or any value,
    NaN or a string) passed silently, and the filter made was not the one asked for."""
    for name, value in given.items():
        unset = value is None or (name == "order" and type(value) is int and value == 4)  # (order's default)
        if not unset and name not in _USES[kind]:
            raise ParameterError(f"{name} is not used by kind={kind!r} (it takes {', '.join(_USES[kind])}), "
                                 f"got {name}={show_value(value)}")


# ----------------------------------------------------------------------------- running


def check_sos(sos) -> np.ndarray:
    """``sos`` as a C-contiguous float64 ``(n_sections, 6)`` array with ``a0 = 1``."""
    sos = check_real_array(sos, "sos", "a real array of shape (n_sections, 6)")
    if sos.ndim != 2 or sos.shape[1] != 6 or sos.shape[0] < 1:
        raise ParameterError(f"sos must have shape (n_sections, 6), got shape {sos.shape}")
    if np.any(sos[:, 3] == 0.0) or not np.isfinite(sos).all():
        raise ParameterError(f"sos must be finite with a0 != 0 in every section, got {show_value(sos)}")
    if not np.all(sos[:, 3] == 1.0):
        with np.errstate(over="ignore"):
            normalised = sos / sos[:, 3:4]
        # an a0 tiny next to its row's other coefficients (1e-310) overflowed here, and the NaN cascade
        # was then reported as the input overflowing (even for silence)
        bad = np.flatnonzero(~np.isfinite(normalised).all(axis=1))
        if bad.size:
            raise ParameterError(f"sos must have coefficients that stay finite divided by a0, got a0="
                                 f"{sos[bad[0], 3]:g} in section {bad[0]}: {show_value(sos[bad[0]])}")
        sos = normalised
    return np.ascontiguousarray(sos)


def zi_channels(zi):
    """The channels a filter state declares (``zi`` of shape ``(n_sections, n_channels, 2)``), else None."""
    shape = getattr(zi, "shape", None)
    return shape[1] if shape is not None and len(shape) == 3 else None


def check_zi(zi, n_sections: int, n_channels):
    """A filter state ``zi`` for ``n_sections`` sections and audio of ``n_channels`` rows (None:
    mono) as float64 of shape ``(n_channels or 1, n_sections, 2)``, the kernels' layout (a copy:
    ``zi`` is never modified); None for ``None`` and ``"zeros"``."""
    if zi is None or (isinstance(zi, str) and zi == "zeros"):
        return None
    zi = check_real_array(zi, "zi", "None, 'zeros' or a real array")
    expected = (n_sections, 2) if n_channels is None else (n_sections, n_channels, 2)
    if zi.shape != expected:
        raise ParameterError(f"zi must have shape {expected} for this filter and audio, got shape {zi.shape}")
    if not np.isfinite(zi).all():
        raise ParameterError(f"zi must be finite, got {zi.size - np.count_nonzero(np.isfinite(zi))} NaN/inf value(s)")
    return np.array(zi[None] if n_channels is None else zi.transpose(1, 0, 2), order="C")


#: Byrne et al. (1994), "An international comparison of long-term average speech
#: spectra", JASA 96(4): the universal LTASS (male and female combined), one-third
#: octave band levels in dB SPL at 70 dB overall. Only the shape is used.
LTASS_CENTERS_HZ = np.array(
    [63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500,
     3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000], dtype=np.float64)
LTASS_LEVELS_DB = np.array(
    [38.6, 43.5, 54.4, 57.7, 56.8, 60.2, 60.3, 59.0, 62.1, 62.1, 60.5, 56.8, 53.7, 53.0, 52.0,
     48.7, 48.1, 46.8, 45.6, 44.5, 44.3, 43.7, 43.4, 41.3, 40.7], dtype=np.float64)


def _ltass_density_db(f_hz: np.ndarray) -> np.ndarray:
    """Power spectral density (dB, arbitrary reference) of the LTASS at ``f_hz``.

    Band levels of constant-relative-width bands become densities by removing
    ``10*log10(f)``; between centres the density is linear in dB over log
    frequency, and outside the table the end slopes continue (floored 60 dB
    under the peak).
    """
    density = LTASS_LEVELS_DB - 10.0 * np.log10(LTASS_CENTERS_HZ)
    lc = np.log2(LTASS_CENTERS_HZ)
    lf = np.log2(np.maximum(f_hz, 1.0))
    d = np.interp(lf, lc, density)
    lo, hi = lf < lc[0], lf > lc[-1]
    d[lo] = density[0] + (density[2] - density[0]) / (lc[2] - lc[0]) * (lf[lo] - lc[0])
    d[hi] = density[-1] + (density[-1] - density[-3]) / (lc[-1] - lc[-3]) * (lf[hi] - lc[-1])
    return np.maximum(d, density.max() - 60.0)


#: Fewest samples over which the speech-shaped filter settles (its start-up transient and impulse
#: response die out): a second, at the few-Hz rates, is too few (its poles reach 0.88 at 1 Hz).
SPEECH_WARM_SAMPLES = 1024


#: The most the speech-shaped fit grows with the rate (x 12 poles): the fit of 192 kHz.
_SPEECH_MAX_GROWTH = 4


@functools.lru_cache(maxsize=16)
def _speech_shaped_sos_cached(sample_rate: int) -> np.ndarray:
    from scipy.linalg import solve_toeplitz
    from scipy.signal import butter, sosfilt, sosfreqz, tf2sos

    # The steep fall below ~110 Hz is a 4th-order Butterworth high-pass (an
    # all-pole model cannot make a deep low-frequency valley); the rest is an
    # order-12 all-pole (LPC) fit to the LTASS density divided by the high-pass
    # response: autocorrelation = inverse FFT of the target power spectrum,
    # then the Yule-Walker (Toeplitz) equations. Stable, minimum phase, and
    # within ~2 dB of the LTASS in octave bands from 8 to 200 kHz (3.3 dB at
    # 384 kHz, 4.6 at 768: the fit of 192 kHz, below). The
    # order and the grid grow with the rate (12 poles and 8192 points per
    # 48 kHz), so the poles are as dense in Hz at 192 kHz as at 48 kHz: 12
    # poles spread over 0-96 kHz lost the 400-500 Hz maximum (the 500 Hz
    # octave 4.8 dB under the LTASS, the 63 Hz one 4.4 dB over). Up to 48
    # poles (192 kHz): past them the sections of the fit are so ill
    # conditioned that the noise's variance strays (1.4x at 250 kHz, 2.4x at 500).
    per_48k = min(max(1, -(-sample_rate // 48000)), _SPEECH_MAX_GROWTH)
    nfft = 8192 * per_48k
    f = np.arange(nfft // 2 + 1) * (sample_rate / nfft)
    power = np.power(10.0, _ltass_density_db(f) / 10.0)
    hp = butter(4, min(110.0, 0.4 * sample_rate), btype="highpass", fs=sample_rate, output="sos")
    _, h_hp = sosfreqz(hp, worN=f, fs=sample_rate)
    power = power / np.maximum(np.abs(h_hp) ** 2, 1e-6)
    order = 12 * per_48k
    r = np.fft.irfft(power)[: order + 1]
    a = np.concatenate(([1.0], solve_toeplitz(r[:order], -r[1 : order + 1])))
    sos = np.vstack([hp, tf2sos([1.0], a)])
    # Unit output variance for unit-variance white input: scale by the
    # impulse response's energy (2 s is many time constants of every pole;
    # at a few Hz, 2 s are a few samples: SPEECH_WARM_SAMPLES at least).
    impulse = np.zeros(max(2 * sample_rate, 2 * SPEECH_WARM_SAMPLES))
    impulse[0] = 1.0
    energy = float(np.sum(sosfilt(sos, impulse) ** 2))
    sos[0, :3] /= math.sqrt(energy)
    return sos


def speech_shaped_sos(sample_rate) -> np.ndarray:
    """Second-order sections that turn unit white noise into unit-variance speech-shaped noise.

    Designed once per sample rate (a fresh copy is returned); stream with
    ``scipy.signal.sosfilt`` and its ``zi`` (start from zeros to match
    :func:`speech_shaped_noise`).
    """
    return _speech_shaped_sos_cached(check_sample_rate(sample_rate)).copy()


