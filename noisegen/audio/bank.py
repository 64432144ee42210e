"""Audio sources: one bank type for noises, impulse responses and short sounds.

A :class:`NoiseBank` loads a folder (or list) of recordings once, converts
them to float32 mono at one sample rate and keeps them end to end in one
contiguous array. Crops are handed out as ``(index, offset)`` pairs drawn
from an ``rng``; :func:`noisegen.mix_at_snr` reads the noise in place from
that offset (with wrap-around), so mixing from a bank copies nothing.

A bank built without ``sample_rate`` reads nothing yet: :meth:`NoiseBank.at`
loads it at each rate asked (once per rate), which is how the transforms
hold their noises, impulse responses and short sounds.  Call it before
forking workers so they share the arrays.

With ``cache_path`` the array is written once to a ``.npy`` file and opened
memory-mapped: DataLoader workers then share the same pages instead of
each holding a copy (forked ones inherit the map; a bank pickled to a spawned
or forkserver worker travels as the file: :mod:`noisegen.audio.bank_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from .._core.validation import (MAX_SAMPLES, check_bool, check_index, check_int, check_real,
                                check_n_samples, check_reach, check_recordings, check_sample_rate, show_value)
from .._core.errors import NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from .._core.lru import after_fork
from . import reader
from .bank_sources import joined, sources
from .bank_cache import checked_cache_path, mapped, pickled, stamps, unpickled, write_cache
from .files import AUDIO_EXTENSIONS
from .io import resample_to
from .._core.rng import as_generator

__all__ = ["NoiseBank", "AUDIO_EXTENSIONS", "BANK_RULES"]

#: The rules by which a bank reads and keeps its files, numbered: a change gives other samples or
#: indices from the same files, so bank caches and ``noisegen augment``'s job keys record it
#: (2: files of one value throughout skipped, ApplyImpulseResponse's first channel; 3: one-sample noise
#: files skipped, a noise folder of only digital silence a silent noise; 4: noise files resampled down to
#: one sample skipped, a silent folder's noise one second long).
BANK_RULES = 4

_LOADING = threading.Lock()  # a per-rate bank's loads (NoiseBank.at), one at a time


def _new_lock():
    global _LOADING
    _LOADING = threading.Lock()


after_fork(_new_lock)  # (a thread of the parent may have held it as another forked)


class NoiseBank:
    """Recordings (noises, impulse responses, short sounds) held in one contiguous float32 array.

    Parameters
    ----------
    source : str, path, sequence of paths, or float array(s)
        A folder (searched recursively for :data:`AUDIO_EXTENSIONS`, in sorted order), one file, a list
        (or an array) of folders and files (each folder contributes its files in sorted order; one with
        none is refused, as a folder alone is), or a 1-D float array or a list of them (at ``source_sample_rate``).
    sample_rate : int or None
        Every file is mixed down to mono and resampled to this rate.  None: nothing is read yet;
        :meth:`at` loads the bank at each rate asked, and keeps each: memory holds the bank once per
        rate asked, in proportion to the rate (a bank of 10 minutes takes 38 MB at 16 kHz, 460 MB at 192 kHz).
    cache_path : str or path, optional
        A ``.npy`` file holding the bank's samples (with a ``.json`` file
        beside it describing the files). It is built on first use and
        memory-mapped read-only afterwards; it is rebuilt when the list of
        files, their sizes or modification times, the sample rate or the
        options that choose the files or samples kept change.
        Needs ``sample_rate`` and files (not arrays). Where it cannot be
        written (a read-only folder) the bank is held in memory, with a warning.
    min_duration_s : float
        Files shorter than this (after resampling) are skipped (default: any
        non-empty file is kept).
    source_sample_rate : int or None
        The rate of arrays given as ``source`` (None: they are taken to be at
        the rate asked, never resampled). Files carry their own rate (given
        with files, it is a ParameterError).
    name : str
        What the bank is called in error messages and warnings (the
        argument it came from, e.g. ``"rir"``).
    first_channel : bool
        Keep each multichannel file's first channel instead of mixing its
        channels down (default False). Impulse responses: the mean of
        several microphones' responses is no one place's (the direct sound
        arrives at each at another time), and the first channel of a
        B-format response is its omnidirectional W;
        :class:`~noisegen.ApplyImpulseResponse` reads its files so.
    silent_ok : bool
        True (default; noises): a folder of only digitally silent files
        (zeros, or a faint value throughout: A-law's digital silence) is a
        bank of one silent sound, with a warning (a silent noise sets no
        level: the transforms give the signal back unchanged), and a
        one-sample file (tiled: a constant offset) is skipped. False (room
        responses, where one sample is an impulse): such a folder is a
        ParameterError, as is any folder with no usable file.

    Attributes
    ----------
    audio : np.ndarray [shape=(total_samples,)], float32
        All files end to end (memory-mapped with ``cache_path``).
    paths : list of str or None
        The files kept, in bank order (before loading: the files found;
        None for arrays).
    starts, lengths : np.ndarray of int64
        Where each file lies in :attr:`audio`.
    sound_powers : dict
        Mean square of each file by index, filled as
        :func:`noisegen.add_short_noises` first measures it (a bank's
        sounds are measured once, not on every call).
    skipped : list of (str, str)
        Files that were unreadable, silent (or one value throughout: a
        DC offset, as A-law's digital silence decodes) or too short, with
        the reason.
        Each is reported once with a :class:`NoisegenWarning` while loading.

    Examples
    --------
    >>> bank = NoiseBank("data/noise", sample_rate=16000)  # doctest: +SKIP
    >>> index, offset = bank.draw(64000, rng=0)  # doctest: +SKIP
    >>> noisy = noisegen.mix_at_snr(speech, bank[index], snr_db=10.0, noise_offset=offset)  # doctest: +SKIP
    """

    first_channel = False  # (a bank pickled before the option existed)
    silent_ok = True
    silent_only = False  # loaded from files that were all silent (see silent_ok)

    def __init__(self, source, *, sample_rate=None, cache_path=None, min_duration_s=0.0, source_sample_rate=None,
                 name="source", first_channel=False, silent_ok=True):
        if not isinstance(name, str):  # (only words for messages: NaN or a dict was taken and shown there)
            raise ParameterError(f"name must be a str (what messages call the bank), got {show_value(name)}")
        self.name = name
        self.first_channel = check_bool(first_channel, "first_channel")
        self.silent_ok = check_bool(silent_ok, "silent_ok")
        self.sample_rate = None if sample_rate is None else check_sample_rate(sample_rate)
        self.min_duration_s = check_real(min_duration_s, "min_duration_s", low=0.0, high=float(MAX_SAMPLES))
        self.source_sample_rate = (None if source_sample_rate is None
                                   else check_sample_rate(source_sample_rate, "source_sample_rate"))
        self.folder, self.paths, self._arrays, self._folders = sources(source, name)
        if not (self.paths or self._arrays):
            raise ParameterError(f"{name} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}): {source!r}")
        if self.source_sample_rate is not None and self._arrays is None:  # (it was taken, and meant nothing)
            raise ParameterError(f"source_sample_rate is the rate of arrays given as {name}; files carry their "
                                 f"own rate: leave it out (got source_sample_rate={self.source_sample_rate} with files)")
        self._reported: dict[str, str] = {}  # path -> why it was skipped, shared by the banks of every rate
        self._said_silent = []  # [True] once the bank said it holds only silence (shared likewise)
        self._rates: dict[int, NoiseBank] = {}
        if cache_path is not None and self._arrays is not None:  # (it was ignored: no file, nothing shared)
            raise ParameterError(f"cache_path caches a bank of files, got arrays as {name}: save them as files "
                                 "to share them memory-mapped, or leave cache_path out")
        if self.sample_rate is None:
            if cache_path is not None:
                raise ParameterError("cache_path needs a sample_rate")
            return
        self._load(None if cache_path is None else checked_cache_path(cache_path))

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
        arrays = check_recordings(arrays, "arrays")
        if not len(arrays):
            raise ParameterError("arrays must hold at least one noise")
        return cls(list(arrays), sample_rate=sample_rate, source_sample_rate=sample_rate, name="arrays")

    def at(self, sample_rate) -> "NoiseBank":
        """This bank at ``sample_rate``.

        A bank built with a ``sample_rate`` serves that rate only (another is a
        ParameterError); one built without loads itself once per rate asked and keeps each.
        """
        sample_rate = check_sample_rate(sample_rate)
        if self.sample_rate is not None:
            if sample_rate != self.sample_rate:
                raise ParameterError(
                    f"sample_rate {sample_rate} does not match the NoiseBank's sample_rate {self.sample_rate}")
            return self
        if (bank := self._rates.get(sample_rate)) is None:
            with _LOADING:  # threads sharing a transform: each loaded it (4 threads: 4 loads, 4 banks kept by turns)
                if (bank := self._rates.get(sample_rate)) is None:
                    bank = self.__class__.__new__(self.__class__)
                    bank.__dict__.update(self.__dict__, sample_rate=sample_rate, _rates={})
                    bank._load(None)
                    self._rates[sample_rate] = bank
        return bank

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Files skipped so far (at any rate), with the reason."""
        return list(self._reported.items())

    def _load(self, cache_path):
        """Read the files (or resample the arrays) at :attr:`sample_rate`."""
        if self._arrays is not None:
            rate = check_reach(self.source_sample_rate or self.sample_rate, self.sample_rate, self.name)
            arrays = [resample_to(a, rate, self.sample_rate) for a in self._arrays]
            self._set(joined(arrays), None, [a.shape[0] for a in arrays])
            self._arrays = None  # loaded: the samples are held (and pickled to each worker) once, in audio
            return
        candidates = self.paths
        min_len = max(1, int(round(self.min_duration_s * self.sample_rate)))
        meta = None
        if cache_path is not None:
            meta = self._signature(candidates, min_len)
            if self._load_cache(cache_path, meta):
                return
        arrays, paths, why = [], [], {}  # why: this rate's reasons (a file is reported once, at its first rate)
        for path in candidates:
            y, why[path] = self._read(path, min_len)
            if y is not None:
                arrays.append(y)
                paths.append(path)
        if not arrays and self.silent_ok and all(reader.silent(why[path]) for path in candidates):
            # Digital silence throughout: a silent noise, which sets no level (the transforms give the
            # signal back unchanged, with a warning), as a silent array does; not a broken setting
            # (one second, whatever min_duration_s: silence tiles, and 1e6 s was 64 GB of zeros)
            arrays, paths = [np.zeros(self.sample_rate, np.float32)], candidates[:1]
            self.silent_only = True
            self._warn_silent_only()
        if not arrays:
            first = candidates[0]
            raise ParameterError(f"{self.name} holds no usable audio file at {self.sample_rate} Hz (all "
                                 f"{len(candidates)} were skipped; {first!r}: {why[first]})")
        self._set(joined(arrays), paths, [a.shape[0] for a in arrays])
        if cache_path is not None:
            self._write_cache(cache_path, meta)

    def _warn_silent_only(self):
        said = self.__dict__.setdefault("_said_silent", [])  # (a bank pickled before it existed)
        if not said:  # once a bank, as its files' reports, not once for each rate it is loaded at
            said.append(True)
            warnings.warn(f"{self.name} holds only silent files: every draw is silence", NoisegenWarning,
                          stacklevel=user_stacklevel())

    def _read(self, path, min_len):
        """``(one file as mono float32, None)``, or ``(None, why)`` (reported once per bank) when it is unusable."""
        try:
            y, reason = reader.read_sound(path, sample_rate=self.sample_rate, first_channel=self.first_channel,
                                          noise=self.silent_ok)
        except Exception as exc:  # noqa: BLE001  (any decoder failure means "unreadable")
            reason = f"unreadable ({type(exc).__name__}: {exc})"
        else:
            if reason is None and y.shape[0] < min_len:
                reason = f"too short ({y.shape[0]} samples)"
            if reason is None:
                return y, None
        self._report(path, reason)
        return None, reason

    def _report(self, path, reason):
        if path not in self._reported:
            self._reported[path] = reason
            # (quoted as the stream quotes what it skips: a name holding a newline or ESC reached the terminal raw)
            warnings.warn(f"skipping {self.name} file {path!r}: {reason}", NoisegenWarning, stacklevel=user_stacklevel())

    # ------------------------------------------------------------------ storage

    def _set(self, audio, paths, lengths):
        self.audio = audio
        self.paths = None if paths is None else list(paths)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.sound_powers = {}  # index -> mean square, as noisegen.add_short_noises measures it once

    def files_digest(self) -> str | None:
        """A digest of the bank's files (absolute paths, sizes, mtimes), None for arrays: what a replay
        compares to say the noises it draws from changed since (an index names another file). A bank given
        loaded and the one its config (its list of files) makes again have the same digest."""
        if self.paths is None:
            return None
        files = [[os.path.abspath(p), size, mtime] for p, size, mtime in stamps(self.paths)]
        return hashlib.blake2b(json.dumps([BANK_RULES, files]).encode(), digest_size=16).hexdigest()

    def _signature(self, candidates, min_len):
        return {"version": BANK_RULES, "sample_rate": self.sample_rate, "min_len": min_len,
                "first_channel": self.first_channel, "silent_ok": self.silent_ok, "files": stamps(candidates)}

    def _load_cache(self, cache_path, meta):
        meta_path = Path(str(cache_path) + ".json")
        try:
            with open(meta_path) as f:
                stored = json.load(f)
        except (OSError, ValueError):
            return False
        if not isinstance(stored, dict) or stored.get("signature") != meta or not cache_path.is_file():
            return False
        try:  # a .json not of the form written (edited, another writer's): rebuilt, never half used
            paths, lengths = [str(p) for p in stored["paths"]], np.asarray(stored["lengths"], dtype=np.int64)
            skipped = [(str(path), str(reason)) for path, reason in stored["skipped"]]
            audio = mapped(cache_path, bytes.fromhex(stored["tag"]) or b"?")
        except (OSError, ValueError, EOFError, KeyError, TypeError):  # (EOFError: a .npy cut in its header)
            return False
        if lengths.shape != (len(paths),) or audio.shape[0] != int(lengths.sum()):
            return False
        if any(why.startswith("unreadable (PermissionError") and os.access(path, os.R_OK) for path, why in skipped):
            return False  # made readable since (a chmod changes neither size nor mtime): read it now
        self._set(audio, paths, lengths)
        for path, reason in skipped:
            self._report(path, reason)
        if stored.get("silent_only"):
            self.silent_only = True
            self._warn_silent_only()
        return True

    def _write_cache(self, cache_path, meta):
        tag = os.urandom(16)  # ends the .npy and is in the .json: the two are one writer's (bank_cache.mapped)
        stored = {"signature": meta, "paths": self.paths, "lengths": self.lengths.tolist(), "skipped": self.skipped,
                  "silent_only": self.silent_only, "tag": tag.hex()}
        if not write_cache(cache_path, self.audio, stored, tag):
            return  # (a folder not writable: the samples stay in memory, with a warning)
        try:  # the file this bank wrote, unless another writer (a process building it at once) replaced it
            self.audio = mapped(cache_path, tag)
        except (OSError, ValueError):
            pass  # (the samples stay in memory)

    def __getstate__(self):  # a bank mapped from its cache_path travels as the file (bank_cache)
        state = self.__dict__.copy()
        if "audio" in state:
            state["audio"] = pickled(state["audio"])
        return state

    def __setstate__(self, state):
        if "audio" in state:
            state["audio"] = unpickled(state["audio"])
        self.__dict__.update(state)

    # ------------------------------------------------------------------ access

    def _check_loaded(self):
        if self.sample_rate is None:
            raise ParameterError(f"this NoiseBank of {self.name} has no sample_rate yet: use bank.at(sample_rate)")

    def __len__(self):
        if self.sample_rate is None:  # not loaded: the files found (or arrays given)
            return len(self.paths) if self.paths is not None else len(self._arrays)
        return len(self.lengths)

    def config(self, first_channel=False):
        """The files, for a transform's ``to_dict`` (a bank loaded per rate: the folder it was given);
        a bank of arrays, one loaded per rate that drops short files, or one whose channel rule is
        not the ``first_channel`` its transform rebuilds it with, cannot be written."""
        if self.paths is None:
            raise ParameterError(f"a NoiseBank of arrays ({self.name}) cannot be written to a dict; "
                                 "pass file paths instead")
        if self.sample_rate is None and self.min_duration_s > 0:  # its files would come back unfiltered
            raise ParameterError(
                f"a NoiseBank of {self.name} loaded per sample rate with min_duration_s={self.min_duration_s:g} "
                "cannot be written to a dict (the files it keeps depend on the rate); give it a sample_rate")
        if self.first_channel != first_channel:  # rebuilt from the files, it would read them otherwise
            raise ParameterError(
                f"a NoiseBank of {self.name} with first_channel={self.first_channel} cannot be written to a dict "
                f"here: the transform rebuilds it from its files with first_channel={first_channel}")
        if self.sample_rate is None and self.folder is not None:
            return self.folder
        return list(self.paths)

    def __getitem__(self, index):
        """File ``index`` as a read-only float32 view into :attr:`audio` (no copy).

        Negative indices count from the end; one out of range is a
        :class:`ParameterError` that is also an :class:`IndexError`. A slice
        gives a list of such views.
        """
        self._check_loaded()
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = check_index(index, "index", len(self))
        start = int(self.starts[index])
        view = self.audio[start:start + int(self.lengths[index])]
        if isinstance(view, np.ndarray) and view.flags.writeable:
            view = view.view()
            view.flags.writeable = False
        return view

    def __iter__(self):
        """The files in bank order, each as ``bank[i]`` gives it (a loaded bank only: see :meth:`at`).

        Examples
        --------
        >>> import numpy as np
        >>> bank = NoiseBank.from_arrays([np.ones(3), np.zeros(2) + 0.5], sample_rate=8000)
        >>> [y.tolist() for y in bank]
        [[1.0, 1.0, 1.0], [0.5, 0.5]]
        """
        self._check_loaded()
        return (self[i] for i in range(len(self)))

    @property
    def duration_s(self):
        """Total duration of the bank in seconds."""
        self._check_loaded()
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
        self._check_loaded()
        g = as_generator(rng)
        index = int(g.integers(len(self)))
        return index, self._draw_offset(index, n_samples, g)

    def _draw_offset(self, index, n_samples, g):
        length = int(self.lengths[index])
        high = length - n_samples + 1 if length >= n_samples else length
        return int(g.integers(high))

    def crop(self, n_samples, *, rng=None, index=None, offset=None):
        """A float32 copy of ``n_samples`` samples of one file (wrap-around).

        Without ``index`` and ``offset`` they are drawn from ``rng`` with :meth:`draw`;
        with ``index`` alone, the offset in that file is drawn as
        :meth:`draw` draws it. ``offset`` needs an ``index``.
        """
        n_samples = check_n_samples(n_samples)  # (it sizes the copy: 1e300 was numpy's ValueError)
        if index is None and offset is not None:
            raise ParameterError(f"offset {offset!r} needs an index (the file it is in): give both, "
                                 "index alone, or neither")
        if index is None:
            index, offset = self.draw(n_samples, rng=rng)
        elif offset is None:
            self._check_loaded()
            index = check_index(index, "index", len(self))
            offset = self._draw_offset(index, n_samples, as_generator(rng))
        y = self[index]
        offset = check_int(offset, "offset", low=0) % y.shape[0]
        positions = (offset + np.arange(n_samples)) % y.shape[0]
        return np.asarray(y[positions], dtype=np.float32)

    def __repr__(self):
        where = "" if self.folder is None else f"{self.folder!r}: "
        if self.sample_rate is None:
            return f"NoiseBank({where}{len(self)} sources of {self.name}, loaded per sample rate)"
        return (f"NoiseBank({where}{len(self)} {'files' if self.paths else 'arrays'}, {self.duration_s:.1f} s at "
                f"{self.sample_rate} Hz, {len(self.skipped)} skipped)")
