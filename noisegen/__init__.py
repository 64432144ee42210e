"""noisegen: fast, correct audio augmentation for speech models.

Numba kernels synthesise noise and signals, mix noise at a target SNR,
convolve room responses, filter, time-stretch, pitch-shift, change speed and
resample. Audio is a float array with time on the last axis; every random
function takes ``rng`` (``None``, an int or a ``numpy.random.Generator``) and
gives the same output for the same ``rng`` however the work is chunked.

``import noisegen`` compiles nothing and never touches a GPU driver: kernels
compile on first use and are cached on disk.
"""

from ._core import jit as _jit  # noqa: F401  (settles the Numba cache directory first)
from ._core.errors import BackendError, NoisegenError, NoisegenWarning, ParameterError
from ._core.units import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    power_to_db,
    samples_to_seconds,
    seconds_to_samples,
)
from .synth import *  # noqa: F401,F403
from .synth import __all__ as _synth_all
from .effects import *  # noqa: F401,F403
from .effects import __all__ as _effects_all
from .audio import *  # noqa: F401,F403
from .audio import __all__ as _audio_all
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all
from .data.stream import AugmentStream, Batch, Chunk

__version__ = "0.1.0"

__all__ = [
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
    *_synth_all,
    *_effects_all,
    *_audio_all,
    *_transforms_all,
    "AugmentStream",
    "Chunk",
    "Batch",
]
