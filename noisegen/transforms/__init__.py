"""Random transforms: draw parameters from ``rng``, apply a noisegen effect.

``y = t(samples, sample_rate=16000, rng=...)``; ``t.last_params`` records what
was applied (replay it with ``t.apply_params``); ``t.to_dict()`` and
``Transform.from_dict`` / :func:`load_pipeline` round-trip through JSON.
"""

from .base import Transform, load_pipeline
from .compose import Compose, OneOf, SomeOf
from .add_background_noise import AddBackgroundNoise
from .add_colored_noise import AddColoredNoise
from .add_short_noises import AddShortNoises
from .apply_impulse_response import ApplyImpulseResponse
from .room_simulator import RoomSimulator
from .time_stretch import TimeStretch
from .pitch_shift import PitchShift
from .speed_perturb import SpeedPerturb
from .gain import Gain
from .filters import BandPassFilter, BandStopFilter, HighPassFilter, HighShelf, LowPassFilter, LowShelf, PeakingEQ
from .clip import Clip
from .time_mask import TimeMask
from .codec import Codec
from .packet_loss import PacketLoss
from .shift import Shift
from .polarity_inversion import PolarityInversion
from .normalize import Normalize
from .resample import Resample
from .bit_crush import BitCrush

__all__ = [
    "Transform",
    "load_pipeline",
    "Compose",
    "OneOf",
    "SomeOf",
    "AddBackgroundNoise",
    "AddColoredNoise",
    "AddShortNoises",
    "ApplyImpulseResponse",
    "RoomSimulator",
    "TimeStretch",
    "PitchShift",
    "SpeedPerturb",
    "Gain",
    "LowPassFilter",
    "HighPassFilter",
    "BandPassFilter",
    "BandStopFilter",
    "PeakingEQ",
    "Clip",
    "TimeMask",
    "Codec",
    "PacketLoss",
    "Shift",
    "PolarityInversion",
    "Normalize",
    "Resample",
    "BitCrush",
    "LowShelf",
    "HighShelf",
]
