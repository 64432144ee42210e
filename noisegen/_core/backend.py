"""Which compute backend runs a call: ``"auto"``, ``"cpu"`` or ``"cuda"``; CUDA arrays in and out.

``import noisegen`` never touches a GPU driver: :mod:`numba.cuda` is imported
only when CUDA is asked for, by ``backend="cuda"`` or by a CUDA array passed
with ``backend="auto"``.

- ``"auto"`` picks CUDA only for arrays already on a GPU: anything exposing
  ``__cuda_array_interface__`` (numba device arrays, CuPy arrays, PyTorch
  CUDA tensors) and the CUDA simulator's device arrays (which lack the
  interface, so they are recognised by type, without importing numba.cuda).
- ``"cuda"`` runs on the GPU whatever the input; a NumPy input is copied to
  the device and the result copied back.
- Asking for CUDA where it is missing (numba-cuda not installed, no driver, no
  GPU) raises :class:`~noisegen.BackendError` with :data:`CUDA_INSTALL_HINT`.
  ``NUMBA_ENABLE_CUDASIM=1`` makes numba-cuda's simulator the device (slow:
  every thread runs as Python; it is how the CUDA kernels are tested on
  machines without a GPU).

Arrays keep their kind: :func:`to_device` turns an input into a numba device
array (zero-copy for CUDA arrays) and :func:`from_device` turns a result back
into the kind of the input (NumPy -> NumPy, numba -> numba, CuPy -> CuPy,
torch -> torch on the same device).
"""

from __future__ import annotations

import functools

import numpy as np

from .validation import check_choice, has_cuda_interface
from .errors import BackendError
from .jit import simulator_enabled

BACKENDS = ("auto", "cpu", "cuda")
CUDA_INSTALL_HINT = "install the CUDA extra (pip install 'noisegen[cuda]') on a machine with an NVIDIA GPU"


def _is_simulator_array(x) -> bool:
    return type(x).__module__.startswith("numba.cuda.simulator") or type(x).__name__ == "FakeCUDAArray"


def is_cuda_array(x, name=None) -> bool:
    """True for numba device arrays (the simulator's too), CuPy arrays and PyTorch CUDA tensors
    (one that requires grad: a ParameterError naming ``name``, see :func:`has_cuda_interface`)."""
    if type(x) is np.ndarray:  # the common case, without the attribute and name lookups
        return False
    return has_cuda_interface(x, name) or _is_simulator_array(x)


def is_numba_device_array(x) -> bool:
    """True for a numba (or simulator) device array: it has ``copy_to_host``."""
    return is_cuda_array(x) and hasattr(x, "copy_to_host") and hasattr(x, "shape")


@functools.lru_cache(maxsize=1)
def _probe():
    """``(numba.cuda module or None, reason)``; imports numba.cuda and asks the driver, once."""
    try:
        from numba import cuda
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return None, f"numba-cuda could not be imported ({type(exc).__name__}: {exc})"
    try:
        available = bool(cuda.is_available())
    except Exception as exc:  # a driver error is "not available", not a crash
        return None, f"the CUDA driver failed ({type(exc).__name__}: {exc})"
    if not available:
        return None, "no CUDA driver or GPU was found"
    return cuda, ""


def cuda_available() -> bool:
    """Whether CUDA kernels can run here (a GPU, or the simulator). Imports numba.cuda."""
    return _probe()[0] is not None


def require_cuda():
    """Return the :mod:`numba.cuda` module, or raise :class:`BackendError` with the install hint."""
    cuda, reason = _probe()
    if cuda is None:
        raise BackendError(f"backend='cuda' was requested but CUDA is not available: {reason}; {CUDA_INSTALL_HINT}")
    return cuda


def resolve_backend(backend: str, *arrays, supports_cuda: bool = False, names=("y",)) -> str:
    """Return ``"cpu"`` or ``"cuda"`` for this call, or raise :class:`BackendError`.

    ``supports_cuda`` says whether the calling function has a CUDA kernel.
    A CUDA request for one that has none, or where CUDA is unavailable,
    raises :class:`BackendError`. ``names`` name ``arrays`` in errors (the first is ``y`` unless said).
    """
    check_choice(backend, "backend", BACKENDS)
    on_device = [is_cuda_array(a, names[i] if i < len(names) else None) for i, a in enumerate(arrays)]
    wants_cuda = backend == "cuda" or (backend == "auto" and any(on_device))
    if not wants_cuda:
        return "cpu"
    if not supports_cuda:
        if any(on_device):
            raise BackendError("this function runs on the CPU only: pass a NumPy array (copy the CUDA array to "
                               "the host first, e.g. .copy_to_host(), .get() or .cpu().numpy())")
        raise BackendError("backend='cuda' is not available for this function yet; use backend='cpu'")
    require_cuda()
    return "cuda"


def to_device(x):
    """A numba device array for ``x`` (host arrays are copied; CUDA arrays are viewed in place).

    Requires CUDA (see :func:`require_cuda`). Returns the array unchanged when
    it already is a numba device array.
    """
    cuda = require_cuda()
    if is_numba_device_array(x):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return cuda.as_cuda_array(x)

    return cuda.to_device(np.ascontiguousarray(x))


def from_device(d_out, like):
    """Turn the device array ``d_out`` into the kind of array ``like`` is.

    NumPy ``like`` gives a host copy; a numba device array gives ``d_out``
    itself; a CuPy array gives a zero-copy ``cupy.asarray``; a PyTorch tensor
    gives a zero-copy tensor on ``like``'s device. Any other CUDA array kind
    gets the numba device array.
    """
    if not is_cuda_array(like):
        return d_out.copy_to_host()
    if is_numba_device_array(like):
        return d_out
    module = type(like).__module__.split(".")[0]
    if module == "cupy":
        import cupy

        return cupy.asarray(d_out)
    if module == "torch":
        import torch

        return torch.as_tensor(d_out, device=like.device)
    return d_out


def array_dtype(x):
    """The NumPy dtype of a host or device array (torch tensors included)."""

    dtype = getattr(x, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype) and hasattr(x, "__cuda_array_interface__"):
        return np.dtype(x.__cuda_array_interface__["typestr"])
    return np.dtype(dtype)


__all__ = [
    "BACKENDS",
    "CUDA_INSTALL_HINT",
    "simulator_enabled",
    "is_cuda_array",
    "is_numba_device_array",
    "cuda_available",
    "require_cuda",
    "resolve_backend",
    "to_device",
    "from_device",
    "array_dtype",
]
