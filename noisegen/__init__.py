"""noisegen: fast, correct audio augmentation for speech models.

Numba kernels synthesise noise and signals, mix noise at a target SNR,
convolve room responses, filter, time-stretch, pitch-shift, change speed and
resample. Audio is a float array with time on the last axis; every random
function takes ``rng`` (``None``, an int or a ``numpy.random.Generator``) and
gives the same output for the same ``rng`` however the work is chunked.

``import noisegen`` compiles nothing, never touches a GPU driver and imports
neither Numba nor SciPy: it binds the errors and unit helpers, and the first
use of any other public name imports the rest of the namespace (:data:`_LAZY`,
PEP 562), exactly as an eager import would. Kernels compile on first call and
are cached on disk; ``noisegen warmup`` compiles them all ahead of time.
"""

import importlib as _importlib  # (private: dir(noisegen) lists the public names, not a module it uses)

from ._core.errors import BackendError, NoisegenError, NoisegenWarning, ParameterError
from ._core.units import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    power_to_db,
    samples_to_seconds,
    seconds_to_samples,
)

__version__ = "0.1.0"

_EAGER = [
    "BackendError",
    "NoisegenError",
    "NoisegenWarning",
    "ParameterError",
    "amplitude_to_db",
    "db_to_amplitude",
    "db_to_power",
    "power_to_db",
    "samples_to_seconds",
    "seconds_to_samples",
]

#: The rest of the public namespace, imported together on first use of any of
#: it, in this order: ``module -> names`` (``"*"``: the module's ``__all__``).
#: A literal, so ``tools/import_graph.py`` counts each entry as an import of
#: this module and the layer rules apply to it.
_LAZY = {
    ".synth": "*",
    ".effects": "*",
    ".audio": "*",
    ".transforms": "*",
    ".data.stream": ("AugmentStream", "Chunk", "Batch"),
}

#: Public subpackages, each imported on its own when first named as an
#: attribute (``from .. import effects`` inside the package lands here too, so
#: importing one subpackage never loads the whole namespace). Also edges for
#: ``tools/import_graph.py``.
_SUBPACKAGES = ("synth", "effects", "audio", "transforms", "data", "cuda")


def _load() -> list:
    """Import every module of :data:`_LAZY`, bind its names here and return ``__all__``."""
    names = list(_EAGER)
    for module, wanted in _LAZY.items():
        mod = _importlib.import_module(module, __name__)
        wanted = list(mod.__all__ if wanted == "*" else wanted)
        globals().update({name: getattr(mod, name) for name in wanted})
        names += [name for name in wanted if name not in names]  # (babble is named by synth and effects)
    globals()["__all__"] = names
    return names


def __getattr__(name: str):
    # Dunder probes (``__wrapped__``, ``__test__``...) must not import the library.
    if name.startswith("__") and name != "__all__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _SUBPACKAGES:
        return _importlib.import_module(f".{name}", __name__)
    if "__all__" not in globals():
        _load()
    try:
        return globals()[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list:
    return sorted(set(globals()) | set(__getattr__("__all__")))
