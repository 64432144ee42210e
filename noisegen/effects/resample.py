"""Band-limited resampling: polyphase FIR tables, in Numba.

Output sample ``k`` is the input evaluated at time ``k * orig / target``
(output sample 0 sits on input sample 0; nothing is delayed) through a
linear-phase low-pass designed from the *lower* of the two Nyquist
frequencies: flat within 0.013 dB (ripple at most 1.5e-3) up to 0.9 of
it, attenuated by at least 80 dB (83-86 dB by design and measured) from it
on, so nothing above the output Nyquist folds back.

Which filter (all designed in :mod:`noisegen._design.resample`, cached per
ratio):

- Integer decimation ``1 / D`` (``D`` up to 8: 16 kHz -> 8 kHz, 48 kHz ->
  16 kHz): one equiripple (Parks-McClellan) FIR, about a quarter shorter
  than a Kaiser sinc with the same band edges (2:1: 161 taps, not 214).
- Other rational downsampling by 0.6 or less (44.1 kHz -> 16 kHz): an
  equiripple prototype made continuous by a short Kaiser sinc, one exact
  table row per phase (240 taps instead of 304).
- Other rational ratios (``target / orig`` reduced by their gcd, up to
  :data:`MAX_RATIONAL_PHASES` phases; more than 257 only within 2**21 taps in
  all): a Kaiser-windowed sinc, one exact row per phase.
- Any other ratio (speed factors such as ``2 ** (1/12)``, 768 kHz -> 8,008
  Hz): the Kaiser sinc at 256 phases, blending the dot products of the two
  neighbouring phases.

Output length of :func:`resample`: ``ceil(n * target / orig)``, computed
exactly in integers (the rule of ``scipy.signal.resample_poly``;
``librosa.resample`` computes it in floating point and gives one sample
more at some lengths, e.g. 23,041 for 5,292 samples from 11,025 to 48,000 Hz).
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction

import numpy as np

from .._core.backend import resolve_backend
from .._design.resample import MAX_RATIONAL_PHASES, N_PHASES, Plan, cached_plan  # noqa: F401
from .._kernels.cpu import resample as cpu_kernels
from .._core.validation import (
    check_audio,
    check_finite_output,
    check_output_size,
    check_rates,
    nonfinite_error,
)
from .._core.errors import ParameterError
from .._core.layout import stream_chunk
from .._gpu.ops import cuda_resample

__all__ = ["resample", "Resampler"]

def _aligned_empty(rows, n, dtype):
    """C-contiguous ``(rows, n rounded up to 8)``, every row on a 64-byte boundary (uninitialised)."""
    width = -(-n // 8) * 8
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(rows * width + 64 // itemsize, dtype=dtype)
    skip = (-raw.__array_interface__["data"][0] % 64) // itemsize
    return raw[skip : skip + rows * width].reshape(rows, width)


def _aligned_zeros(rows, n, dtype):
    """:func:`_aligned_empty`, zeroed."""
    buf = _aligned_empty(rows, n, dtype)
    buf.fill(0)
    return buf


def _aligned_concat(parts):
    """``parts`` (each ``(rows, n_i)``) side by side in a fresh :func:`_aligned_empty` buffer
    (the columns that round its width up to 8 are zeros)."""
    buf = _aligned_empty(parts[0].shape[0], sum(p.shape[1] for p in parts), parts[0].dtype)
    at = 0
    for part in parts:
        buf[:, at : at + part.shape[1]] = part
        at += part.shape[1]
    buf[:, at:] = 0
    return buf


#: Inputs staged per block by the one-shot rational kernel (fits in L2 with its outputs).
_BLOCK_INPUTS = 16384
_SCRATCH = threading.local()


def _scratch(dtype, n):
    """This thread's aligned staging buffer for :func:`resample_to_length`, at least ``n`` long
    (kernels release the GIL: one buffer per thread)."""
    key = np.dtype(dtype).char
    buf = getattr(_SCRATCH, key, None)
    if buf is None or buf.shape[0] < n:
        buf = _aligned_empty(1, n, dtype)[0]
        setattr(_SCRATCH, key, buf)
    return buf


def resample_to_length(y, ratio, n_out, name="y"):
    """Resample ``y`` (1-D or 2-D, float) by ``ratio`` to exactly ``n_out`` samples.

    Raises the :func:`~noisegen._core.validation.check_audio` error when ``y`` holds
    NaN or inf, so callers may validate with ``finite=False``. The check reads
    the output, which is shorter when downsampling: every input sample lies in
    the window of some output and turns it NaN or inf (``inf * 0`` is NaN too,
    and no fast-math flag here assumes finite values). The kernels return the
    sum of their outputs, which is NaN or inf when one of them is. Only a
    non-finite sum, which a finite input could also give by overflowing,
    leads to a look at the input.
    """
    if ratio == 1:  # no change of rate (a speed factor within 1e-12 of 1): the samples, as on the
        # GPU and as for a factor of exactly 1 (the filter would only cut the top of the band)
        if not np.isfinite(y).all():
            raise nonfinite_error(y, name)
        out = np.zeros(y.shape[:-1] + (n_out,), dtype=y.dtype)
        out[..., : min(n_out, y.shape[-1])] = y[..., :n_out]
        return out
    x2 = np.ascontiguousarray(y.reshape(math.prod(y.shape[:-1]), y.shape[-1]))
    plan = cached_plan(ratio, y.dtype.char)
    out = np.empty((x2.shape[0], n_out), dtype=y.dtype)
    if plan.staged:  # integer decimation, 2x interpolation: each block staged in a small buffer
        total = plan.run(x2, 0, 0, out, _scratch(y.dtype, max(_BLOCK_INPUTS, plan.group_inputs)))
    elif plan.rational:  # no padded copy: blocks of the input are staged in a small aligned buffer
        scratch = _scratch(y.dtype, max(_BLOCK_INPUTS, plan.group_inputs))
        total = cpu_kernels.resample_rational_blocked(x2, plan.up, plan.down, plan.half, plan.padded, scratch, out)
    else:
        n, lead = x2.shape[1], plan.lead
        last = plan.index(max(n_out - 1, 0))
        xp = _aligned_empty(x2.shape[0], lead + max(n, last + 1) + plan.reach + 2, y.dtype)
        xp[:, :lead] = 0
        xp[:, lead : lead + n] = x2
        xp[:, lead + n :] = 0
        total = plan.run(xp, -lead, 0, out)
    if not math.isfinite(total):  # total: the sum of the outputs
        if not np.isfinite(y).all():
            raise nonfinite_error(y, name)
        check_finite_output(out, f"resampling {name} by {float(ratio):.6g}", y=y)  # finite input, overflowed
    return out.reshape(y.shape[:-1] + (n_out,))


def resample(y, *, orig_sample_rate, target_sample_rate, backend="auto"):
    """Change the sample rate of ``y`` with a band-limited polyphase FIR (equiripple or Kaiser sinc, see above).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)], float32 or float64
        Audio, time on the last axis.
    orig_sample_rate, target_sample_rate : int
        Sample rates in Hz, each in [1, 768000], their ratio in [1/256, 256].
        The output may hold at most ``noisegen._core.validation.MAX_SAMPLES``
        (2**31) samples.
    backend : {"auto", "cpu", "cuda"}
        Where to run; "auto" runs on the GPU when ``y`` is a CUDA array
        (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray [shape=(..., ceil(n * target / orig))]
        Same dtype as ``y``. The pass band (up to 0.9 of the lower Nyquist
        frequency) is kept flat within 0.013 dB; everything above the output
        Nyquist frequency is attenuated by at least 80 dB.

    See Also
    --------
    Resampler : the same filter over a stream of chunks.
    noisegen.speed : speed perturbation through this resampler.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> y = np.zeros(16000, dtype=np.float32)
    >>> noisegen.resample(y, orig_sample_rate=16000, target_sample_rate=8000).shape
    (8000,)
    >>> noisegen.resample(np.zeros((2, 441)), orig_sample_rate=44100, target_sample_rate=16000).shape
    (2, 160)
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_resample(y, orig_sample_rate=orig_sample_rate, target_sample_rate=target_sample_rate)
    y = check_audio(y, finite=False)  # resample_to_length checks for NaN/inf through its (shorter) output
    orig, target = check_rates(orig_sample_rate, target_sample_rate)
    if orig == target:
        return check_audio(y).copy()
    n = y.shape[-1]
    rows = None if y.ndim == 1 else y.shape[0]
    n_out = check_output_size(-((-n * target) // orig), rows, "target_sample_rate", target)
    return resample_to_length(y, Fraction(target, orig), n_out)


class Resampler:
    """Streaming form of :func:`resample`: chunks in, chunks out, same samples.

    The concatenation of ``process(c)`` for every chunk ``c`` followed by
    ``flush()`` equals ``resample`` of the concatenated input exactly,
    whatever the chunk sizes.

    Parameters
    ----------
    orig_sample_rate, target_sample_rate : int
        Sample rates in Hz, as in :func:`resample`.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> r = noisegen.Resampler(orig_sample_rate=48000, target_sample_rate=16000)
    >>> y = np.random.default_rng(0).standard_normal(4800)
    >>> out = np.concatenate([r.process(y[:1000]), r.process(y[1000:]), r.flush()])
    >>> np.array_equal(out, noisegen.resample(y, orig_sample_rate=48000, target_sample_rate=16000))
    True
    """

    def __init__(self, *, orig_sample_rate, target_sample_rate):
        self.orig_sample_rate, self.target_sample_rate = check_rates(orig_sample_rate, target_sample_rate)
        self._ratio = Fraction(self.target_sample_rate, self.orig_sample_rate)
        self.reset()

    def __repr__(self):
        return (f"Resampler(orig_sample_rate={self.orig_sample_rate}, target_sample_rate={self.target_sample_rate}, "
                f"samples_in={self._n_in})")

    def reset(self):
        """Forget the stream: the next chunk starts a new signal."""
        self._plan = None
        self._buf = None
        self._buf_start = 0
        self._n_in = 0
        self._k = 0
        self._filled = 0
        self._shape = None

    def _start(self, chunk):
        self._plan = cached_plan(self._ratio, chunk.dtype.char)
        self._shape = chunk.shape[:-1]
        lead = self._plan.lead
        self._buf = _aligned_zeros(int(np.prod(self._shape, dtype=int)), lead, chunk.dtype)
        self._buf_start = -lead
        self._filled = lead  # valid columns of _buf (its width is rounded up to 8)

    def _emit(self, k_end):
        plan = self._plan
        n_new = max(k_end - self._k, 0)
        out = np.empty((self._buf.shape[0], n_new), dtype=self._buf.dtype)
        if n_new:
            scratch = _scratch(out.dtype, plan.group_inputs) if plan.staged else None
            total = plan.run(self._buf, self._buf_start, self._k, out, scratch)
            check_finite_output(out, "chunk (resampled)", total=total)
            self._k = k_end
            keep_from = plan.keep_from(k_end) - self._buf_start
            if keep_from > 0:
                self._buf = _aligned_concat([self._buf[:, keep_from : self._filled]])
                self._buf_start += keep_from
                self._filled -= keep_from
        return out.reshape(self._shape + (n_new,))

    def process(self, chunk):
        """Feed the next chunk ``[shape=(n,) or (channels, n)]``; return the outputs now ready.

        A refused chunk (ParameterError) leaves the stream as it was."""
        with stream_chunk(chunk, self._shape[0] if self._shape else None):  # (a short last chunk of many channels)
            chunk = check_audio(chunk, "chunk")
        was = dict(vars(self))  # (attributes are replaced, never written in place)
        if self._plan is None:
            self._start(chunk)
        elif chunk.shape[:-1] != self._shape or chunk.dtype != self._buf.dtype:
            raise ParameterError(
                f"chunk must have {self._shape} leading shape and dtype {self._buf.dtype} like the "
                f"first chunk, got shape {chunk.shape} and dtype {chunk.dtype}"
            )
        if self.orig_sample_rate == self.target_sample_rate:
            self._n_in += chunk.shape[-1]
            return chunk.copy()
        try:
            k_end = self._plan.count_ready(self._n_in + chunk.shape[-1] - 1 - self._plan.reach)
            check_output_size(k_end - self._k, None if chunk.ndim == 1 else chunk.shape[0], "chunk.shape", chunk.shape)
            self._buf = _aligned_concat([self._buf[:, : self._filled], chunk.reshape(self._buf.shape[0], -1)])
            self._filled += chunk.shape[-1]
            self._n_in += chunk.shape[-1]
            return self._emit(k_end)
        except ParameterError:  # too many outputs, or they overflow the dtype: the stream goes on without it
            vars(self).update(was)
            raise

    def flush(self):
        """Return the last outputs (the input is zero beyond its end) and reset the stream."""
        if self._plan is None or self.orig_sample_rate == self.target_sample_rate:
            shape = self._shape if self._shape is not None else ()
            dtype = self._buf.dtype if self._buf is not None else np.float64
            self.reset()
            return np.zeros(shape + (0,), dtype=dtype)
        total = -((-self._n_in * self._ratio.numerator) // self._ratio.denominator)
        pad = np.zeros((self._buf.shape[0], self._plan.reach + 2), dtype=self._buf.dtype)
        self._buf = _aligned_concat([self._buf[:, : self._filled], pad])
        out = self._emit(total)
        self.reset()
        return out
