"""Ray adapter (Ray is optional): see :mod:`noisegen.data.ray`.

``import noisegen`` never imports this module or Ray.
"""

from .data.ray import *  # noqa: F401,F403
from .data.ray import __all__  # noqa: F401
