"""noisegen: fast, correct audio augmentation for speech models.

Numba kernels synthesise noise and signals, mix noise at a target SNR,
convolve room responses, filter, time-stretch, pitch-shift, change speed and
resample. Audio is a float array with time on the last axis; every random
function takes ``rng`` (``None``, an int or a ``numpy.random.Generator``) and
gives the same output for the same ``rng`` however the work is chunked.

``import noisegen`` compiles nothing and never touches a GPU driver: kernels
compile on first use and are cached on disk.
"""

from . import _jit  # noqa: F401  (settles the Numba cache directory first)
from .errors import BackendError, NoisegenError, NoisegenWarning, ParameterError
from .units import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    power_to_db,
    samples_to_seconds,
    seconds_to_samples,
)
from .synth import *  # noqa: F401,F403
from .synth import __all__ as _synth_all
from .mix import *  # noqa: F401,F403
from .mix import __all__ as _mix_all
from .effects import *  # noqa: F401,F403
from .effects import __all__ as _effects_all
from .filters import *  # noqa: F401,F403
from .filters import __all__ as _filters_all
from .reverb import *  # noqa: F401,F403
from .reverb import __all__ as _reverb_all
from .rooms import *  # noqa: F401,F403
from .rooms import __all__ as _rooms_all
from .resample import *  # noqa: F401,F403
from .resample import __all__ as _resample_all
from .codec import *  # noqa: F401,F403
from .codec import __all__ as _codec_all
from .packet_loss import *  # noqa: F401,F403
from .packet_loss import __all__ as _packet_loss_all
from .timescale import *  # noqa: F401,F403
from .timescale import __all__ as _timescale_all
from .io import *  # noqa: F401,F403
from .io import __all__ as _io_all
from .sources import *  # noqa: F401,F403
from .sources import __all__ as _sources_all
from .transforms import *  # noqa
from .transforms import __all__ as _transforms_all
from .stream import AugmentStream, Chunk, Batch

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
    *_mix_all,
    *_effects_all,
    *_filters_all,
    *_reverb_all,
    *_rooms_all,
    *_resample_all,
    *_codec_all,
    *_packet_loss_all,
    *_timescale_all,
    *_io_all,
    *_sources_all,
    *_transforms_all,
    "AugmentStream",
    "Chunk",
    "Batch",
]
