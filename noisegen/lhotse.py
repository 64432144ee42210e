"""Lhotse adapter (Lhotse is optional): see :mod:`noisegen.data.lhotse`.

``import noisegen`` never imports this module.
"""

from .data.lhotse import *  # noqa: F401,F403
from .data.lhotse import __all__  # noqa: F401
