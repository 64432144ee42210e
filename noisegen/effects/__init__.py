"""The functional API: every deterministic (or ``rng``-seeded) operation on
audio arrays. Each function validates its input once, then runs the CPU
kernel or, with ``backend="cuda"``, the GPU target in :mod:`noisegen._gpu.ops`.

========================  ===================================================
:mod:`.mix`               mixing at an SNR, RMS/peak normalisation
:mod:`.babble`            babble from a bank of talkers
:mod:`.level`             gain, clipping, bit crushing, time masking
:mod:`.filters`           Butterworth and cookbook biquad filters
:mod:`.reverb`            convolution with room impulse responses
:mod:`.rooms`             image-source room impulse responses
:mod:`.resample`          band-limited resampling (one-shot and streaming)
:mod:`.timescale`         speed change, time stretch, pitch shift
:mod:`.codec`             lossy codec round trips
:mod:`.packet_loss`       packet-loss concealment simulation
========================  ===================================================
"""

from .mix import *  # noqa: F401,F403
from .mix import __all__ as _mix_all
from .babble import *  # noqa: F401,F403
from .babble import __all__ as _babble_all
from .level import *  # noqa: F401,F403
from .level import __all__ as _level_all
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

__all__ = [
    *_mix_all,
    *_babble_all,
    *_level_all,
    *_filters_all,
    *_reverb_all,
    *_rooms_all,
    *_resample_all,
    *_codec_all,
    *_packet_loss_all,
    *_timescale_all,
]
