"""AddBackgroundNoise: mix a real noise recording at a random SNR."""

from __future__ import annotations

import os

import numpy as np

from .._validation import check_choice
from .._warn import about
from ..errors import ParameterError
from .base import Transform, draw_uniform, effect, index_param, int_param, real_param, uniform_range
from ._files import AudioBank

__all__ = ["AddBackgroundNoise"]


class AddBackgroundNoise(Transform):
    """Mix a random noise from a collection at an SNR drawn in ``[min_snr_db, max_snr_db]``.

    Wraps :func:`noisegen.mix_at_snr`. The noise and a crop of it are drawn
    with :meth:`noisegen.NoiseBank.draw` (the crop wraps around when the
    noise is shorter than the signal); the bank is built once per sample
    rate, before any worker forks when used through
    :class:`noisegen.AugmentStream`.

    Parameters
    ----------
    noise : str, list of str, list of arrays, or NoiseBank
        A folder (searched recursively), a list of paths, a list of mono
        float arrays (at the call's sample rate), or a
        :class:`noisegen.NoiseBank` (used at its own sample rate; build it
        with ``cache_path`` to share it memory-mapped between processes).
    min_snr_db, max_snr_db : float
    reference : {"rms", "active"}
        How the signal power is measured (see :func:`noisegen.mix_at_snr`).
    p : float

    ``last_params``: ``noise_index``, ``noise_offset`` (samples), ``snr_db``.

    A silent crop of the noise cannot set an SNR: the signal comes back
    unchanged with a NoisegenWarning that names the noise file and offset
    (and the input, under :class:`noisegen.AugmentStream` or ``noisegen
    augment``).

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import AddBackgroundNoise
    >>> noise = [np.random.default_rng(0).standard_normal(800).astype(np.float32)]
    >>> t = AddBackgroundNoise(noise, min_snr_db=10, max_snr_db=10, p=1.0)
    >>> y = np.sin(np.arange(1600) / 5.0).astype(np.float32)
    >>> out = t(y, sample_rate=16000, rng=0)
    >>> out.shape, t.last_params["snr_db"]
    ((1600,), 10.0)
    """

    def __init__(self, noise, min_snr_db: float = 3.0, max_snr_db: float = 30.0, reference: str = "rms",
                 p: float = 0.5):
        super().__init__(p=p)
        self.min_snr_db, self.max_snr_db = uniform_range(min_snr_db, max_snr_db, "min_snr_db", "max_snr_db")
        self.reference = check_choice(reference, "reference", ("rms", "active"))
        self._banks: dict = {}
        self._fixed = None  # a NoiseBank given by the caller
        self._source = None  # folder or paths
        self._arrays = None
        if type(noise).__name__ == "NoiseBank":
            self._fixed = noise
        elif isinstance(noise, np.ndarray) or (
            isinstance(noise, (list, tuple)) and noise and all(isinstance(a, np.ndarray) for a in noise)
        ):
            self._arrays = AudioBank(noise, "noise")
        elif isinstance(noise, (str, os.PathLike)) or (
            isinstance(noise, (list, tuple)) and noise and all(isinstance(a, (str, os.PathLike)) for a in noise)
        ):
            self._source = AudioBank(noise, "noise")  # validates the paths; loading is left to NoiseBank
        else:
            raise ParameterError(
                f"noise must be a folder, a list of paths, a list of float arrays or a NoiseBank, "
                f"got {type(noise).__name__}"
            )

    def _bank(self, sample_rate):
        if self._fixed is not None:
            if self._fixed.sample_rate != sample_rate:
                raise ParameterError(
                    f"sample_rate {sample_rate} does not match the NoiseBank's sample_rate {self._fixed.sample_rate}"
                )
            return self._fixed
        bank = self._banks.get(sample_rate)
        if bank is None:
            if self._arrays is not None:
                bank = _ArrayBank(self._arrays.at(sample_rate))
            else:
                from ..sources import NoiseBank

                source = self._source.folder if self._source.folder is not None else self._source.paths
                bank = NoiseBank(source, sample_rate=sample_rate)
            self._banks[sample_rate] = bank
        return bank

    def prepare(self, sample_rate):
        self._bank(sample_rate)

    def randomize(self, samples, sample_rate, gen):
        index, offset = self._bank(sample_rate).draw(samples.shape[-1], rng=gen)
        return {"noise_index": int(index), "noise_offset": int(offset),
                "snr_db": draw_uniform(gen, self.min_snr_db, self.max_snr_db)}

    def _param_checks(self, sample_rate):
        return {"noise_index": index_param(len(self._bank(sample_rate))), "noise_offset": int_param(0),
                "snr_db": real_param()}

    def _apply(self, samples, sample_rate, params):
        bank = self._bank(sample_rate)
        index, offset = params["noise_index"], params["noise_offset"]
        name = repr(bank.paths[index]) if hasattr(bank, "paths") else f"noise[{index}]"
        with about(f"noise {name} from sample {offset}"):  # named in a silent-noise warning
            return effect("mix_at_snr")(
                samples, bank[index], snr_db=params["snr_db"], noise_offset=offset, reference=self.reference,
                sample_rate=sample_rate,
            )

    def _config(self):
        if self._fixed is not None:
            noise = list(self._fixed.paths)
        elif self._source is not None:
            noise = self._source.config()
        else:
            noise = self._arrays.config()  # raises: arrays cannot be written
        return {"noise": noise, "min_snr_db": self.min_snr_db, "max_snr_db": self.max_snr_db,
                "reference": self.reference, "p": self.p}


class _ArrayBank:
    """NoiseBank's ``draw`` / indexing over a list of in-memory noises."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        return self.arrays[i]

    def draw(self, n_samples, *, rng):
        index = int(rng.integers(len(self.arrays)))
        length = self.arrays[index].shape[-1]
        high = length - n_samples + 1 if length >= n_samples else length
        return index, int(rng.integers(high))
