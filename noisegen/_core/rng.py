"""Seeds and keys: how ``rng`` arguments become counter-RNG keys.

Every random function takes ``rng: None | int | numpy.random.Generator``
(Scientific Python SPEC 7, https://scientific-python.org/specs/spec-0007/).
It is resolved once per call to a 64-bit *key*; kernels then draw
sample ``i`` of stream ``s`` from a hash of ``(key, s, i)``
(:mod:`noisegen._kernels.rng`), so the output does not depend on chunking,
threads or workers. Global random state is never touched.

- ``None``: fresh OS entropy (a different result every call): draws from one generator per
  process seeded from the OS (:func:`_fresh`), seeded anew in a forked child.
- ``int``: the key is derived from the integer through
  :class:`numpy.random.SeedSequence` (the same int always gives the same key).
- ``Generator``: one 64-bit draw from it (the generator advances, so two calls
  with one generator give different, reproducible results).

Keys and generators come from :class:`numpy.random.SeedSequence`'s hash:
:func:`derive_key` and :func:`as_generator` compute it in a kernel
(:func:`_hashed_words`), the same words numpy computes, in 2-3x less time than
through a ``SeedSequence`` (a stream makes one key and one generator per item;
``tests/test_seeds.py`` compares words, keys and states with numpy's).
"""

from __future__ import annotations

import numbers
import os

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

from .errors import ParameterError
from .jit import exact_kernel
from .validation import show_value

__all__ = ["resolve_key", "derive_key", "as_generator", "check_rng", "check_seed", "seed_words"]

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
# numpy's SeedSequence constants (O'Neill's seed_seq_fe): the pool's and the output's hashes, the mix
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_LOW32, _SHIFT = np.uint64(0xFFFFFFFF), np.uint64(16)
_POOL = 4


@exact_kernel
def _hashmix(value, h, mult):
    """``(hashed value, next h)``: SeedSequence's ``hashmix`` of a 32-bit word (``mult``: the pool's
    or the output's)."""
    v = (value ^ h) & _LOW32
    h = (h * mult) & _LOW32
    v = (v * h) & _LOW32
    return v ^ (v >> _SHIFT), h


@exact_kernel
def _hashed_words(entropy, n_words, n_out, wide):
    """``SeedSequence(...).generate_state(n_out, np.uint64 if wide else np.uint32)`` (as uint64) for
    the assembled entropy ``entropy[:n_words]``: the pool mixed as numpy mixes it
    (``mix_entropy``), then hashed out word by word (32-bit arithmetic, masked); ``wide`` pairs
    the words, little-endian, as numpy does."""
    pool = np.zeros(_POOL, np.uint64)
    h = _INIT_A
    for i in range(_POOL):  # each entropy word (0 past the end) hashed into the pool
        pool[i], h = _hashmix(entropy[i] if i < n_words else np.uint64(0), h, _MULT_A)
    for src in range(max(n_words, _POOL)):  # each pool word into every other, then the entropy past the pool
        for dst in range(_POOL):
            if src != dst:
                v, h = _hashmix(pool[src] if src < _POOL else entropy[src], h, _MULT_A)
                m = (_MIX_L * pool[dst] - _MIX_R * v) & _LOW32
                pool[dst] = m ^ (m >> _SHIFT)
    out = np.zeros(n_out, np.uint64)
    h = _INIT_B
    for i in range(n_out * 2 if wide else n_out):
        v, h = _hashmix(pool[i % _POOL], h, _MULT_B)
        if wide:
            out[i >> 1] |= v << np.uint64(32 * (i & 1))
        else:
            out[i] = v
    return out


def _append_words(value: int, words: list) -> None:
    """The 32-bit words of a non-negative int, least significant first (``[0]`` for 0), as
    SeedSequence coerces an int."""
    if value == 0:
        words.append(0)
    while value:
        words.append(value & _MASK32)
        value >>= 32


