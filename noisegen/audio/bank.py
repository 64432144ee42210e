"""Audio sources: noise banks.

A :class:`NoiseBank` loads a folder (or list) of noise recordings once,
converts them to float32 mono at one sample rate and keeps them end to end in
one contiguous array. Crops are handed out as ``(index, offset)`` pairs drawn
from an ``rng``; :func:`noisegen.mix_at_snr` reads the noise in place from
that offset (with wrap-around), so mixing from a bank copies nothing.

With ``cache_path`` the array is written once to a ``.npy`` file and opened
memory-mapped: forked DataLoader workers then share the same pages instead of
each holding a copy.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from .._core.validation import check_int, check_real, check_sample_rate
from .._core.errors import NoisegenWarning, ParameterError
from .files import AUDIO_EXTENSIONS, audio_files
from .reader import read_audio
from .._core.rng import as_generator

__all__ = ["NoiseBank", "AUDIO_EXTENSIONS"]

_CACHE_VERSION = 1


def _list_paths(source):
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_dir():
            return audio_files(root)
        if root.is_file():
            return [str(root)]
        raise ParameterError(f"source must be a folder, a file or a list of files, got missing path {str(source)!r}")
    try:
        paths = [str(Path(p)) for p in source]
    except TypeError:
        raise ParameterError(
            f"source must be a folder, a file or a list of files, got {type(source).__name__}"
        ) from None
    return paths


class NoiseBank:
    """Noise recordings loaded once, held in one contiguous float32 array.

    Parameters
    ----------
    source : str, path or sequence of paths
        A folder (searched recursively for :data:`AUDIO_EXTENSIONS`, in
        sorted order), one file, or a list of files.
    sample_rate : int
        Every file is mixed down to mono and resampled to this rate.
    cache_path : str or path, optional
        A ``.npy`` file holding the bank's samples (with a ``.json`` file
        beside it describing the files). It is built on first use and
        memory-mapped read-only afterwards; it is rebuilt when the list of
        files, their sizes or modification times, or the sample rate change.
    min_duration_s : float
        Files shorter than this (after resampling) are skipped (default: any
        non-empty file is kept).

    Attributes
    ----------
    audio : np.ndarray [shape=(total_samples,)], float32
        All files end to end (memory-mapped with ``cache_path``).
    paths : list of str
        The files kept, in bank order.
    starts, lengths : np.ndarray of int64
        Where each file lies in :attr:`audio`.
    skipped : list of (str, str)
        Files that were unreadable, silent or too short, with the reason.
        Each is reported once with a :class:`NoisegenWarning` while loading.

    Examples
    --------
    >>> bank = NoiseBank("data/noise", sample_rate=16000)  # doctest: +SKIP
    >>> index, offset = bank.draw(64000, rng=0)  # doctest: +SKIP
    >>> noisy = noisegen.mix_at_snr(speech, bank[index], snr_db=10.0, noise_offset=offset)  # doctest: +SKIP
    """

    def __init__(self, source, *, sample_rate, cache_path=None, min_duration_s=0.0):
        self.sample_rate = check_sample_rate(sample_rate)
        min_len = max(1, int(round(check_real(min_duration_s, "min_duration_s", low=0.0) * self.sample_rate)))
        candidates = _list_paths(source)
        if not candidates:
            raise ParameterError(f"source holds no audio files ({', '.join(AUDIO_EXTENSIONS)}): {source!r}")
        self.skipped = []
        meta = None
        if cache_path is not None:
            cache_path = Path(cache_path)
            meta = self._signature(candidates, min_len)
            if self._load_cache(cache_path, meta):
                return
        arrays, paths = [], []
        for path in candidates:
            reason = None
            try:
                y = read_audio(path, sample_rate=self.sample_rate)
            except Exception as exc:  # noqa: BLE001  (any decoder failure means "unreadable")
                reason = f"unreadable ({type(exc).__name__}: {exc})"
            else:
                if y.shape[0] < min_len:
                    reason = f"too short ({y.shape[0]} samples)"
                elif not np.isfinite(y).all():
                    reason = "holds NaN/inf samples"
                elif not np.any(y):
                    reason = "silent"
            if reason is not None:
                self.skipped.append((path, reason))
                warnings.warn(f"NoiseBank: skipping {path}: {reason}", NoisegenWarning, stacklevel=2)
                continue
            arrays.append(y)
            paths.append(path)
        if not arrays:
            raise ParameterError(f"source holds no usable noise file (all {len(candidates)} were skipped)")
        self._set(np.concatenate(arrays), paths, np.array([a.shape[0] for a in arrays], dtype=np.int64))
        if cache_path is not None:
            self._write_cache(cache_path, meta)

    @classmethod
    def from_arrays(cls, arrays, *, sample_rate) -> "NoiseBank":
        """A bank of in-memory mono noises already at ``sample_rate`` (``paths`` is None).

        Examples
        --------
        >>> import numpy as np
        >>> bank = NoiseBank.from_arrays([np.ones(4), np.zeros(2) + 0.5], sample_rate=8000)
        >>> len(bank), bank[1].tolist()
        (2, [0.5, 0.5])
        """
        bank = cls.__new__(cls)
        bank.sample_rate = check_sample_rate(sample_rate)
        bank.skipped = []
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        if not arrays:
            raise ParameterError("arrays must hold at least one noise")
        bank._set(np.concatenate(arrays), None, np.array([a.shape[-1] for a in arrays], dtype=np.int64))
        return bank

    # ------------------------------------------------------------------ storage

    def _set(self, audio, paths, lengths):
        self.audio = audio
        self.paths = None if paths is None else list(paths)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def _signature(self, candidates, min_len):
        files = []
        for p in candidates:
            try:
                st = os.stat(p)
                files.append([p, st.st_size, st.st_mtime_ns])
            except OSError:
                files.append([p, -1, -1])
        return {"version": _CACHE_VERSION, "sample_rate": self.sample_rate, "min_len": min_len, "files": files}

    def _load_cache(self, cache_path, meta):
        meta_path = Path(str(cache_path) + ".json")
        try:
            with open(meta_path) as f:
                stored = json.load(f)
        except (OSError, ValueError):
            return False
        if stored.get("signature") != meta or not cache_path.is_file():
            return False
        try:
            audio = np.load(cache_path, mmap_mode="r")
        except (OSError, ValueError):
            return False
        self._set(audio, stored["paths"], stored["lengths"])
        self.skipped = [tuple(s) for s in stored["skipped"]]
        for path, reason in self.skipped:
            warnings.warn(f"NoiseBank: skipping {path}: {reason}", NoisegenWarning, stacklevel=3)
        return audio.shape[0] == int(self.lengths.sum())

    def _write_cache(self, cache_path, meta):
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_name(cache_path.name + f".tmp{os.getpid()}.npy")
        np.save(tmp, self.audio)
        os.replace(tmp, cache_path)
        stored = {"signature": meta, "paths": self.paths, "lengths": self.lengths.tolist(), "skipped": self.skipped}
        tmp_meta = Path(str(cache_path) + f".tmp{os.getpid()}")
        with open(tmp_meta, "w") as f:
            json.dump(stored, f)
        os.replace(tmp_meta, str(cache_path) + ".json")
        self.audio = np.load(cache_path, mmap_mode="r")

    # ------------------------------------------------------------------ access

    def __len__(self):
        return len(self.lengths)

    def config(self) -> list[str]:
        """The files, for a transform's ``to_dict``; a bank of arrays cannot be written."""
        if self.paths is None:
            raise ParameterError("a NoiseBank of arrays cannot be written to a dict; pass file paths instead")
        return list(self.paths)

    def __getitem__(self, index):
        """File ``index`` as a read-only float32 view into :attr:`audio` (no copy)."""
        index = check_int(index, "index", low=-len(self), high=len(self) - 1) % len(self)
        start = int(self.starts[index])
        view = self.audio[start:start + int(self.lengths[index])]
        if isinstance(view, np.ndarray) and view.flags.writeable:
            view = view.view()
            view.flags.writeable = False
        return view

    @property
    def duration_s(self):
        """Total duration of the bank in seconds."""
        return float(self.lengths.sum()) / self.sample_rate

    def draw(self, n_samples, *, rng=None):
        """Draw a crop ``(index, offset)`` of ``n_samples`` samples.

        The file is uniform over the bank. When the file holds at least
        ``n_samples`` samples the offset is uniform over the positions where
        the crop fits without wrapping; otherwise it is uniform over the file
        (the crop then wraps around, as :func:`noisegen.mix_at_snr` does).
        The same ``rng`` gives the same crops for the same bank.
        """
        n_samples = check_int(n_samples, "n_samples", low=0)
        g = as_generator(rng)
        index = int(g.integers(len(self)))
        length = int(self.lengths[index])
        high = length - n_samples + 1 if length >= n_samples else length
        return index, int(g.integers(high))

    def crop(self, n_samples, *, rng=None, index=None, offset=None):
        """A float32 copy of ``n_samples`` samples of one file (wrap-around).

        Without ``index``/``offset`` they are drawn with :meth:`draw`.
        """
        n_samples = check_int(n_samples, "n_samples", low=0)
        if index is None or offset is None:
            index, offset = self.draw(n_samples, rng=rng)
        y = self[index]
        offset = check_int(offset, "offset", low=0) % y.shape[0]
        positions = (offset + np.arange(n_samples)) % y.shape[0]
        return np.asarray(y[positions], dtype=np.float32)

    def __repr__(self):
        return (
            f"NoiseBank({len(self)} files, {self.duration_s:.1f} s at {self.sample_rate} Hz, "
            f"{len(self.skipped)} skipped)"
        )
