"""Lhotse adapter (Lhotse is optional): see :mod:`noisegen.data.lhotse`.

``import noisegen`` never imports this module.
"""

from .data.lhotse import (  # noqa: F401
    augment_cuts,
    cut_key,
    perturb_speed,
    perturb_tempo,
    perturb_volume,
    resample,
    use_noisegen_transforms,
    NoisegenAugment,
    NoisegenSpeed,
    NoisegenTempo,
    NoisegenResample,
    NoisegenVolume,
)

__all__ = [
    "augment_cuts",
    "cut_key",
    "perturb_speed",
    "perturb_tempo",
    "perturb_volume",
    "resample",
    "use_noisegen_transforms",
    "NoisegenAugment",
    "NoisegenSpeed",
    "NoisegenTempo",
    "NoisegenResample",
    "NoisegenVolume",
]
