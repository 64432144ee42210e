"""CPU kernel of float samples to 16-bit PCM, rounded as libsndfile rounds them.

libsndfile (1.2) writes a float sample ``x`` (in ``[-1, 1]``) as 16-bit WAV
PCM through 32 bits: ``lrint(x * 2**31)``, clipped to the int32 range, then
shifted right by 16 (a floor). Done here in one pass (libsndfile's own pass
costs ~4 ns a sample), with the same result for every float32 and float64
sample, so the files :func:`noisegen.save` writes keep their bytes.
"""

from __future__ import annotations

from ..._core.jit import kernel


@kernel
def to_pcm16(x, out):
    """``out[i]`` = the 16-bit PCM sample of ``x[i]`` (1-D, same length; NaN gives -32768, as in libsndfile)."""
    for i in range(x.shape[0]):
        s = float(x[i]) * 2147483648.0
        if s >= 2147483647.0:  # clipped before rounding: no integer overflow
            v = 2147483647
        elif s > -2147483648.0:
            v = round(s)  # ties to even, as lrint
        else:
            v = -2147483648  # and NaN
        out[i] = v >> 16
