"""IIR filters as cascaded biquads: Butterworth LP/HP/BP/BS, peaking EQ, shelves.

Every filter is a cascade of second-order sections (``sos``, scipy's layout:
one row ``[b0, b1, b2, 1, a1, a2]`` per section) run by one Numba kernel in
transposed direct form II with float64 state. Designs are cached per
parameter set, so a call costs one validation and one kernel run.

Streaming works like :func:`scipy.signal.sosfilt`: pass ``zi`` (the state
before the chunk; ``"zeros"`` or an array of shape ``(n_sections, 2)`` for
mono, ``(n_sections, n_channels, 2)`` for multichannel audio) and the filter
returns ``(out, zf)``; feeding ``zf`` into the next chunk gives exactly the
output of one pass over the whole signal.

The peaking and shelving filters follow the Audio EQ Cookbook (R.
Bristow-Johnson); the shelves use slope ``S = 1`` (Q = 1/sqrt(2)).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._kernels.cpu import biquad as _biquad
from .._core.validation import check_audio, check_choice, check_finite_output, check_int, check_real, check_sample_rate
from .._core.backend import resolve_backend
from .._core.errors import ParameterError

__all__ = [
    "lowpass",
    "highpass",
    "bandpass",
    "bandstop",
    "peaking_eq",
    "low_shelf",
    "high_shelf",
    "design_sos",
    "sos_filter",
]

_KINDS = ("lowpass", "highpass", "bandpass", "bandstop", "peaking", "low_shelf", "high_shelf")


# ----------------------------------------------------------------------------- design


@lru_cache(maxsize=512)
def _butter(kind: str, order: int, freqs: tuple, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter, zpk2sos

    wn = freqs[0] if len(freqs) == 1 else list(freqs)
    with np.errstate(all="ignore"):  # scipy's own gain may overflow; it is not used
        z, p, _ = butter(order, wn, btype=kind, fs=sample_rate, output="zpk")
    # scipy's gain k (all in the first section) underflows at high orders and
    # extreme cutoffs (2e-87 for order 32 at 10 Hz); pair without it and give
    # every section its own unit gain instead.
    sos = _unit_gain_sections(zpk2sos(z, p, 1.0), _reference_angle(kind, freqs, sample_rate))
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
        alpha = sw / (2.0 * q)
        b = (1.0 + alpha * a, -2.0 * cw, 1.0 - alpha * a)
        den = (1.0 + alpha / a, -2.0 * cw, 1.0 - alpha / a)
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


def _log_gains(sos: np.ndarray) -> np.ndarray:
    """``log|H_s|`` of every section on a grid dense near 0, near Nyquist and at every pole angle."""
    edge = np.geomspace(1e-7, 1.0, 400)
    poles = np.angle(np.concatenate([np.roots(row[3:]) for row in sos]))
    w = np.unique(np.abs(np.concatenate([np.linspace(0.0, math.pi, 2049), edge, math.pi - edge, poles])))
    zi = np.exp(-1j * w)[None, :]
    num = sos[:, 0:1] + sos[:, 1:2] * zi + sos[:, 2:3] * zi * zi
    den = sos[:, 3:4] + sos[:, 4:5] * zi + sos[:, 5:6] * zi * zi
    return np.log(np.maximum(np.abs(num), 1e-300)) - np.log(np.maximum(np.abs(den), 1e-300))


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
        swing = [max(np.max(partial + logs[s]), np.max(total - partial - logs[s])) for s in left]
        best = left.pop(int(np.argmin(swing)))
        order.append(best)
        partial = partial + logs[best]
    return np.ascontiguousarray(sos[order])


def _check_freq(value, name, sample_rate):
    lo, hi = FREQ_MARGIN * sample_rate, (0.5 - FREQ_MARGIN) * sample_rate
    value = check_real(value, name)
    if not lo <= value <= hi:
        raise ParameterError(
            f"{name} must be in [{lo:g}, {hi:g}] Hz (1e-5 of sample_rate={sample_rate} away from 0 and "
            f"from Nyquist), got {value:g}"
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

    Returns
    -------
    sos : np.ndarray [shape=(n_sections, 6)], float64, read-only
        The Butterworth sections are scipy's (same pairing, same
        denominators) with the overall gain spread so that each section has
        gain 1 in the pass band (at DC, Nyquist or the band's centre), where
        scipy puts it all in the first section (where it underflows at high
        orders). Use these sections, not scipy's, for ``zi`` (e.g.
        ``scipy.signal.sosfilt_zi(design_sos(...))``).

    Examples
    --------
    >>> design_sos("bandpass", sample_rate=16000, low_hz=300, high_hz=3400).shape
    (4, 6)
    """
    check_choice(kind, "kind", _KINDS)
    sample_rate = check_sample_rate(sample_rate)
    if kind in ("lowpass", "highpass"):
        order = check_int(order, "order", low=1, high=32)
        return _butter(kind, order, (_check_freq(cutoff_hz, "cutoff_hz", sample_rate),), sample_rate)
    if kind in ("bandpass", "bandstop"):
        order = check_int(order, "order", low=1, high=32)
        lo = _check_freq(low_hz, "low_hz", sample_rate)
        hi = _check_freq(high_hz, "high_hz", sample_rate)
        if lo >= hi:
            raise ParameterError(f"low_hz must be < high_hz, got low_hz={lo:g} >= high_hz={hi:g}")
        return _butter(kind, order, (lo, hi), sample_rate)
    gain_db = check_real(gain_db, "gain_db", low=-60.0, high=60.0)
    if kind == "peaking":
        center_hz = _check_freq(center_hz, "center_hz", sample_rate)
        q = check_real(q, "q", low=0.0, high=1000.0, low_inclusive=False)
        return _cookbook(kind, center_hz, gain_db, q, sample_rate)
    return _cookbook(kind, _check_freq(cutoff_hz, "cutoff_hz", sample_rate), gain_db, 0.0, sample_rate)


