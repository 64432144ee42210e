"""Counter-based random numbers for kernels (CPU and CUDA alike).

Sample ``i`` of stream ``s`` under key ``k`` is a pure function of
``(k, s, i)``:

1. ``stream_key(k, s)`` mixes the key and the stream number into a per-stream
   64-bit key ``sk``;
2. ``hash64(sk, i)`` is the splitmix64 output for state ``sk + (i + 1) * G``
   (``G`` the 64-bit golden-ratio increment): consecutive ``i`` give the
   splitmix64 sequence started at ``sk``, which passes BigCrush;
3. ``normal(sk, i)`` turns it into a standard normal with the 256-layer
   ziggurat (Marsaglia & Tsang 2000, in the 64-bit layout numpy uses). The
   rare rejections draw further numbers from a splitmix64 sequence seeded by
   the first hash, so they too depend only on ``(k, s, i)``.

No state is carried between samples, so any chunking, any number of threads
and the CUDA kernels all give bit-identical noise.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.jit import scalar

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_SALT = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S8 = np.uint64(8)
_S1 = np.uint64(1)
_ONE = np.uint64(1)
_MASK8 = np.uint64(0xFF)
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def _ziggurat_tables():
    """ki (uint64), wi, fi (float64) for a 256-layer ziggurat with 52-bit mantissas."""
    m1 = 2.0**52
    dn = 3.6541528853610088
    tn = dn
    vn = 0.00492867323399
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256, dtype=np.float64)
    fi = np.zeros(256, dtype=np.float64)
    q = vn / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * m1))
    ki[1] = 0
    wi[0] = q / m1
    wi[255] = dn / m1
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * m1))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi


ZIG_KI, ZIG_WI, ZIG_FI = _ziggurat_tables()
ZIG_R = 3.6541528853610088
ZIG_INV_R = 1.0 / ZIG_R


@scalar
def mix64(z):
    """splitmix64 finaliser: a bijective avalanche of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@scalar
def stream_key(key, stream):
    """Per-stream key from a 64-bit key and a stream number (both uint64)."""
    return mix64(key ^ mix64(stream * GOLDEN + _STREAM_SALT))


@scalar
def hash64(skey, i):
    """The uint64 of counter ``i`` (uint64) in the stream with key ``skey``."""
    return mix64(skey + (i + _ONE) * GOLDEN)


@scalar
def unit53(h):
    """Uniform float64 in [0, 1) from the top 53 bits of a uint64."""
    return float(np.int64(h >> _S11)) * _TO_UNIT


@scalar
def normal_first_try(h, ki, wi):
    """``(x, accepted)``: the first try of :func:`normal_from_hash` on ``h``, without branches.

    When ``accepted`` (about 98.5 % of hashes) ``x`` is exactly what
    :func:`normal_from_hash` returns; otherwise that function must be called.
    A loop of this over a block of hashes vectorises (gathers from the tables).
    """
    idx = h & _MASK8
    r = h >> _S8
    rabs = (r >> _S1) & _MASK52
    x = float(np.int64(rabs)) * wi[idx] * (1.0 - 2.0 * float(np.int64(r & _S1)))
    return x, rabs < ki[idx]


@scalar
def normal_from_hash(h, ki, wi, fi):
    """Standard normal from a uint64 hash ``h`` (256-layer ziggurat).

    ``ki``, ``wi``, ``fi`` are :data:`ZIG_KI`, :data:`ZIG_WI`, :data:`ZIG_FI`.
    Rejections continue the splitmix64 sequence that starts at ``h``.
    """
    state = h
    r = h
    while True:
        idx = np.intp(r & _MASK8)
        r = r >> _S8
        sign = r & _S1
        rabs = (r >> _S1) & _MASK52
        # branch-free sign: a 50/50 branch here costs more than the rest
        x = float(np.int64(rabs)) * wi[idx] * (1.0 - 2.0 * float(np.int64(sign)))
        if rabs < ki[idx]:
            return x
        if idx == 0:
            while True:
                state = state + GOLDEN
                xx = -ZIG_INV_R * math.log1p(-unit53(mix64(state)))
                state = state + GOLDEN
                yy = -math.log1p(-unit53(mix64(state)))
                if yy + yy > xx * xx:
                    if sign == _S1:
                        return -(ZIG_R + xx)
                    return ZIG_R + xx
        state = state + GOLDEN
        u = unit53(mix64(state))
        if (fi[idx - 1] - fi[idx]) * u + fi[idx] < math.exp(-0.5 * x * x):
            return x
        state = state + GOLDEN
        r = mix64(state)
