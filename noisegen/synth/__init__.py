"""Signal synthesis: white and coloured noise (:mod:`.noise`) and oscillators,
hum and speech-shaped noise (:mod:`.oscillators`); babble, which mixes talkers
with the effects' kernels, lives in :mod:`noisegen.effects.babble` and is named
here too (DESIGN lists it among the synthesised signals)."""

# The packages used first, then their modules (here and in the other packages' __init__): importing a
# module of a package not yet imported takes the module's import lock before the package's, and a thread
# importing the package at that moment (which imports the module) deadlocked with this one: _DeadlockError,
# or ImportError from a module left half run.
from .. import effects  # noqa: F401
from ..effects.babble import babble
from .noise import *  # noqa: F401,F403
from .noise import __all__ as _noise_all
from .oscillators import *  # noqa: F401,F403
from .oscillators import __all__ as _osc_all

__all__ = [*_noise_all, *_osc_all, "babble"]
