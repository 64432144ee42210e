"""Streaming pieces of :func:`noisegen.mix_at_snr`: whole-signal powers from blocks, and the mix itself.

:func:`mix_at_snr` scales the noise from the power of the whole signal, so a
stream needs a first pass: :class:`SignalPower` takes the blocks of that
pass and gives the power exactly as :func:`mix_at_snr` defines it (``"rms"``:
the mean square over all samples; ``"active"``: over the 20 ms frames within
40 dB of the loudest, each frame's energy computed from the same samples as
in one pass). The sums run block by block, so they may differ from the one
pass sums in the last bits (relative 1e-16), nothing more. The second pass
mixes each block with :func:`mix_block` at the block's position in the
noise, which is what :func:`mix_at_snr` adds there.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.errors import ParameterError
from .._core.units import seconds_to_samples
from .._kernels.cpu import mix as _mix
from .mix import _check_sum
from .mix_power import ACTIVE_FRAME_S, active_power

__all__ = ["SignalPower", "mix_block", "crop_power"]


class SignalPower:
    """The power of a signal fed in ``(rows, n)`` blocks, as :func:`mix_at_snr` measures it.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((1, 5000))
    >>> p = SignalPower("rms")
    >>> for a in range(0, 5000, 1300):
    ...     p.feed(y[:, a : a + 1300])
    >>> bool(np.isclose(p.power(), np.mean(y**2), rtol=1e-12))
    True
    """

    def __init__(self, reference: str = "rms", sample_rate: int | None = None):
        self.reference = reference
        self._total = 0.0
        self._size = 0
        self._frame = max(1, seconds_to_samples(ACTIVE_FRAME_S, sample_rate)) if reference == "active" else None
        self._energies = []  # per-frame mean squares (active only)
        self._partial = None  # samples of the frame under way (active only)

    def feed(self, block):
        """Add the next ``(rows, n)`` block."""
        block = np.ascontiguousarray(block)
        total = _mix.sum_squares(block)
        if not math.isfinite(total):
            if not np.isfinite(block).all():
                raise ParameterError("y holds NaN or inf samples")
            raise ParameterError("y is too loud: its power overflows float64")
        self._total += total
        self._size += block.size
        if self._frame is not None:
            self._frames(block)

    def _frames(self, block):
        x = block if self._partial is None else np.concatenate([self._partial, block], axis=1)
        whole = (x.shape[1] // self._frame) * self._frame
        if whole:
            energies = np.empty(whole // self._frame)
            _mix.frame_energies(np.ascontiguousarray(x[:, :whole]), self._frame, energies)
            self._energies.append(energies)
        self._partial = x[:, whole:].copy()

    def norm(self) -> float:
        """The signal's L2 norm over all rows (it bounds every sample)."""
        return math.sqrt(self._total)

    def power(self) -> float:
        """The mean power (``"active"``: over the active frames); 0.0 for a silent signal."""
        if self.reference == "rms" or self._total == 0.0:
            return self._total / max(self._size, 1)
        parts = list(self._energies)
        lengths = [np.full(e.shape[0], self._frame, dtype=np.float64) for e in parts]
        if self._partial is not None and self._partial.shape[1]:
            last = np.empty(1)
            _mix.frame_energies(np.ascontiguousarray(self._partial), self._partial.shape[1], last)
            parts.append(last)
            lengths.append(np.array([float(self._partial.shape[1])]))
        whole = sum(e.shape[0] for e in self._energies)
        return active_power(np.concatenate(parts), np.concatenate(lengths), whole)


def crop_power(noise2, offset: int, n: int) -> float:
    """Mean power of the ``n`` samples of ``noise2`` (2-D) from ``offset``, wrapping (as :func:`mix_at_snr`)."""
    total = _mix.wrapped_sum_squares(noise2, offset % noise2.shape[1], n)
    if not math.isfinite(total):
        raise ParameterError("noise holds NaN or inf samples, or its power overflows float64")
    return total / (n * noise2.shape[0])


def mix_block(block, noise2, position: int, scale: float, *, bound: float = 0.0, snr_db=None):
    """``block + scale * noise``, the noise read from ``position`` (wrapping), as :func:`mix_at_snr` mixes.

    ``bound``: a bound on every sample of the whole mix (the signal's L2 norm plus ``scale`` times the
    noise's); where it allows an overflow the block is checked, and one that overflowed is refused as
    :func:`mix_at_snr` refuses the whole mix (naming ``snr_db``), not handed on with inf samples.
    """
    block = np.ascontiguousarray(block)
    out = np.empty_like(block)
    if block.shape[1]:
        _mix.mix_wrapped(block, noise2, position % noise2.shape[1], scale, out)
        _check_sum(out, bound, snr_db, block)
    return out
