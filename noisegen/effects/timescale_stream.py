"""Streaming forms of :func:`speed`, :func:`time_stretch` (WSOLA) and :func:`pitch_shift`.

Each takes the whole input's length up front (the output length and, for
WSOLA, the ideal position of every frame depend on it), then blocks of any
size through ``process(block)`` and the rest through ``flush()``; the
concatenated outputs equal the one-pass function of the concatenated input
(same float operations in the same order: the same samples).

- :class:`LengthResampler`: the resampler of :func:`speed` (any ratio, an
  exact output length), carrying the filter's history between blocks.
- :class:`WsolaStream`: WSOLA with a look-ahead window. Frame ``k`` is
  placed once the guide is known a little beyond its ideal position
  (search tolerance, two frames and the fractional-delay taps); the prefix
  sums of the guide's energy continue from block to block, so every
  similarity score, and so every splice point, is the one-pass one.
- :class:`PitchShiftStream`: the two of them chained as :func:`pitch_shift`
  chains them.

WSOLA runs on the signal scaled by a power of two when its peak lies outside
``[2**-60, 2**60]`` (see :func:`noisegen.time_stretch`); a stream cannot
know its peak in advance, so :meth:`WsolaStream.flush` raises
:class:`PeakOutOfRange` (a :class:`~noisegen.ParameterError`) for such a signal
(a float file far below full scale, or gains of -120 dB before it), and the
caller processes it in one pass instead.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_finite_output
from .._design.ratios import exact_ratio, near_ratio
from .._design.resample import cached_plan
from .._kernels.cpu import wsola as wsola_kernels
from .resample import _aligned_concat, _aligned_zeros
from .timescale import _FRAC_TAPS, _frac_table, _hann, _wsola_geometry

__all__ = ["LengthResampler", "WsolaStream", "PitchShiftStream", "speed_stream", "PeakOutOfRange"]


class PeakOutOfRange(ParameterError):
    """A streamed time stretch's input peak lies outside ``[2**-60, 2**60]`` (see the module notes)."""


_PEAK_RANGE = (2.0**-60, 2.0**60)  # WSOLA runs unscaled on peaks in this range (timescale._pow2_exponent)


def _as_2d(block):
    return block[None, :] if block.ndim == 1 else block


class LengthResampler:
    """Resample a stream by ``ratio`` (output samples per input sample) to exactly ``n_out`` samples.

    The streaming twin of the resampling inside :func:`speed` and
    :func:`pitch_shift`; blocks are 2-D ``(rows, n)``.
    """

    def __init__(self, ratio, n_out: int):
        self.ratio, self.n_out = ratio, int(n_out)
        self._plan = self._buf = None
        self._buf_start = self._n_in = self._k = self._filled = 0

    def _start(self, block):
        self._plan = cached_plan(self.ratio, block.dtype.char)
        lead = self._plan.lead
        self._buf = _aligned_zeros(block.shape[0], lead, block.dtype)
        self._buf_start, self._filled = -lead, lead

    def _emit(self, k_end):
        plan = self._plan
        n_new = max(min(k_end, self.n_out) - self._k, 0)
        out = np.empty((self._buf.shape[0], n_new), dtype=self._buf.dtype)
        if n_new:
            total = plan.run(self._buf, self._buf_start, self._k, out)
            check_finite_output(out, f"resampling by {float(self.ratio):.6g}", total=total)
            self._k += n_new
            keep_from = plan.keep_from(self._k) - self._buf_start
            if keep_from > 0:
                self._buf = _aligned_concat([self._buf[:, keep_from : self._filled]])
                self._buf_start += keep_from
                self._filled -= keep_from
        return out

    def process(self, block):
        """Feed ``(rows, n)``; return the outputs now ready."""
        if self.ratio == 1:  # the samples themselves, as the one-shot resampler gives them
            out = block[:, : max(self.n_out - self._k, 0)].copy()
            self._k += out.shape[1]
            self._rows, self._dtype = block.shape[0], block.dtype
            return out
        if self._plan is None:
            self._start(block)
        self._buf = _aligned_concat([self._buf[:, : self._filled], block])
        self._filled += block.shape[1]
        self._n_in += block.shape[1]
        return self._emit(self._plan.count_ready(self._n_in - 1 - self._plan.reach))

    def flush(self):
        """The remaining outputs (the input is zero past its end), up to ``n_out`` in all."""
        if self.ratio == 1:
            out = np.zeros((self._rows, self.n_out - self._k), self._dtype)
            self._k = self.n_out
            return out
        plan = self._plan
        # zeros through the last input the last output reads: a stream fed fewer inputs than
        # n_out / ratio reads zeros there, as the one-shot resampler does, never past the buffer
        need = plan.index(max(self.n_out - 1, 0)) + plan.reach - self._n_in
        pad = np.zeros((self._buf.shape[0], max(plan.reach, need) + 2), dtype=self._buf.dtype)
        self._buf = _aligned_concat([self._buf[:, : self._filled], pad])
        self._filled += pad.shape[1]
        return self._emit(self.n_out)


