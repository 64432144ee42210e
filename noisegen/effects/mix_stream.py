"""Streaming pieces of :func:`noisegen.mix_at_snr`: whole-signal powers from blocks, and the mix itself.

:func:`mix_at_snr` scales the noise from the power of the whole signal, so a
stream needs a first pass: :class:`SignalPower` takes the blocks of that
pass and gives the power exactly as :func:`mix_at_snr` defines it (``"rms"``:
the mean square over all samples; ``"active"``: over the 20 ms frames within
40 dB of the loudest, each frame's energy computed from the same samples as
in one pass). The sums run block by block, so they may differ from the one
pass sums in the last bits (relative 1e-16), nothing more; a float64 signal
whose squares leave float64's normal range (near 1e-160) is measured on its
blocks scaled by powers of two, as the one pass measures it on a scaled copy
(:func:`noisegen._design.snr.exactly_squared`). The second pass
mixes each block with :func:`mix_block` at the block's position in the
noise, which is what :func:`mix_at_snr` adds there.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.errors import ParameterError
from .._core.units import seconds_to_samples
from .._design.snr import EXACT_TOTAL
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
        self._energies = []  # per-frame mean squares of x * 2**-e, with e (active only)
        self._partial = None  # samples of the frame under way (active only)
        self._quiet = []  # (e, sum of squares of block * 2**-e) of each block not silent whose squares lost bits

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
        if total < EXACT_TOTAL and (e := _exponent(block)):  # (silence: e = 0, nothing to add)
            self._quiet.append((e, _mix.sum_squares(np.ldexp(block, -e))))  # (a signal of such: power_exactly)
        if self._frame is not None:
            self._frames(block)

    def _frames(self, block):
        x = block if self._partial is None else np.concatenate([self._partial, block], axis=1)
        whole = (x.shape[1] // self._frame) * self._frame
        if whole:
            self._energies.append(_frame_energies(np.ascontiguousarray(x[:, :whole]), self._frame))
        self._partial = x[:, whole:].copy()

    def norm(self) -> float:
        """The signal's L2 norm over all rows (it bounds every sample)."""
        return math.sqrt(self._total)

    def power(self) -> float:
        """The mean power (``"active"``: over the active frames); 0.0 for a silent signal."""
        p, e = self.power_exactly()
        return math.ldexp(p, 2 * e)

    def power_exactly(self) -> tuple[float, int]:
        """``(p, e)``: :meth:`power` of the signal scaled by ``2**-e``, ``e = 0`` unless its squares lost bits
        (as :func:`noisegen._design.snr.exactly_squared` scales the one pass's signal: then ``e`` is the
        binary exponent of its peak)."""
        e = max(q[0] for q in self._quiet) if 0.0 < self._total < EXACT_TOTAL else 0  # (then every block is quiet)
        if self.reference == "rms" or self._total == 0.0:
            total = math.fsum(math.ldexp(t, 2 * (b - e)) for b, t in self._quiet) if e else self._total
            return total / max(self._size, 1), e
        parts = [np.ldexp(energies, 2 * (b - e)) for b, energies in self._energies]
        lengths = [np.full(p.shape[0], self._frame, dtype=np.float64) for p in parts]
        if self._partial is not None and self._partial.shape[1]:
            b, last = _frame_energies(np.ascontiguousarray(self._partial), self._partial.shape[1])
            parts.append(np.ldexp(last, 2 * (b - e)))
            lengths.append(np.array([float(self._partial.shape[1])]))
        whole = sum(energies.shape[0] for _, energies in self._energies)
        return active_power(np.concatenate(parts), np.concatenate(lengths), whole), e


def _exponent(x) -> int:
    """The binary exponent of ``max |x|`` (0 for silence): ``x * 2**-e`` squares without loss."""
    return math.frexp(float(np.max(np.abs(x), initial=0.0)))[1]


def _frame_energies(x, frame):
    """``(e, energies)``: the mean square of each ``frame``-sample block of ``x * 2**-e``, ``e = 0``
    unless ``x``'s squares lost bits (below :data:`EXACT_TOTAL`)."""
    energies = np.empty(-(-x.shape[1] // frame))
    if _mix.frame_energies(x, frame, energies) >= EXACT_TOTAL:
        return 0, energies
    e = _exponent(x)
    if e:
        _mix.frame_energies(np.ldexp(x, -e), frame, energies)
    return e, energies


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
