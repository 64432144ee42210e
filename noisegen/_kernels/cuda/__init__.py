"""CUDA kernels (numba-cuda). Imported only when CUDA is asked for; never by ``import noisegen``.

The per-sample math is shared with the CPU kernels: the ``@scalar`` helpers
of :mod:`noisegen._kernels.rng`, :mod:`noisegen._kernels.biquad` and
:mod:`noisegen._kernels.osc` are one Python source for both targets.

``@scalar`` (:func:`noisegen._core.jit.scalar`) registers a helper with Numba's
CPU typing registry only; numba-cuda keeps its own registry, and a CUDA
kernel calling a CPU-only registration fails to type (found by compiling the
kernels to PTX without a GPU; the simulator cannot see it, since it runs
the helpers as plain Python). Importing this package therefore registers
every shared helper with numba-cuda as well (:func:`register_scalars`).
"""

from __future__ import annotations

from ..._core.jit import simulator_enabled

_registered: set = set()


def _shared_scalars():
    # import every module that declares @scalar helpers, then take the registry
    from ..._core.jit import SCALARS
    from .. import biquad, osc, rng, snr  # noqa: F401

    return list(SCALARS)


def register_scalars(fns=None) -> None:
    """Register scalar helpers (default: every shared one) as CUDA device functions, once each."""
    if simulator_enabled():  # the simulator calls them as plain Python
        return
    try:
        from numba.cuda.extending import register_jitable
    except ImportError:  # numba's built-in CUDA target: the generic registration already covers it
        return

    for fn in _shared_scalars() if fns is None else fns:
        if fn not in _registered:
            register_jitable(inline="always")(fn)
            _registered.add(fn)


register_scalars()
