"""SignalShape: a stand-in for audio that has only a shape and a dtype.

Every transform draws its parameters from the length of its input alone
(never from its samples), and knows the length of its output for given
parameters (:meth:`Transform.output_length`). So a whole pipeline's
parameters can be drawn for a signal that is not in memory, exactly as a
call on the real signal draws them::

    params = pipeline.draw_params(SignalShape((n,), np.float32), sample_rate=16000, rng=seed)

which is how a long recording is processed in blocks
(:mod:`noisegen.transforms.blockwise`).
"""

from __future__ import annotations

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_audio, check_float_dtype, check_int, check_sequence

__all__ = ["SignalShape", "drawn_from", "length_after"]


class SignalShape:
    """The shape and dtype of a signal, without its samples.

    Parameters
    ----------
    shape : tuple of int
        ``(n,)`` or ``(n_channels, n)``.
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Compose, SpeedPerturb, TimeMask
    >>> pipe = Compose([SpeedPerturb(factors=[1.1], p=1.0), TimeMask(p=1.0)])
    >>> drawn = pipe.draw_params(SignalShape((16000,), np.float32), sample_rate=16000, rng=0)
    >>> out = pipe(np.zeros(16000, np.float32), sample_rate=16000, rng=0)  # the same draws, with audio
    >>> drawn == pipe.last_params, out.shape[-1], pipe.output_length(16000, 16000, drawn)
    (True, 14545, 14545)
    """

    def __init__(self, shape, dtype=np.float32):
        shape = tuple(check_int(s, f"shape[{i}]", low=0) for i, s in enumerate(check_sequence(shape, "shape")))
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] == 0):  # ((0, n): audio no call takes)
            raise ParameterError(f"shape must be (n,) or (n_channels, n) with n >= 0, n_channels >= 1, got {shape!r}")
        self.shape = shape
        # a float dtype in any byte order, as audio's: an int16 or complex signal drew for audio no call takes,
        # and dtype="x" raised NumPy's TypeError
        self.dtype = check_float_dtype(dtype.newbyteorder("=") if isinstance(dtype, np.dtype) else dtype)
        self.ndim = len(shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def with_length(self, n: int) -> "SignalShape":
        """The same channels and dtype with ``n`` samples."""
        return SignalShape(self.shape[:-1] + (int(n),), self.dtype)

    def __eq__(self, other):
        return isinstance(other, SignalShape) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self):  # a value, like the shape tuple it holds (defining __eq__ alone made it unhashable)
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"SignalShape({self.shape}, {self.dtype.name})"


class _NoSignal:
    """What a transform's draw sees for ``y=None``: asking its shape is a ParameterError naming the transform."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    @property
    def shape(self):
        raise ParameterError(f"{self._name} draws from the signal's length: draw_params needs y (the audio, or a "
                             "SignalShape), got None")


def drawn_from(y, name):
    """``y`` as a draw takes it: None (stands in as :class:`_NoSignal` for ``name``), a SignalShape,
    or audio (checked as a call checks it, but for the NaN scan its application makes)."""
    if y is None:
        return _NoSignal(name)
    if isinstance(y, (SignalShape, _NoSignal)):
        return y
    return check_audio(y, "y", finite=False)


def length_after(t, n, sample_rate, params):
    """:meth:`~noisegen.transforms.Transform.output_length` for ``params`` that ``t`` drew or checked
    (the transforms' own calls; the public method checks what it is given first)."""
    return t._output_length(n, sample_rate, params) if params["applied"] and n else n
