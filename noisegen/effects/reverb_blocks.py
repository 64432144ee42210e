"""Reverberation of long signals over a fixed partition, the same in one pass and in a stream.

FFT convolution rounds differently for different FFT sizes, so a stream of
blocks and one pass over the whole signal agree only to float rounding
(about 1e-7 in float32). That is harmless alone, but a later stage that
makes discrete choices from the signal (WSOLA's splice points in a time
stretch or pitch shift) can turn it into a different splice. So a signal
longer than :func:`partition` is convolved block by block over a partition
that depends only on the RIR's length: blocks of ``partition(m)`` samples
from the first sample, each through :meth:`RirConvolver.process` (overlap-add
of the carried tail). :func:`convolve_partitioned` does it in one pass and
:class:`PartitionedRir` over a stream of blocks of any sizes: the same FFTs
of the same blocks, the same sums, the same samples. A signal no longer than
one block goes through :func:`convolve_rir` itself (which gives the samples
of one :meth:`RirConvolver.process` of it, beyond 32 samples; to rounding in
``mode="same"`` of a clip shorter than the response).
"""

from __future__ import annotations

import numpy as np

from .reverb import _cached_convolver, convolve_rir

__all__ = ["partition", "convolve_partitioned", "PartitionedRir"]

#: Smallest partition block, samples.
MIN_BLOCK = 1 << 16


def partition(m: int) -> int:
    """Block length of the partition for an ``m``-sample RIR: ``P - m + 1`` for ``P`` the power of two
    >= ``5 m`` and >= 65536, so that each block's full convolution is exactly one ``P``-point FFT
    (pocketfft's fastest length; a power-of-two block would need ``P + m - 1`` points)."""
    p = max(MIN_BLOCK, 1 << (max(5 * int(m), 1) - 1).bit_length())  # the power of two >= 5 m, in integers
    return p - int(m) + 1


def convolve_partitioned(y, rir, *, mode="same", convolver=None):
    """:func:`convolve_rir` (``normalize="energy"``) over the fixed partition (see the module notes).

    ``convolver``: the :class:`~noisegen.effects.reverb.RirConvolver` of ``rir`` (energy-normalised),
    when the caller keeps one (a transform, per room): the same samples, without looking ``rir``
    up in the convolver cache (which compares its samples on every call).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y, rir = rng.standard_normal(200_000).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    >>> stream = PartitionedRir(rir)
    >>> parts = [stream.process(b) for b in np.array_split(y[None], 7, axis=1)] + [stream.flush()]
    >>> bool(np.array_equal(np.concatenate(parts, axis=1)[0], convolve_partitioned(y, rir)))
    True
    """
    block = partition(rir.shape[-1])
    if y.shape[-1] <= block:
        return convolve_rir(y, rir, mode=mode) if convolver is None else convolver.convolve(y, mode=mode)
    x2 = y[None, :] if y.ndim == 1 else y
    stream = PartitionedRir(rir, keep_tail=mode == "full", convolver=convolver)
    out = np.concatenate([stream.process(np.ascontiguousarray(x2[:, a:a + block]))
                          for a in range(0, x2.shape[1], block)] + [stream.flush()], axis=1)
    return out[0] if y.ndim == 1 else out


class PartitionedRir:
    """Streaming convolution with ``rir`` over the fixed partition; ``(rows, n)`` blocks of any sizes.

    The concatenated outputs equal :func:`convolve_partitioned` of the
    concatenated input (``keep_tail``: ``mode="full"``) exactly.
    """

    def __init__(self, rir, *, keep_tail=False, convolver=None):
        self._rir = rir
        self._base = _cached_convolver(rir, "energy", False) if convolver is None else convolver
        self.conv = self._base.fresh()  # the RIR's spectra are shared
        self.block = partition(self.conv.length)
        self.keep_tail = keep_tail
        self.pending = None  # input not yet convolved (less than one block)
        self.seen = 0        # input samples so far
        self.dtype = np.dtype(rir.dtype)

    def process(self, block):
        """Feed ``(rows, n)``; return the output samples of the whole partition blocks now complete."""
        self.dtype = block.dtype
        self.pending = block if self.pending is None else np.concatenate([self.pending, block], axis=1)
        self.seen += block.shape[1]
        whole = (self.pending.shape[1] // self.block) * self.block
        outs = [self.conv.process(np.ascontiguousarray(self.pending[:, a:a + self.block]))
                for a in range(0, whole, self.block)]
        self.pending = self.pending[:, whole:]
        rows = max(self.pending.shape[0], self.conv.rir.shape[0])
        return np.concatenate(outs, axis=1) if outs else np.zeros((rows, 0), self.dtype)

    def flush(self):
        """The last (partial) block's output, and the reverb tail with ``keep_tail``; the next
        :meth:`process` starts a new stream (as after :meth:`RirConvolver.flush`)."""
        # (nothing fed: the output of an empty input, not an AttributeError on None)
        pending = self.pending if self.pending is not None else np.zeros((self.conv.rir.shape[0], 0), self.dtype)
        rows = max(pending.shape[0], self.conv.rir.shape[0])
        if self.seen < self.block:  # shorter than one block: convolve_rir itself, as in one pass
            out = self._base.convolve(pending, mode="full" if self.keep_tail else "same")
        else:
            parts = [self.conv.process(np.ascontiguousarray(pending))] if pending.shape[1] else []
            if self.keep_tail:
                tail = self.conv.flush()
                parts.append(np.broadcast_to(tail, (rows, tail.shape[1])).astype(self.dtype))
            out = np.concatenate(parts, axis=1) if parts else np.zeros((rows, 0), self.dtype)
        # flushed once: a second flush gave the last block (or a short stream) again, and a process
        # after it prepended that block to the next stream
        self.conv.reset()
        self.pending, self.seen = None, 0
        return out
