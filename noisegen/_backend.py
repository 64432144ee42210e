"""Which compute backend runs a call: ``"auto"``, ``"cpu"`` or ``"cuda"``.

``import noisegen`` never touches a GPU driver. ``"auto"`` picks CUDA only for
arrays that expose ``__cuda_array_interface__``; ``"cuda"`` must be asked for
explicitly otherwise (that is also how the CUDA simulator is reached, since its
arrays lack the interface).
"""

from __future__ import annotations

from .errors import BackendError
from ._validation import check_choice

BACKENDS = ("auto", "cpu", "cuda")
CUDA_INSTALL_HINT = "install the CUDA extra (pip install 'noisegen[cuda]') on a machine with an NVIDIA GPU"


def is_cuda_array(x) -> bool:
    """True for numba device arrays, CuPy arrays and PyTorch CUDA tensors."""
    return hasattr(x, "__cuda_array_interface__")


def resolve_backend(backend: str, *arrays, supports_cuda: bool = False) -> str:
    """Return ``"cpu"`` or ``"cuda"`` for this call, or raise :class:`BackendError`."""
    check_choice(backend, "backend", BACKENDS)
    wants_cuda = backend == "cuda" or (backend == "auto" and any(is_cuda_array(a) for a in arrays))
    if not wants_cuda:
        return "cpu"
    if not supports_cuda:
        raise BackendError(f"backend='cuda' is not available for this function yet; use backend='cpu'")
    return "cuda"