# ----------------------------------------------------------------------------- running


def sos_filter(y, *, sos, zi=None, backend="auto"):
    """Run audio through a cascade of second-order sections (like ``scipy.signal.sosfilt``).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    sos : np.ndarray [shape=(n_sections, 6)]
        scipy's layout; each row ``[b0, b1, b2, a0, a1, a2]`` (rows with
        ``a0 != 1`` are normalised).
    zi : None, "zeros" or np.ndarray [shape=(n_sections, 2) or (n_sections, n_channels, 2)]
        Filter state before the first sample. ``None``: zero state, only the
        output is returned. Otherwise ``(out, zf)`` is returned.
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    out : np.ndarray, same shape and dtype as ``y``
    zf : np.ndarray, float64, the shape of ``zi`` (only when ``zi`` is given)

    Examples
    --------
    >>> import numpy as np
    >>> sos = design_sos("lowpass", sample_rate=16000, cutoff_hz=1000)
    >>> y = np.ones(100)
    >>> out, zf = sos_filter(y[:50], sos=sos, zi="zeros")
    >>> out2, _ = sos_filter(y[50:], sos=sos, zi=zf)
    >>> bool(np.allclose(np.concatenate([out, out2]), sos_filter(y, sos=sos)))
    True
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        from ..cuda.ops import cuda_sos_filter

        return cuda_sos_filter(y, sos=sos, zi=zi)
    y = check_audio(y, "y")
    return _run(y, check_sos(sos), zi, "sos")


def check_sos(sos) -> np.ndarray:
    """``sos`` as a C-contiguous float64 ``(n_sections, 6)`` array with ``a0 = 1``."""
    sos = np.asarray(sos, dtype=np.float64)
    if sos.ndim != 2 or sos.shape[1] != 6 or sos.shape[0] < 1:
        raise ParameterError(f"sos must have shape (n_sections, 6), got shape {sos.shape}")
    if not np.all(sos[:, 3] == 1.0):
        if np.any(sos[:, 3] == 0.0) or not np.isfinite(sos).all():
            raise ParameterError("sos must be finite with a0 != 0 in every section")
        sos = sos / sos[:, 3:4]
    return np.ascontiguousarray(sos)


def _run(y, sos, zi, what):
    """Filter validated audio with a validated cascade (the fast path); ``what`` names the
    filter in the overflow error."""
    n_sections = sos.shape[0]
    mono = y.ndim == 1
    x = y[None, :] if mono else y
    n_channels = x.shape[0]
    if zi is None:
        state = np.zeros((n_channels, n_sections, 2))
    elif isinstance(zi, str) and zi == "zeros":
        state = np.zeros((n_channels, n_sections, 2))
    else:
        zi = np.asarray(zi, dtype=np.float64)
        expected = (n_sections, 2) if mono else (n_sections, n_channels, 2)
        if zi.shape != expected:
            raise ParameterError(f"zi must have shape {expected} for this filter and audio, got shape {zi.shape}")
        if not np.isfinite(zi).all():
            raise ParameterError("zi must be finite")
        # kernel layout is (channel, section, 2)
        state = np.array(zi[None] if mono else zi.transpose(1, 0, 2), order="C")  # a copy: zi is never modified
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    if x.shape[1]:
        check_finite_output(out, what, y=y, total=_biquad.sosfilt(sos, x, out, state))
    out = out[0] if mono else out
    if zi is None:
        return out
    zf = state[0] if mono else state.transpose(1, 0, 2).copy()
    return out, zf


def _apply(y, sos, zi, backend, what):
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        from ..cuda.ops import cuda_sos_filter

        return cuda_sos_filter(y, sos=sos, zi=zi)
    return _run(check_audio(y, "y"), sos, zi, what)


def lowpass(y, *, cutoff_hz, sample_rate, order=4, zi=None, backend="auto"):
    """Butterworth low-pass filter (cascaded biquads).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    cutoff_hz : float
        -3 dB frequency, in ``[1e-5, 0.5 - 1e-5] * sample_rate``.
    sample_rate : int
    order : int
        Butterworth order in [1, 32] (default 4).
    zi : None, "zeros" or np.ndarray
        Filter state; when given, ``(out, zf)`` is returned (see :func:`sos_filter`).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    out : np.ndarray, same shape and dtype as ``y`` (and ``zf`` when ``zi`` is given)

    See Also
    --------
    highpass, bandpass, sos_filter

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = np.sin(2 * np.pi * 6000 * t)
    >>> float(np.abs(lowpass(y, cutoff_hz=1000, sample_rate=16000)[1000:]).max()) < 1e-3
    True
    """
    sos = design_sos("lowpass", sample_rate=sample_rate, cutoff_hz=cutoff_hz, order=order)
    return _apply(y, sos, zi, backend, f"lowpass(cutoff_hz={cutoff_hz:g}, order={order})")


def highpass(y, *, cutoff_hz, sample_rate, order=4, zi=None, backend="auto"):
    """Butterworth high-pass filter; arguments as :func:`lowpass`.

    Examples
    --------
    >>> import numpy as np
    >>> out = highpass(np.ones(8000), cutoff_hz=100, sample_rate=16000)
    >>> float(abs(out[-1])) < 1e-6
    True
    """
    sos = design_sos("highpass", sample_rate=sample_rate, cutoff_hz=cutoff_hz, order=order)
    return _apply(y, sos, zi, backend, f"highpass(cutoff_hz={cutoff_hz:g}, order={order})")


def bandpass(y, *, low_hz, high_hz, sample_rate, order=4, zi=None, backend="auto"):
    """Butterworth band-pass filter between ``low_hz`` and ``high_hz``.

    ``order`` is scipy's: the band-pass has ``order`` biquad sections.
    Other arguments as :func:`lowpass`.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> bandpass(y, low_hz=300, high_hz=3400, sample_rate=16000).dtype
    dtype('float32')
    """
    sos = design_sos("bandpass", sample_rate=sample_rate, low_hz=low_hz, high_hz=high_hz, order=order)
    return _apply(y, sos, zi, backend, f"bandpass(low_hz={low_hz:g}, high_hz={high_hz:g}, order={order})")


def bandstop(y, *, low_hz, high_hz, sample_rate, order=4, zi=None, backend="auto"):
    """Butterworth band-stop (notch band) filter; arguments as :func:`bandpass`.

    Examples
    --------
    >>> import numpy as np
    >>> bandstop(np.zeros(10), low_hz=900, high_hz=1100, sample_rate=16000).shape
    (10,)
    """
    sos = design_sos("bandstop", sample_rate=sample_rate, low_hz=low_hz, high_hz=high_hz, order=order)
    return _apply(y, sos, zi, backend, f"bandstop(low_hz={low_hz:g}, high_hz={high_hz:g}, order={order})")


def peaking_eq(y, *, center_hz, gain_db, q, sample_rate, zi=None, backend="auto"):
    """Peaking (bell) equaliser: ``gain_db`` at ``center_hz``, bandwidth set by ``q``.

    One cookbook biquad; 0 dB far from the centre.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = np.sin(2 * np.pi * 1000 * t)
    >>> out = peaking_eq(y, center_hz=1000, gain_db=6.0, q=1.0, sample_rate=16000)
    >>> round(float(np.abs(out[8000:]).max()), 2)
    2.0
    """
    sos = design_sos("peaking", sample_rate=sample_rate, center_hz=center_hz, gain_db=gain_db, q=q)
    return _apply(y, sos, zi, backend, f"peaking_eq(gain_db={gain_db:g}, q={q:g})")


def low_shelf(y, *, cutoff_hz, gain_db, sample_rate, zi=None, backend="auto"):
    """Low shelf: ``gain_db`` below ``cutoff_hz``, 0 dB above (cookbook, slope 1).

    Examples
    --------
    >>> import numpy as np
    >>> out = low_shelf(np.ones(16000), cutoff_hz=200, gain_db=-6.0206, sample_rate=16000)
    >>> round(float(out[-1]), 3)
    0.5
    """
    sos = design_sos("low_shelf", sample_rate=sample_rate, cutoff_hz=cutoff_hz, gain_db=gain_db)
    return _apply(y, sos, zi, backend, f"low_shelf(gain_db={gain_db:g})")


def high_shelf(y, *, cutoff_hz, gain_db, sample_rate, zi=None, backend="auto"):
    """High shelf: ``gain_db`` above ``cutoff_hz``, 0 dB below (cookbook, slope 1).

    Examples
    --------
    >>> import numpy as np
    >>> out = high_shelf(np.ones(16000), cutoff_hz=2000, gain_db=12.0, sample_rate=16000)
    >>> round(float(out[-1]), 3)
    1.0
    """
    sos = design_sos("high_shelf", sample_rate=sample_rate, cutoff_hz=cutoff_hz, gain_db=gain_db)
    return _apply(y, sos, zi, backend, f"high_shelf(gain_db={gain_db:g})")
