"""Seeds and keys: how ``rng`` arguments become counter-RNG keys.

Every random function takes ``rng: None | int | numpy.random.Generator``
(Scientific Python SPEC 7, https://scientific-python.org/specs/spec-0007/).
It is resolved once per call to a 64-bit *key*; kernels then draw
sample ``i`` of stream ``s`` from a hash of ``(key, s, i)``
(:mod:`noisegen._kernels.rng`), so the output does not depend on chunking,
threads or workers. Global random state is never touched.

- ``None``: fresh OS entropy (a different result every call).
- ``int``: the key is derived from the integer through
  :class:`numpy.random.SeedSequence` (the same int always gives the same key).
- ``Generator``: one 64-bit draw from it (the generator advances, so two calls
  with one generator give different, reproducible results).
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import ParameterError

__all__ = ["resolve_key", "derive_key", "as_generator", "check_rng"]

_MASK64 = (1 << 64) - 1


def check_rng(rng, name: str = "rng"):
    """Refuse anything that is not ``None``, a non-negative int or a Generator."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise ParameterError(
            f"{name} must be None, a non-negative int or a numpy.random.Generator, got {type(rng).__name__} {rng!r}"
        )
    if rng < 0:
        raise ParameterError(f"{name} must be a non-negative int seed, got {rng}")
    return rng


def resolve_key(rng=None, name: str = "rng") -> int:
    """Resolve ``rng`` to a 64-bit key (a Python int in ``[0, 2**64)``).

    Examples
    --------
    >>> resolve_key(0) == resolve_key(0)
    True
    >>> resolve_key(0) == resolve_key(1)
    False
    """
    rng = check_rng(rng, name)
    if rng is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 1 << 64, dtype=np.uint64, endpoint=False))
    return int(np.random.SeedSequence(int(rng)).generate_state(1, np.uint64)[0])


def derive_key(key: int, *path: int) -> int:
    """A key for a sub-task (an epoch, an item, a transform) of a parent key.

    ``derive_key(k, epoch, item)`` depends only on its arguments, never on the
    worker or thread that computes it, which is what makes a stream's output
    independent of the number of workers.
    """
    spawn_key = tuple(int(p) & _MASK64 for p in path)
    seq = np.random.SeedSequence(entropy=int(key) & _MASK64, spawn_key=spawn_key)
    return int(seq.generate_state(1, np.uint64)[0])


def as_generator(rng=None, name: str = "rng") -> np.random.Generator:
    """A :class:`numpy.random.Generator` for host-side parameter draws.

    A Generator passes through unchanged (so draws advance the caller's
    generator); an int or ``None`` seeds a new one.
    """
    rng = check_rng(rng, name)
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
