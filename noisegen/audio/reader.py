"""Audio files for transforms and streams: listing folders, reading, banks.

Internal helpers; they read with soundfile and resample with
:func:`noisegen.resample`.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .._core.errors import NoisegenWarning, ParameterError
from .files import AUDIO_EXTENSIONS, audio_files
from .io import check_regular, load, resample_to


def unusable(y: np.ndarray) -> str | None:
    """Why a loaded sound cannot be used (None when it can): empty, non-finite or silent."""
    if y.shape[-1] == 0:
        return "holds no samples"
    if not np.isfinite(y).all():
        return "holds NaN/inf samples"
    if not np.any(y):
        return "silent"
    return None


def read_audio(path, *, sample_rate: int, mono: bool = True) -> np.ndarray:
    """``path`` as float32 at ``sample_rate``: ``(n,)`` (mono) or ``(channels, n)``.

    The one resample-on-load reader of banks and streams. A file already at
    ``sample_rate`` (and mono, or ``mono=False``) is read straight to float32
    (the common case for a prepared corpus); anything else goes through
    :func:`noisegen.load` (float64 read, mixdown, :func:`noisegen.resample`).
    Raises whatever :func:`noisegen.load` raises on an unreadable file.
    """
    import soundfile as sf

    check_regular(path)
    with sf.SoundFile(path) as f:
        if f.samplerate == sample_rate and (f.channels == 1 or not mono):
            data = f.read(dtype="float32", always_2d=True)
            return np.ascontiguousarray(data[:, 0] if f.channels == 1 else data.T)
    return load(path, sample_rate=sample_rate, mono=mono, dtype=np.float32)[0]


class AudioBank:
    """A few short sounds (noises, impulse responses) loaded once per sample rate.

    ``sources`` is a folder, a path, a list of paths, or arrays (a 1-D array
    or a list of them) at ``arrays_sample_rate`` (None: the rate of the call).
    Files are read lazily, on the first :meth:`at` for a sample rate; call it
    before forking workers so they share the arrays. A file that is
    unreadable, empty, non-finite or silent is skipped and reported once
    (NoisegenWarning); none usable is a ParameterError.
    """

    def __init__(self, sources, name: str, *, arrays_sample_rate=None):
        self.name = name
        self.paths: list[str] | None = None
        self.folder: str | None = None
        self.arrays: list[np.ndarray] | None = None
        self.arrays_sample_rate = arrays_sample_rate
        if isinstance(sources, (str, os.PathLike)):
            if os.path.isdir(sources):
                self.folder = os.fspath(sources)
                self.paths = audio_files(sources)
            elif os.path.isfile(sources):
                self.paths = [os.fspath(sources)]
            else:
                raise ParameterError(f"{name} must be an existing folder or file, got {os.fspath(sources)!r}")
        elif isinstance(sources, np.ndarray):
            self.arrays = [self._check_array(sources, f"{name}")]
        elif isinstance(sources, (list, tuple)) and sources and all(isinstance(s, np.ndarray) for s in sources):
            self.arrays = [self._check_array(a, f"{name}[{i}]") for i, a in enumerate(sources)]
        elif isinstance(sources, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in sources):
            self.paths = [os.fspath(s) for s in sources]
            missing = [p for p in self.paths if not os.path.isfile(p)]
            if missing:
                raise ParameterError(f"{name}: file(s) not found: {missing[:3]!r}")
        else:
            raise ParameterError(
                f"{name} must be a folder, a list of audio paths or a list of float arrays, got {type(sources).__name__}"
            )
        if not (self.paths or self.arrays):
            raise ParameterError(f"{name} holds no audio (no {'/'.join(AUDIO_EXTENSIONS)} file found in {sources!r})")
        self._cache: dict[int, list[np.ndarray]] = {}
        self._skipped: dict[str, str] = {}  # path -> why, each reported once

    @staticmethod
    def _check_array(a, name):
        from .._core.validation import check_audio

        a = check_audio(a, name, allow_empty=False, max_ndim=1)
        return np.array(a, dtype=np.float32, copy=True)

    def __len__(self):
        return len(self.paths) if self.paths is not None else len(self.arrays)

    def at(self, sample_rate: int) -> list[np.ndarray]:
        """The sounds as mono float32 arrays at ``sample_rate`` (cached)."""
        cached = self._cache.get(sample_rate)
        if cached is None:
            if self.arrays is not None:
                src = self.arrays_sample_rate or sample_rate
                cached = [resample_to(a, src, sample_rate) for a in self.arrays]
            else:
                cached = [y for y in (self._read(p, sample_rate) for p in self.paths) if y is not None]
                if not cached:
                    raise ParameterError(f"{self.name} holds no usable audio file: all {len(self.paths)} were "
                                         f"skipped ({self._skipped[self.paths[0]]}, ...)")
            for a in cached:
                a.flags.writeable = False
            self._cache[sample_rate] = cached
        return cached

    def _read(self, path, sample_rate):
        """One file as mono float32, or None (reported once) when it is unusable."""
        try:
            y = read_audio(path, sample_rate=sample_rate)
        except Exception as exc:  # noqa: BLE001 - soundfile raises several kinds
            why = f"unreadable ({type(exc).__name__}: {exc})"
        else:
            why = unusable(y)
            if why is None:
                return y
        if path not in self._skipped:
            self._skipped[path] = why
            warnings.warn(f"skipping {self.name} file {path}: {why}", NoisegenWarning, stacklevel=2)
        return None

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Files skipped so far, with the reason (as :attr:`noisegen.NoiseBank.skipped`)."""
        return list(self._skipped.items())

    def config(self):
        """The JSON-able form (a folder or paths); arrays cannot be written."""
        if self.folder is not None:
            return self.folder
        if self.paths is not None:
            return list(self.paths)
        raise ParameterError(f"{self.name} given as arrays cannot be written to a dict; pass file paths instead")
