"""Hugging Face ``datasets`` adapter (``datasets`` is optional): see :mod:`noisegen.data.hf`.

``import noisegen`` never imports this module.
"""

from .data.hf import *  # noqa: F401,F403
from .data.hf import __all__  # noqa: F401
