"""Random transforms: draw parameters from ``rng``, apply a noisegen effect.

``out = t(y, sample_rate=16000, rng=...)``; ``t.last_params`` records what
was applied. Drawing and applying are also separate public steps:
``params = t.draw_params(y, sample_rate=16000, rng=...)`` (the one way
parameters are drawn: calls, compositions, the stream and the GPU path use
it) and ``t.apply_params(y, params, sample_rate=16000)`` (replay). Every
constructor takes its options as keywords, ``p`` last. ``t.to_dict()`` and
``Transform.from_dict`` / :func:`load_pipeline` round-trip through JSON.
"""

from .. import audio, effects, synth  # noqa: F401  (the packages used, before their modules: noisegen.synth)
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
