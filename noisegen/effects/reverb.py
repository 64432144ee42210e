"""Reverberation by convolution with a room impulse response (RIR).

``convolve_rir(y, rir)`` is the causal convolution ``y * rir`` computed with
real FFTs (:func:`.spectra.grid_rfft`, Numba kernels, one thread, float32
transforms for float32 audio): one transform of length
``fast_len(n + m - 1)`` for a short input, and for a long one overlap-save
with blocks of :func:`_block_len` ``(m)`` (about four times the RIR),
transformed where they lie in the padded input, :data:`_BATCH` at a time.
:class:`RirConvolver` keeps the RIR's spectra (in :data:`.spectra.SPECTRA`,
bounded in bytes) at FFT lengths from :func:`.spectra.fast_len`'s coarse grid,
so clips of similar lengths share one and skip that transform, and convolves a
stream of chunks by overlap-add, carrying the reverb tail from one chunk to the
next.

Normalisation rule (``normalize``), applied to the RIR before anything else:

- ``"energy"`` (default): divide by ``sqrt(sum(rir**2) / n_rir_channels)``, so
  the RIR has unit energy (a white input keeps its power on average);
- ``"peak"``: divide by ``max(|rir|)`` (the direct path gets gain 1);
- ``None``: use the RIR as given.

Both rules divide by the peak first, so a RIR of any finite scale (1e200,
1e-200) gives the same output. With ``None`` the output is ``scale`` times
that of the unit RIR, or :class:`~noisegen.ParameterError` when it does not
fit the audio's dtype (it overflows, or underflows to nothing).

``compensate_delay=True`` then drops the RIR samples before its peak (the
first ``argmax|rir|`` samples; the earliest peak over channels for a
multichannel RIR), which removes the direct-path delay. Those samples
(before the direct sound, normally near-silent) are discarded rather than
shifted to negative time, so the convolution stays causal and streamable;
the output is ``fftconvolve(y, rir[delay:])``, not exactly the uncompensated
output advanced by ``delay``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from collections import OrderedDict

import numpy as np

from .._core.validation import (check_audio, check_bool, check_choice, check_finite_output, check_real, check_sample_rate,
                                 nonfinite_error)
from .._core.backend import resolve_backend
from .._core.errors import ParameterError
from .._core.layout import stream_chunk
from .._core.lru import after_fork
from .level import max_magnitude
from .spectra import SPECTRA, fast_len, grid_irfft, grid_rfft, rfft_blocks

__all__ = ["convolve_rir", "RirConvolver", "prepare_rir", "early_rir"]

#: Length of the early part of a response kept by :func:`early_rir`, seconds after the direct path.
EARLY_S = 0.05

_NORMALIZE = ("energy", "peak", None)
_DIRECT_MAX = 32  # chunks up to this length are convolved directly in the streaming form
_BATCH = 16  # overlap-save blocks per FFT call
_MIN_BLOCKS = 4  # fewer overlap-save blocks than this: one transform of the whole input


def prepare_rir(rir, *, normalize="energy", compensate_delay=False):
    """The RIR after normalisation and delay compensation (see the module notes).

    Parameters
    ----------
    rir : np.ndarray [shape=(m,) or (n_channels, m)], float32 or float64
    normalize : {"energy", "peak", None}
    compensate_delay : bool

    Returns
    -------
    np.ndarray, float64, 2-D ``(n_rir_channels, m')``

    Examples
    --------
    >>> import numpy as np
    >>> prepare_rir(np.array([0.0, 0.0, 2.0, 1.0]), normalize="peak", compensate_delay=True)
    array([[1. , 0.5]])
    """
    check_choice(normalize, "normalize", _NORMALIZE)
    compensate_delay = check_bool(compensate_delay, "compensate_delay")
    rir = check_audio(rir, "rir", allow_empty=False)
    # in C order: the energy of a Fortran-order RIR was summed in its memory's order, an ulp from a copy's
    h = np.array(rir, dtype=np.float64, ndmin=2, order="C")
    peak = float(np.max(np.abs(h)))
    if peak == 0.0:
        raise ParameterError("rir must not be silent (all zeros)")
    if normalize is not None:
        # peak first: sum(h**2) of a 1e200 RIR overflows (and of a 1e-200 one underflows)
        h /= peak
    if normalize == "energy":
        h /= np.sqrt(np.sum(h * h) / h.shape[0])
    if compensate_delay:
        delay = int(np.min(np.argmax(np.abs(h), axis=1)))
        h = h[:, delay:]
    return np.ascontiguousarray(h)


def early_rir(rir, *, sample_rate, early_s=EARLY_S, normalize="energy", direct_s=None):
    """The early part of a response: up to ``early_s`` after its direct path, scaled as the whole.

    The direct path is the response's strongest sample (the earliest over
    channels), or the sample nearest ``direct_s`` when it is given (a
    simulated room's ``distance / c``: there two reflections arriving
    together, or the dense early part, may peak above the direct sound,
    which at 8 kHz they did in 15 % of ``RoomSimulator``'s default rooms,
    up to 41 ms after it); everything up to ``early_s`` seconds after it is kept, the
    rest (the late reverberation) dropped. The scale is the whole
    response's (``normalize`` as in :func:`prepare_rir`), so ``convolve_rir(y,
    early_rir(h, ...), normalize=None)`` is the part of ``convolve_rir(y, h)``
    due to the direct sound and the early reflections: the usual
    dereverberation target.

    Parameters
    ----------
    rir : np.ndarray [shape=(m,) or (n_channels, m)], float32 or float64
    sample_rate : int
    early_s : float
        Seconds kept after the direct path (default 50 ms), >= 0.
    normalize : {"energy", "peak", None}
    direct_s : float or None
        When the direct sound arrives, seconds from the response's start
        (>= 0); None: at the strongest sample.

    Returns
    -------
    np.ndarray, float64, 2-D ``(n_rir_channels, m')``

    Examples
    --------
    >>> import numpy as np
    >>> h = np.r_[0.0, 1.0, 0.5, 0.25, 0.125]
    >>> early_rir(h, sample_rate=20, early_s=0.1, normalize="peak")
    array([[0.  , 1.  , 0.5 , 0.25]])
    """
    sample_rate = check_sample_rate(sample_rate)
    early_s = check_real(early_s, "early_s", low=0.0)
    direct_s = check_real(direct_s, "direct_s", low=0.0, allow_none=True)
    h = prepare_rir(rir, normalize=normalize)
    if direct_s is None:
        direct = int(np.min(np.argmax(np.abs(h), axis=1)))
    else:
        direct = int(round(min(direct_s * sample_rate, h.shape[1])))
    keep = direct + 1 + int(round(min(early_s * sample_rate, h.shape[1])))  # (a longer early part is all of it)
    return np.ascontiguousarray(h[:, :keep])


def _block_len(m):
    """Overlap-save FFT length for an ``m``-sample RIR: the power of two >= ``4 m`` (at least 1024)."""
    return max(1024, 1 << (4 * m - 1).bit_length())


class RirConvolver:
    """Convolution with one RIR, spectrum cached; one-shot or streaming.

    Parameters
    ----------
    rir : np.ndarray [shape=(m,) or (n_channels, m)]
    normalize : {"energy", "peak", None}
    compensate_delay : bool
        See the module notes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y, rir = rng.standard_normal(1000), rng.standard_normal(100)
    >>> conv = RirConvolver(rir)
    >>> parts = [conv.process(c) for c in np.split(y, [10, 300, 700])]
    >>> bool(np.allclose(np.concatenate(parts), conv.convolve(y)))
    True
    """

    def __init__(self, rir, *, normalize="energy", compensate_delay=False):
        self.rir = prepare_rir(rir, normalize=normalize, compensate_delay=compensate_delay)
        # Transforms use the RIR scaled by a power of two to a peak in [0.5, 1)
        # and the result is scaled back exactly: a float32 copy of a 1e200 RIR
        # would be inf (a 1e-200 one zero).
        exp = math.frexp(float(np.max(np.abs(self.rir))))[1]
        self._exp = exp if abs(exp) > 64 else 0  # within 2**±64 float32 holds the RIR as it is
        self._unit = np.ldexp(self.rir, -self._exp) if self._exp else self.rir
        # Names this RIR's spectra in SPECTRA by content: fresh() twins, and a convolver made again for
        # the same samples (one dropped from _CACHE, as a job over many rates and RIRs does), share them.
        self._token = ("rir", hashlib.blake2b(self._unit.tobytes(), digest_size=16).digest(), self._unit.shape,
                       self._unit.dtype.str)
        self._tail = None

    def fresh(self):
        """A convolver of the same RIR with no stream under way, sharing this one's cached spectra."""
        twin = copy.copy(self)  # shallow: the prepared RIR and the spectra's token are shared
        twin._tail = None
        return twin

    @property
    def nbytes(self):
        """Bytes of the prepared response it holds (a cache's measure)."""
        return self.rir.nbytes + (self._unit.nbytes if self._unit is not self.rir else 0)

    @property
    def length(self):
        """Number of RIR samples after delay compensation."""
        return self.rir.shape[1]

    def _spectrum(self, nfft, dtype, keep=None):
        """The ``nfft``-point spectrum of the unit RIR (its first ``keep`` samples), kept for reuse."""
        return SPECTRA.get((self._token, nfft, dtype.char, keep), lambda: grid_rfft(self._unit[:, :keep].astype(dtype), nfft))

    def _circular(self, x2, nfft, n_out, keep=None):
        """The first ``n_out`` samples of the ``nfft``-point circular convolution of ``x2`` with the
        unit RIR (its first ``keep`` samples)."""
        return grid_irfft(grid_rfft(x2, nfft), nfft, stop=n_out, times=self._spectrum(nfft, x2.dtype, keep))

    def _channels(self, x2):
        if self.rir.shape[0] not in (1, x2.shape[0]):
            raise ParameterError(
                f"rir has {self.rir.shape[0]} channels but the audio has {x2.shape[0]}; "
                "use a mono rir or one per channel"
            )

    def _full(self, x2, n_out=None):
        """The first ``n_out`` (default all) samples of the full convolution of 2-D audio with
        the unit RIR, in the audio's dtype."""
        n, m = x2.shape[1], self.length
        n_out = n + m - 1 if n_out is None else n_out
        nfft = _block_len(m)
        if n_out >= _MIN_BLOCKS * (nfft - m + 1):
            return self._overlap_save(x2, n_out, nfft)
        if n_out < m:
            return self._short_outputs(x2, n_out)
        return self._circular(x2, fast_len(n + m - 1), n_out)

    def _short_outputs(self, x2, n_out):
        """:meth:`_full` when fewer outputs are wanted than the RIR is long (a short clip
        reverberated by a long room, ``mode="same"``): they read only ``x[:n_out]`` and
        ``h[:n_out]``. The transform length comes from :func:`.spectra.fast_len` and the RIR is
        cut at half of it (at least ``n_out`` samples: exact, and no wrap-around), so its
        spectrum depends on the length alone and is kept across clips of similar lengths."""
        nfft = fast_len(2 * n_out)  # even
        return self._circular(x2[:, :n_out], nfft, n_out, keep=nfft // 2)

    def _overlap_save(self, x2, n_out, nfft):
        """:meth:`_full` block by block: block ``b`` gives outputs ``[b * step, (b + 1) * step)``
        (``step = nfft - m + 1``) from the ``nfft`` inputs ending there, :data:`_BATCH` at a time."""
        n, m = x2.shape[1], self.length
        step = nfft - m + 1
        n_blocks = -(-n_out // step)
        spec = self._spectrum(nfft, x2.dtype)
        out = np.empty((x2.shape[0], n_blocks * step), x2.dtype)
        padded = np.zeros((n_blocks - 1) * step + nfft, x2.dtype)  # m - 1 zeros, the input, zeros
        xs_rows = np.empty((min(_BATCH, n_blocks), nfft // 2 + 1), np.result_type(x2.dtype, np.complex64))
        for c in range(x2.shape[0]):
            padded[m - 1:m - 1 + n] = x2[c]
            h = spec[c if spec.shape[0] > 1 else 0]
            rows = out[c].reshape(n_blocks, step)
            for b in range(0, n_blocks, _BATCH):
                k = min(_BATCH, n_blocks - b)
                starts = np.arange(b * step, (b + k) * step, step, dtype=np.int64)
                xs = rfft_blocks(padded, starts, nfft, nfft, out=xs_rows[:k])  # the blocks where they lie
                grid_irfft(xs, nfft, skip=m - 1, times=h, out=rows[b:b + k])
        return out[:, :n_out]

    def _scaled_full(self, x2, n_out=None, name="y"):
        """:meth:`_full` with the RIR itself, in the audio's dtype, range-checked; ``x2`` (``name``)
        is checked to be finite here, from the output: a NaN or inf input sample makes every
        output of the transforms NaN (one pass over the output instead of one over each)."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._full(x2, n_out)
            if self._exp:
                out = np.ldexp(out, self._exp)
            # NaN or inf when a sample is (a strided view: summed, which may also overflow on its own)
            total = max_magnitude(out) if out.flags.c_contiguous else float(np.sum(out))
            if not math.isfinite(total):
                out = self._nonfinite(x2, n_out, out, name)
        if self._exp < np.finfo(out.dtype).minexp + 64 and not out.any() and self._reaches(x2, out.shape[-1]):
            raise self._underflow_error(out.dtype)
        return out

    def _reaches(self, x2, n_out):
        """Whether the exact first ``n_out`` outputs for ``x2`` are not all zero: some channel's first
        nonzero sample meets its RIR's first within them. (An all-zero result is an underflow only
        then: a clip shorter than the RIR's delay, ``mode="same"``, gives zeros at any scale.)"""
        x_lead = np.where(x2.any(axis=1), np.argmax(x2 != 0, axis=1), n_out)
        h_lead = np.where(self.rir.any(axis=1), np.argmax(self.rir != 0, axis=1), n_out)
        return bool(np.any(x_lead + h_lead < n_out))

    def _underflow_error(self, dtype):
        return ParameterError(
            f"rir underflows {dtype} for this input: the result (rir peak "
            f"{float(np.max(np.abs(self.rir))):.3g}) is below {dtype}'s range"
        )

    def _nonfinite(self, x2, n_out, out, name):
        """A non-finite output: the input's fault, a float32 overflow in the transforms (redone in
        float64), or a result out of range (:class:`ParameterError` either way but the second)."""
        if not np.isfinite(x2).all():
            raise nonfinite_error(x2, name)
        if x2.dtype == np.float32:
            # float32 transforms overflow first (a spectrum sums many samples): redo in float64
            out = np.ldexp(self._full(x2.astype(np.float64), n_out), self._exp).astype(np.float32)
        return check_finite_output(out, f"rir (peak {float(np.max(np.abs(self.rir))):.3g} after normalize)", y=x2)

    def convolve(self, y, *, mode="same", backend="auto"):
        """Convolve a whole signal ``y``; ``mode`` and ``backend`` as in :func:`convolve_rir`.

        The streaming state is not touched.
        """
        resolve_backend(backend, y)
        check_choice(mode, "mode", ("same", "full"))
        y = check_audio(y, "y", finite=False)  # checked from the output (_scaled_full)
        x2 = y[None, :] if y.ndim == 1 else y
        self._channels(x2)
        n = x2.shape[1]
        if n == 0:
            return y.copy() if mode == "same" else np.zeros(y.shape[:-1] + (self.length - 1,), y.dtype)
        full = self._scaled_full(x2, n if mode == "same" else None)
        out = np.ascontiguousarray(full, dtype=y.dtype)
        return out[0] if y.ndim == 1 else out

    def process(self, chunk, *, backend="auto"):
        """Convolve the next chunk of a stream; returns ``len(chunk)`` samples.

        The tail of each chunk's reverb is added to the following chunks, so
        the concatenated outputs equal ``convolve(whole_signal)``. The number
        of channels must stay the same until :meth:`reset` or :meth:`flush`.
        A refused chunk (ParameterError) leaves the stream as it was.
        ``backend`` as in :func:`convolve_rir` (the CPU's).
        """
        resolve_backend(backend, chunk)
        with stream_chunk(chunk, None if self._tail is None else self._tail.shape[0]):  # (a short last chunk)
            chunk = check_audio(chunk, "chunk", finite=False)  # checked from the output, as in convolve
        x2 = chunk[None, :] if chunk.ndim == 1 else chunk
        self._channels(x2)
        m = self.length
        n_channels = max(x2.shape[0], self.rir.shape[0])
        if self._tail is not None and self._tail.shape[0] != n_channels:
            raise ParameterError(
                f"chunk has {x2.shape[0]} channels but the stream started with {self._tail.shape[0]}; "
                "call reset() first"
            )
        tail = self._tail if self._tail is not None else np.zeros((n_channels, m - 1))
        n = x2.shape[1]
        if n == 0:
            self._tail = tail  # (an empty chunk starts the stream too)
            return chunk.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            full = self._chunk_full(x2, n_channels)
            # as convolve refuses it: a tiny RIR (normalize=None) gave all-zero chunks, the tail kept in float64
            if (self._exp < np.finfo(chunk.dtype).minexp + 64 and not full.astype(chunk.dtype).any()
                    and self._reaches(x2, full.shape[1])):
                raise self._underflow_error(chunk.dtype)
            out, new_tail = self._add_tail(full, n, chunk.dtype, tail)
            # (the tail too: one overflowed in the transforms would make the next chunk's output inf)
            if not math.isfinite(float(np.sum(out)) + float(np.sum(new_tail))):
                if not np.isfinite(x2).all():
                    raise nonfinite_error(chunk, "chunk")
                if x2.dtype == np.float32:  # float32 transforms overflow first, as in convolve: redo in float64
                    out, new_tail = self._add_tail(self._chunk_full(x2.astype(np.float64), n_channels), n,
                                                   chunk.dtype, tail)
                check_finite_output(out, "rir", y=chunk)
        self._tail = new_tail  # only now: a refused chunk leaves the stream as it was (not started by it)
        return out[0] if chunk.ndim == 1 else np.ascontiguousarray(out)

    def _chunk_full(self, x2, n_channels):
        """The full convolution of a chunk with the RIR itself (``n_channels`` rows), in the chunk's dtype
        or float64."""
        n = x2.shape[1]
        if n <= _DIRECT_MAX:
            full = np.empty((n_channels, n + self.length - 1))
            for c in range(n_channels):
                full[c] = np.convolve(x2[c], self._unit[c if self.rir.shape[0] > 1 else 0])
        else:
            full = self._full(x2)  # n_channels rows: the RIR has one or as many as the chunk
        if self._exp:
            full = np.ldexp(np.asarray(full, dtype=np.float64), self._exp)
        return full

    def _add_tail(self, full, n, dtype, tail):
        """The chunk's output (``dtype``) and the next tail (float64) from its full convolution:
        the carried ``tail`` added in float64 where it overlaps, and rounded once."""
        m = self.length
        out = full[:, :n] if full.dtype == dtype else full[:, :n].astype(dtype)  # full is ours to write
        k = min(n, m - 1)
        out[:, :k] = full[:, :k] + tail[:, :k]
        new_tail = np.array(full[:, n:], dtype=np.float64)
        keep = max(m - 1 - n, 0)
        new_tail[:, :keep] += tail[:, n : n + keep]
        return out, new_tail

    def flush(self):
        """The remaining ``m - 1`` samples of reverb tail (float64, 2-D); resets the stream."""
        tail = self._tail if self._tail is not None else np.zeros((self.rir.shape[0], self.length - 1))
        self._tail = None
        return tail

    def reset(self):
        """Forget the carried tail (start a new stream)."""
        self._tail = None

    def __repr__(self):
        state = "idle" if self._tail is None else "streaming"
        return f"RirConvolver({self.rir.shape[0]} channel(s) x {self.length} samples, {state})"


_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 16
#: Bytes the entries may hold (a copy of the RIR and its prepared float64 samples each): a count
#: alone let 16 long responses keep ~2.4 times their own bytes after the caller dropped them.
_CACHE_BYTES = 64 << 20
_CACHE_LOCK = threading.Lock()  # convolve_rir from threads: an entry evicted between get and move_to_end (KeyError)


def _new_lock():
    global _CACHE_LOCK
    _CACHE_LOCK = threading.Lock()


after_fork(_new_lock)  # (a thread of the parent may have held it as another forked)


def _cached_convolver(rir, normalize, compensate_delay):
    """A :class:`RirConvolver` for ``rir``, reused while the same unchanged samples are passed.

    Keyed by where the samples are (a bank hands out a new view of the same
    memory on every draw), then checked by content (the memory may have been
    rewritten or reused)."""
    address = rir.__array_interface__["data"][0]
    key = (address, rir.shape, rir.strides, rir.dtype.str, normalize, bool(compensate_delay))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        original, conv = hit
        if np.array_equal(original, rir):  # same id could be a new or mutated array: compare content
            with _CACHE_LOCK:
                if key in _CACHE:  # (another thread may have dropped or replaced it meanwhile)
                    _CACHE.move_to_end(key)
            return conv
    conv = RirConvolver(rir, normalize=normalize, compensate_delay=compensate_delay)
    with _CACHE_LOCK:
        _CACHE[key] = (np.array(rir, copy=True), conv)
        while len(_CACHE) > _CACHE_SIZE or sum(a.nbytes + c.nbytes for a, c in _CACHE.values()) > _CACHE_BYTES:
            _CACHE.popitem(last=False)  # (one larger than the bound alone is used, not kept)
    return conv


def convolve_rir(y, rir, *, mode="same", normalize="energy", compensate_delay=False, backend="auto"):
    """Reverberate audio by convolving it with a room impulse response.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    rir : np.ndarray [shape=(m,) or (n_channels, m)], float32 or float64
        A mono RIR is applied to every channel; a multichannel one gives one
        RIR per channel.
    mode : {"same", "full"}
        ``"same"``: the first ``n`` samples of the full causal convolution
        (the input's length). ``"full"``: all ``n + m - 1`` samples.
    normalize : {"energy", "peak", None}
        How the RIR is scaled first (module notes); default unit energy.
    compensate_delay : bool
        Drop the RIR samples before its peak (removes the direct-path delay).
    backend : {"auto", "cpu"}

    Returns
    -------
    np.ndarray, the input's dtype

    See Also
    --------
    RirConvolver : cached spectrum and streaming overlap-add.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 0.0, 0.0, 2.0])
    >>> convolve_rir(y, np.array([0.0, 0.5, 0.25]), normalize=None).round(6)
    array([0.  , 0.5 , 0.25, 0.  ])
    >>> convolve_rir(y, np.array([0.0, 0.5, 0.25]), normalize="peak", compensate_delay=True).round(6) + 0.0  # no -0
    array([1. , 0.5, 0. , 2. ])
    """
    resolve_backend(backend, y)
    check_choice(normalize, "normalize", _NORMALIZE)
    compensate_delay = check_bool(compensate_delay, "compensate_delay")
    # finiteness: checked by prepare_rir when the RIR is new (a cached RIR equal to it is finite)
    rir = check_audio(rir, "rir", allow_empty=False, finite=False)
    return _cached_convolver(rir, normalize, compensate_delay).convolve(y, mode=mode)