def speed_stream(n: int, factor: float) -> LengthResampler:
    """The stream of :func:`noisegen.speed` (``factor != 1``) for an ``n``-sample input."""
    return LengthResampler(1 / exact_ratio(factor), round(n / factor))


class WsolaStream:
    """WSOLA time stretch of an ``n_in``-sample stream to ``n_out`` samples (see the module notes).

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> y = np.sin(np.arange(20000) / 7.0).astype(np.float32)
    >>> s = WsolaStream(20000, 16000, 16000, np.float32)
    >>> parts = [s.process(b[None]) for b in np.array_split(y, 7)] + [s.flush()]
    >>> out = np.concatenate(parts, axis=1)[0]
    >>> bool(np.array_equal(out, noisegen.time_stretch(y, rate=1.25, sample_rate=16000)))
    True
    """

    def __init__(self, n_in: int, n_out: int, sample_rate: int, dtype):
        self.n_in, self.n_out, self.dtype = int(n_in), int(n_out), np.dtype(dtype)
        # the one-pass geometry (timescale._wsola)
        hop, tol, dec, self.n_frames, pad, self.total = _wsola_geometry(self.n_in, self.n_out, sample_rate)
        self.hop, self.tol, self.dec, self.pad = hop, tol, dec, pad
        self.step = hop * (self.n_in / max(self.n_out, 1))
        # the last centre a frame may have (wsola_positions_from's ``last``)
        self.last = pad + max(self.n_in - hop - 1, self.n_in // 2)
        # how far past a frame's ideal position it reads (search, two frames, the taps), and before it
        self.reach = tol + 3 * dec + 2 * hop + 2 * _FRAC_TAPS + 16
        self.passthrough = self.n_out == self.n_in or self.n_in == 0 or self.n_out == 0
        self._window = _hann(2 * hop, self.dtype.char)
        self._table = _frac_table(self.dtype.char)
        self._x = None      # padded input from padded sample self._origin, self._filled columns
        self._origin = 0
        self._csum = np.zeros(1)            # one-pass prefix sums of x**2 (the guide: the input), from self._origin
        self._gd = None                     # dec-sample means, from cell self._origin // dec
        self._csum_d = np.zeros(1)
        self._k = 0          # next frame to place
        self._prev = 0.0     # position of frame self._k - 1
        self._carry = None   # overlap-add of frame self._k - 1 into output columns [k hop, (k + 1) hop)
        self._peak = 0.0
        self._sent = 0       # output samples returned so far
        self._fed = 0        # input samples taken so far (at most n_in)

    def _ideal(self, k):
        # Capped at the last centre, as the kernel caps it: the search of a frame past it reads
        # around the cap, and a trim by the uncapped ideal dropped columns it still read (it read
        # memory before the buffer: output unlike one pass, and from run to run, at rates near 4)
        return min(self.pad + int(math.floor(k * self.step + 0.5)), self.last)

    def _append(self, block):
        if self._x is None:
            self._x = np.zeros((block.shape[0], self.pad), self.dtype)
            self._carry = np.zeros((block.shape[0], self.hop), self.dtype)
            self._gd = np.zeros((block.shape[0], 0), self.dtype)
        if block.shape[1]:
            self._peak = max(self._peak, float(np.max(np.abs(block))))
        self._x = np.concatenate([self._x, block], axis=1)
        # prefix sums over the whole dec-cells now present, continuing the last ones
        done, ready = self._csum.shape[0] - 1, (self._x.shape[1] // self.dec) * self.dec
        if ready > done:
            csum = np.empty(ready - done + 1)
            csum[0] = self._csum[-1]
            gd = np.empty((self._x.shape[0], (ready - done) // self.dec), self.dtype)
            csum_d = np.empty(gd.shape[1] + 1)
            csum_d[0] = self._csum_d[-1]
            wsola_kernels.wsola_guide_from(np.ascontiguousarray(self._x[:, done:ready]), self.dec, csum, gd, csum_d)
            self._csum = np.concatenate([self._csum, csum[1:]])
            self._gd = np.concatenate([self._gd, gd], axis=1)
            self._csum_d = np.concatenate([self._csum_d, csum_d[1:]])

    def _place(self, k_end, last=False):
        """Place frames ``self._k .. k_end - 1``, overlap-add them; return finished output samples
        (``last``: no frame follows, the second half of the last one is finished too)."""
        k0, count, hop = self._k, k_end - self._k, self.hop
        positions = np.empty(count)
        if count:
            wsola_kernels.wsola_positions_from(
                self._x, self._csum, np.ascontiguousarray(self._gd), self._csum_d, self.dec, hop, self.tol, self.n_in,
                max(self.n_out, 1), self.pad, self._origin, k0, self._prev, positions)
            self._prev = float(positions[-1])
        acc = np.zeros((self._x.shape[0], (count + 1) * hop), self.dtype)
        acc[:, :hop] = self._carry
        if count:  # positions relative to the buffer: an exact shift by a whole number
            wsola_kernels.wsola_overlap_add(self._x, positions - self._origin, hop, self._window, self._table, acc)
        self._carry = acc[:, count * hop :].copy()
        self._k = k_end
        # finished columns [k0 hop, k_end hop) are output samples from k0 hop - hop
        first = k0 * hop - hop
        lo, hi = max(self._sent, first), min(self.n_out, (k_end + last) * hop - hop)
        out = acc[:, lo - first : hi - first] if hi > lo else acc[:, :0]
        self._sent = max(self._sent, hi)
        return np.ascontiguousarray(out)

    def _trim(self):
        """Drop the columns no later frame reads."""
        low = min(int(math.floor(self._prev)) - 2, self._ideal(self._k) - self.reach) - 8
        cut = (max(low, self._origin) // self.dec) * self.dec - self._origin
        if cut >= 4 * self.dec and cut > self._x.shape[1] // 2:
            self._x = np.ascontiguousarray(self._x[:, cut:])
            self._csum = self._csum[cut:]
            self._gd = np.ascontiguousarray(self._gd[:, cut // self.dec :])
            self._csum_d = self._csum_d[cut // self.dec :]
            self._origin += cut

    def process(self, block):
        """Feed the next ``(rows, n)`` block; return the output samples now final.

        Raises ParameterError when the blocks add up to more than ``n_in`` samples
        (the frames' positions were set by ``n_in``; fewer are read as zeros after them).
        """
        self._fed += block.shape[1]
        if self._fed > self.n_in:
            raise ParameterError(f"a time stretch stream declared for n_in={self.n_in} samples was fed {self._fed}")
        if self.passthrough:
            return self._pass(block)
        self._append(block)
        known = self._origin + self._csum.shape[0] - 1  # padded samples with their prefix sums
        k_end = self._k
        while k_end < self.n_frames and self._ideal(k_end) + self.reach <= known:
            k_end += 1
        out = self._place(k_end)
        self._trim()
        return out

    def _pass(self, block):
        """n_out == n_in: a copy; an empty input or output: zeros of the output's length (at flush)."""
        self._rows = block.shape[0]
        return block.copy() if self.n_out == self.n_in else block[:, :0].copy()

    def flush(self):
        """The remaining output samples (after at least one :meth:`process`, maybe of an empty block)."""
        if self.passthrough:
            missing = self.n_in - self._fed  # zeros for input never fed, as in the other paths
            return np.zeros((self._rows, missing if self.n_out == self.n_in else self.n_out), self.dtype)
        end = self._origin + self._x.shape[1]
        self._append(np.zeros((self._x.shape[0], self.total - end), self.dtype))
        out = self._place(self.n_frames, last=True)
        peak = self._peak
        if peak != 0.0 and not _PEAK_RANGE[0] <= peak <= _PEAK_RANGE[1]:
            raise PeakOutOfRange(
                f"a streamed time stretch needs its input's peak in [2**-60, 2**60], got {peak:.3g}; "
                "process this signal in one pass")
        check_finite_output(out, f"time stretch to {self.n_out} samples")
        return out


class PitchShiftStream:
    """The stream of :func:`noisegen.pitch_shift` for an ``n``-sample input (``n_steps != 0``)."""

    def __init__(self, n: int, n_steps: float, sample_rate: int, dtype, bins_per_octave: int = 12):
        r = 2.0 ** (n_steps / bins_per_octave)
        ratio = exact_ratio(r)
        if r > 1.0:  # resample n -> m (shorter), stretch back to n
            m = max(1, round(n / r))
            self._stages = [LengthResampler(near_ratio(1 / ratio, m), m), WsolaStream(m, n, sample_rate, dtype)]
        else:  # stretch n -> m, resample back up to n
            m = max(1, round(n * r))
            self._stages = [WsolaStream(n, m, sample_rate, dtype), LengthResampler(near_ratio(1 / ratio, n), n)]

    def process(self, block):
        first, second = self._stages
        return second.process(first.process(block))

    def flush(self):
        first, second = self._stages
        return np.concatenate([second.process(first.flush()), second.flush()], axis=1)
