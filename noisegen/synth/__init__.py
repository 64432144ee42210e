"""Signal synthesis: white and coloured noise (:mod:`.noise`) and oscillators,
hum and speech-shaped noise (:mod:`.oscillators`)."""

from .noise import *  # noqa: F401,F403
from .noise import __all__ as _noise_all
from .oscillators import *  # noqa: F401,F403
from .oscillators import __all__ as _osc_all

__all__ = [*_noise_all, *_osc_all]
