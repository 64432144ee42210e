"""Audio files: load/save (:mod:`.io`) and info (:mod:`.info`), the one extension list and
folder scanner (:mod:`.files`), the one resample-on-load reader
(:mod:`.reader`) and the noise bank (:mod:`.bank`). Plain WAV files are read
with NumPy (:mod:`.wav`) and FLAC files by noisegen's decoder (:mod:`.flac`),
both to libsndfile's samples; every header's length is checked against the
file's size before a read allocates for it (:mod:`.claims`)."""

from .. import effects  # noqa: F401  (the packages used, before their modules: noisegen.synth)
from .io import *  # noqa: F401,F403
from .io import __all__ as _io_all
from .info import *  # noqa: F401,F403
from .info import __all__ as _info_all
from .bank import *  # noqa: F401,F403
from .bank import __all__ as _bank_all

__all__ = list(dict.fromkeys([*_io_all, *_info_all, *_bank_all]))  # AUDIO_EXTENSIONS is in both: once here