def seed_words(entropy: int, spawn_key=(), n_words: int = 2, wide: bool = False) -> np.ndarray:
    """``numpy.random.SeedSequence(entropy, spawn_key=spawn_key).generate_state(n_words, dtype)``
    (as uint64; ``dtype`` np.uint64 with ``wide``, else np.uint32), computed without constructing
    the SeedSequence.

    Examples
    --------
    >>> import numpy as np
    >>> ours = seed_words(12345, (6, 7), 8).astype(np.uint32)
    >>> bool(np.array_equal(ours, np.random.SeedSequence(12345, spawn_key=(6, 7)).generate_state(8)))
    True
    """
    words = []
    _append_words(int(entropy), words)
    if spawn_key:
        words.extend([0] * (_POOL - len(words)))  # numpy pads the entropy to the pool before a spawn key
        for part in spawn_key:
            _append_words(int(part), words)
    return _hashed_words(np.array(words, np.uint64), len(words), n_words, wide)


class _KeySeed(ISpawnableSeedSequence):
    """``SeedSequence(key)`` to a bit generator: its ``generate_state`` from :func:`seed_words`;
    anything else asked of it (``spawn``, ``entropy``, ...) goes to a real one, made then."""

    __slots__ = ("key", "_real")

    def __init__(self, key: int):
        self.key = key
        self._real = None

    def _seq(self):
        if self._real is None:
            self._real = np.random.SeedSequence(self.key)
        return self._real

    def generate_state(self, n_words, dtype=np.uint32):
        if dtype is np.uint64:  # what a bit generator asks for
            return seed_words(self.key, (), n_words, wide=True)
        return self._seq().generate_state(n_words, dtype)

    def spawn(self, n_children):
        return self._seq().spawn(n_children)

    def __repr__(self):
        return repr(self._seq())

    def __getattr__(self, name):  # only for names not found on the stand-in itself
        if name.startswith("_"):  # (unpickling asks before __init__ has run)
            raise AttributeError(name)
        return getattr(self._seq(), name)


# The generator rng=None draws from (a one-element list: set on first use, cleared in a forked child).
_FRESH: list = [None]


def _fresh() -> np.random.Generator:
    """The process's generator for ``rng=None``, seeded from the OS's entropy on first use. A new
    ``default_rng()`` per call (a SeedSequence from ``os.urandom``) cost 17 us, more than a Gain's
    whole call; numpy's generators are thread-safe. A forked child (a DataLoader or pool worker)
    seeds its own on first use, so forked workers never draw the same "fresh" numbers."""
    gen = _FRESH[0]
    if gen is None:
        gen = _FRESH[0] = np.random.default_rng()
    return gen


if hasattr(os, "register_at_fork"):  # (POSIX; elsewhere no process is forked)
    os.register_at_fork(after_in_child=lambda: _FRESH.__setitem__(0, None))


def _generator(key: int) -> np.random.Generator:
    """``numpy.random.default_rng(key)`` for an int ``key >= 0``: the same state, 2-3x sooner."""
    return np.random.Generator(np.random.PCG64(_KeySeed(key)))


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


def check_seed(seed, name: str = "seed") -> int:
    """A job's base seed: a non-negative int. A float is refused, whole or not, as numpy's seeding refuses
    it (``augment_folder(seed=1e300)`` took the float's 301 digits as a seed no one typed)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ParameterError(f"{name} must be a non-negative int, got {type(seed).__name__} {show_value(seed)}")
    if seed < 0:  # (show_value: str() of an int past 4,300 digits raises a ValueError)
        raise ParameterError(f"{name} must be a non-negative int, got {show_value(seed)}")
    return int(seed)


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
        rng = _fresh()
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 1 << 64, dtype=np.uint64, endpoint=False))
    return int(seed_words(int(rng), (), 1, wide=True)[0])  # SeedSequence(rng).generate_state(1, np.uint64)


def derive_key(key: int, *path: int) -> int:
    """A key for a sub-task (an epoch, an item, a transform) of a parent key.

    ``derive_key(k, epoch, item)`` depends only on its arguments, never on the
    worker or thread that computes it, which is what makes a stream's output
    independent of the number of workers.
    """
    return int(seed_words(int(key) & _MASK64, tuple(int(p) & _MASK64 for p in path), 1, wide=True)[0])


def as_generator(rng=None, name: str = "rng") -> np.random.Generator:
    """A :class:`numpy.random.Generator` for host-side parameter draws.

    A Generator passes through unchanged (so draws advance the caller's
    generator); an int seeds a new one; ``None`` gives the process's generator
    seeded from the OS (:func:`_fresh`).
    """
    rng = check_rng(rng, name)
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return _fresh()
    return _generator(int(rng))
