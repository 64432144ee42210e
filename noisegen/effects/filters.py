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

import numpy as np

from .._kernels.cpu import biquad as _biquad
from .._core.validation import check_audio, check_finite_output
from .._design.sections import FREQ_MARGIN, check_sos, check_zi, design_sos, zi_channels  # noqa: F401  (re-exported)
from .._core.backend import resolve_backend
from .._core.layout import stream_chunk
from .._gpu.ops import cuda_sos_filter

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
        The GPU's kernel runs at most 32 sections (a BackendError past it); the CPU has no limit.

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
        return cuda_sos_filter(y, sos=sos, zi=zi)
    with stream_chunk(y, zi_channels(zi)):  # (zi sets the channels: a short last chunk of many)
        y = check_audio(y, "y")
    return _run(y, check_sos(sos), zi, "sos")


def _run(y, sos, zi, what):
    """Filter validated audio with a validated cascade (the fast path); ``what`` names the
    filter in the overflow error."""
    n_sections = sos.shape[0]
    mono = y.ndim == 1
    x = y[None, :] if mono else y
    n_channels = x.shape[0]
    state = check_zi(zi, n_sections, None if mono else n_channels)
    if state is None:
        state = np.zeros((n_channels, n_sections, 2))
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    if x.shape[1]:
        total = _biquad.sosfilt(sos, x, out, state)
        if not math.isfinite(total) and zi is not None and not isinstance(zi, str):
            # blame the state handed in only when the input alone fits: a stream's zf (peak 0 after
            # silence) was named for the overflow of its next, too loud, chunk
            alone = np.empty_like(x)
            check_finite_output(alone, what, y=y, total=_biquad.sosfilt(sos, x, alone, np.zeros_like(state)))
            what = f"{what} from zi (peak {float(np.max(np.abs(zi))):.3g})"
        check_finite_output(out, what, y=y, total=total)
    out = out[0] if mono else out
    if zi is None:
        return out
    zf = state[0] if mono else state.transpose(1, 0, 2).copy()
    return out, zf


def _label(name, **values):
    """``name(key=value, ...)`` naming a filter in the overflow error. The values passed
    design_sos's checks, so any numbers.Real (a Fraction has no ``:g``) is a float."""
    return f"{name}(" + ", ".join(f"{key}={float(value):g}" for key, value in values.items()) + ")"


def _apply(y, sos, zi, backend, what):
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_sos_filter(y, sos=sos, zi=zi, what=what)
    with stream_chunk(y, zi_channels(zi)):  # (as in sos_filter)
        y = check_audio(y, "y")
    return _run(y, sos, zi, what)


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
    return _apply(y, sos, zi, backend, _label("lowpass", cutoff_hz=cutoff_hz, order=order))


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
    return _apply(y, sos, zi, backend, _label("highpass", cutoff_hz=cutoff_hz, order=order))


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
    return _apply(y, sos, zi, backend, _label("bandpass", low_hz=low_hz, high_hz=high_hz, order=order))


def bandstop(y, *, low_hz, high_hz, sample_rate, order=4, zi=None, backend="auto"):
    """Butterworth band-stop (notch band) filter; arguments as :func:`bandpass`.

    Examples
    --------
    >>> import numpy as np
    >>> bandstop(np.zeros(10), low_hz=900, high_hz=1100, sample_rate=16000).shape
    (10,)
    """
    sos = design_sos("bandstop", sample_rate=sample_rate, low_hz=low_hz, high_hz=high_hz, order=order)
    return _apply(y, sos, zi, backend, _label("bandstop", low_hz=low_hz, high_hz=high_hz, order=order))


def peaking_eq(y, *, center_hz, gain_db, q, sample_rate, zi=None, backend="auto"):
    """Peaking (bell) equaliser: ``gain_db`` at ``center_hz``, bandwidth set by ``q``.

    One cookbook biquad; 0 dB far from the centre.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    center_hz : float
        Centre frequency, in ``[1e-5, 0.5 - 1e-5] * sample_rate``.
    gain_db : float
        Gain at the centre, in [-60, 60] dB.
    q : float
        Quality factor, in (0, 1000]: the larger, the narrower the bell.
    sample_rate : int
    zi : None, "zeros" or np.ndarray
        Filter state; when given, ``(out, zf)`` is returned (see :func:`sos_filter`).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    out : np.ndarray, same shape and dtype as ``y`` (and ``zf`` when ``zi`` is given)

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
    return _apply(y, sos, zi, backend, _label("peaking_eq", gain_db=gain_db, q=q))


def low_shelf(y, *, cutoff_hz, gain_db, sample_rate, zi=None, backend="auto"):
    """Low shelf: ``gain_db`` below ``cutoff_hz``, 0 dB above (cookbook, slope 1).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    cutoff_hz : float
        Corner frequency (half of ``gain_db``, in dB, is applied there), in
        ``[1e-5, 0.5 - 1e-5] * sample_rate``.
    gain_db : float
        Gain of the shelf, in [-60, 60] dB.
    sample_rate : int
    zi : None, "zeros" or np.ndarray
        Filter state; when given, ``(out, zf)`` is returned (see :func:`sos_filter`).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    out : np.ndarray, same shape and dtype as ``y`` (and ``zf`` when ``zi`` is given)

    Examples
    --------
    >>> import numpy as np
    >>> out = low_shelf(np.ones(16000), cutoff_hz=200, gain_db=-6.0206, sample_rate=16000)
    >>> round(float(out[-1]), 3)
    0.5
    """
    sos = design_sos("low_shelf", sample_rate=sample_rate, cutoff_hz=cutoff_hz, gain_db=gain_db)
    return _apply(y, sos, zi, backend, _label("low_shelf", gain_db=gain_db))


def high_shelf(y, *, cutoff_hz, gain_db, sample_rate, zi=None, backend="auto"):
    """High shelf: ``gain_db`` above ``cutoff_hz``, 0 dB below (cookbook, slope 1).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    cutoff_hz : float
        Corner frequency (half of ``gain_db``, in dB, is applied there), in
        ``[1e-5, 0.5 - 1e-5] * sample_rate``.
    gain_db : float
        Gain of the shelf, in [-60, 60] dB.
    sample_rate : int
    zi : None, "zeros" or np.ndarray
        Filter state; when given, ``(out, zf)`` is returned (see :func:`sos_filter`).
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    out : np.ndarray, same shape and dtype as ``y`` (and ``zf`` when ``zi`` is given)

    Examples
    --------
    >>> import numpy as np
    >>> out = high_shelf(np.ones(16000), cutoff_hz=2000, gain_db=12.0, sample_rate=16000)
    >>> round(float(out[-1]), 3)
    1.0
    """
    sos = design_sos("high_shelf", sample_rate=sample_rate, cutoff_hz=cutoff_hz, gain_db=gain_db)
    return _apply(y, sos, zi, backend, _label("high_shelf", gain_db=gain_db))
