"""``noisegen warmup``: compile every CPU kernel into the Numba cache ahead of time.

Kernels compile on first call (1-4 s each with an empty cache) and are cached
on disk (``NUMBA_CACHE_DIR`` when set). ``warmup`` runs every public
operation once, in float32 and float64, mono and multichannel, every
transform, and the default stream over a few generated files at other sample
rates, so that a later process's first call of any of them loads its kernels
from the cache instead of compiling them. The resampling filter designs from
common corpus rates to 16 kHz, and the tables of random pitch shifts within
``PitchShift``'s default range, are cached too (:mod:`noisegen._core.diskcache`). Run it once after installing (a
Docker build step, CI before the tests); rerunning it is quick and changes
nothing.

:mod:`noisegen.cli` calls :func:`add_parser` with its subparsers, then
:func:`run` with the parsed arguments.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import time
import warnings

import numba
import numpy as np
from numba.core.registry import CPUDispatcher

from .. import effects as fx
from .. import synth
from .._core import jit
from .._core.errors import NoisegenError, NoisegenWarning
from .._core.tempfiles import DEAD_AFTER_S, sweeping
from .._design.kaiser import design_cells
from ..audio.io import load, save
from ..batch import default_pipeline
from ..data.stream import AugmentStream
from ..transforms import (
    AddBackgroundNoise,
    AddShortNoises,
    ApplyImpulseResponse,
    Compose,
    OneOf,
    PitchShift,
    SomeOf,
    Transform,
)
from ..transforms import __all__ as _transform_names
from .. import transforms as _transforms

__all__ = ["add_parser", "run", "warm", "kernels", "cache_is_cold"]

SR = 16000
DTYPES = (np.float32, np.float64)
LAYOUTS = (None, 2)  # mono (n,), and (2, n)
#: Sample rates of the generated files the stream reads (resample on load).
FILE_RATES = (16000, 44100, 48000)
#: Corpus rates whose resampling designs (to 16 kHz) are cached ahead of time.
COMMON_RATES = (8000, 11025, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
#: Seeds per transform: random branches (a factor of 1.0, p of a step) reach every kernel.
SEEDS = (0, 1, 2, 3)


def kernels() -> list:
    """Every Numba CPU kernel defined at module level in a loaded noisegen module.

    Kernels declared ``inline="always"`` are left out: they are inlined into
    their callers' code and never compiled (nor cached) on their own.
    """
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("noisegen.") and module is not None:
            for obj in list(vars(module).values()):
                if isinstance(obj, CPUDispatcher) and obj.targetoptions.get("inline") != "always":
                    found[id(obj)] = obj
    return sorted(found.values(), key=lambda d: (d.py_func.__module__, d.__name__))


#: Kernels of every default ``noisegen augment`` run (gain, mixing, 16-bit output): when none of
#: them is in the Numba cache, the cache is new (a first run, or the first after an upgrade).
_PROBES = (("noisegen._kernels.cpu.level", "scale"), ("noisegen._kernels.cpu.mix", "mix_at_ratio_1d"),
           ("noisegen._kernels.cpu.pcm", "to_pcm16"))


def cache_is_cold() -> bool:
    """Whether the Numba cache holds none of the kernels a default run uses, so that they will
    compile as they are met (half a minute or so). Asks Numba's cache index (not public API):
    False where that cannot be asked."""
    try:
        for module, name in _PROBES:
            if getattr(importlib.import_module(module), name)._cache._cache_file._load_index():
                return False
    except Exception:  # noqa: BLE001 - a hint only; Numba's internals may differ
        return False
    return True


def _reached(found: list) -> list:
    """The kernels with a compiled specialisation, and every kernel they call.

    A kernel loaded from the cache carries its callees' code, so they are
    never compiled (and have no specialisation) in that process.
    """
    todo = [d for d in found if d.signatures]
    reached = []
    while todo:
        d = todo.pop()
        if d not in reached:
            reached.append(d)
            names = d.py_func.__globals__
            todo += [names[n] for n in d.py_func.__code__.co_names if isinstance(names.get(n), CPUDispatcher)]
    return reached


def _signal(n_channels, dtype, n=SR):
    """A tone plus a little noise: non-silent, finite, deterministic."""
    t = np.arange(n) / SR
    y = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.01 * np.random.default_rng(0).standard_normal(n)
    return (y if n_channels is None else np.stack([y, y[::-1]])).astype(dtype)


def _synthesis(n_channels, dtype):
    kw = dict(n_channels=n_channels, dtype=dtype)
    osc = dict(sample_rate=SR, n_samples=SR // 4, **kw)
    yield "white_noise", lambda: synth.white_noise(SR, rng=0, **kw)
    yield "colored_noise", lambda: synth.colored_noise(SR, beta=0.7, rng=0, **kw)
    for name in ("pink_noise", "brown_noise", "blue_noise", "violet_noise"):
        yield name, lambda f=getattr(synth, name): (f(SR, rng=0, **kw), f(SR, rng=0, min_freq_hz=20.0,
                                                                          sample_rate=SR, **kw))
    yield "NoiseGenerator", lambda: synth.NoiseGenerator(
        "pink", sample_rate=SR, rng=0, n_channels=n_channels or 1, dtype=dtype).read(SR // 4)
    for name in ("tone", "square", "sawtooth", "triangle", "impulse_train"):
        yield name, lambda f=getattr(synth, name): f(freq_hz=440.0, **osc)
    for method in ("linear", "logarithmic"):
        yield f"chirp {method}", lambda m=method: synth.chirp(freq_hz=100.0, end_freq_hz=4000.0, method=m, **osc)
    yield "hum", lambda: synth.hum(**osc)
    yield "speech_shaped_noise", lambda: synth.speech_shaped_noise(sample_rate=SR, n_samples=SR, rng=0, **kw)
    yield "simulate_rir", lambda: fx.simulate_rir(sample_rate=SR, room_dim_m=(4.0, 3.0, 2.5), source_m=(1.0, 1.0, 1.2),
                                                  mic_m=(3.0, 2.0, 1.5), rt60_s=0.3, rng=0, dtype=dtype)


def _effects(y):
    rir = np.exp(-np.arange(SR // 8) / 400.0).astype(y.dtype) * _signal(None, y.dtype, SR // 8)
    for dtype in DTYPES:  # noise need not have the signal's dtype
        noise = _signal(None, dtype, 2 * SR)[::-1].copy()
        yield f"mix_at_snr, {np.dtype(dtype).name} noise", lambda noise=noise: (
            fx.mix_at_snr(y, noise, snr_db=5.0, noise_offset=7),
            fx.mix_at_snr(y, noise, snr_db=5.0, reference="active", sample_rate=SR))
        yield f"add_background_noises, {np.dtype(dtype).name} noise", lambda noise=noise: (
            fx.add_background_noises(y, [noise, noise[::-1].copy()], snr_db=[5.0, 9.0]))
        yield f"add_short_noises, {np.dtype(dtype).name} noise", lambda noise=noise: fx.add_short_noises(
            y, [noise[: SR // 4]], sample_rate=SR, rng=0, min_time_between_s=0.1, max_time_between_s=0.2)
    yield "babble", lambda: fx.babble([noise, noise[::-1].copy()], 2, n_samples=SR, rng=0, dtype=y.dtype)
    yield "gain", lambda: fx.gain(y, gain_db=-3.0)
    yield "clip", lambda: (fx.clip(y, threshold=0.1), fx.clip(y, percentile=90.0))
    yield "bitcrush", lambda: fx.bitcrush(y, bit_depth=8)
    yield "time_mask", lambda: fx.time_mask(y, start_s=0.1, duration_s=0.2, sample_rate=SR)
    for name in ("lowpass", "highpass"):
        f = getattr(fx, name)
        yield name, lambda f=f: _with_state(f, y, cutoff_hz=1000.0, sample_rate=SR)
    for name in ("bandpass", "bandstop"):
        f = getattr(fx, name)
        yield name, lambda f=f: _with_state(f, y, low_hz=300.0, high_hz=3000.0, sample_rate=SR)
    yield "peaking_eq", lambda: _with_state(fx.peaking_eq, y, center_hz=1000.0, gain_db=6.0, q=1.0, sample_rate=SR)
    for name in ("low_shelf", "high_shelf"):
        f = getattr(fx, name)
        yield name, lambda f=f: _with_state(f, y, cutoff_hz=500.0, gain_db=-6.0, sample_rate=SR)
    yield "convolve_rir", lambda: (fx.convolve_rir(y, rir), fx.convolve_rir(y, rir, mode="full"),
                                   fx.convolve_rir(y, np.stack([rir, rir[::-1]])[: y.ndim]))
    yield "RirConvolver", lambda: _stream(fx.RirConvolver(rir), y)
    for target in (8000, 22050, 32000, 48000):  # folded decimator, rational rows, 2x and 3x upsampling
        yield f"resample to {target}", lambda t=target: (
            fx.resample(y, orig_sample_rate=SR, target_sample_rate=t),
            _stream(fx.Resampler(orig_sample_rate=SR, target_sample_rate=t), y))
    yield "codec", lambda: fx.codec(y, sample_rate=SR, format="mulaw")
    yield "packet_loss", lambda: fx.packet_loss(y, sample_rate=SR, loss_rate=0.2, concealment="repeat", rng=0)
    for factor in (0.9, 1.1):
        yield f"speed {factor}", lambda f=factor: fx.speed(y, factor=f, sample_rate=SR)
    for method in ("wsola", "phase_vocoder"):
        yield f"time_stretch {method}", lambda m=method: fx.time_stretch(y, rate=1.2, sample_rate=SR, method=m)
    yield "pitch_shift", lambda: fx.pitch_shift(y, sample_rate=SR, n_steps=2.0)


def _with_state(f, y, **kw):
    """One call without filter state, then two streaming calls with it."""
    f(y, **kw)
    _, zf = f(y[..., : SR // 2], zi="zeros", **kw)
    return f(y[..., SR // 2 :], zi=zf, **kw)


def _stream(processor, y):
    """Feed ``y`` to a streaming processor in uneven chunks, then flush it."""
    for start, stop in ((0, 1000), (1000, 5001), (5001, y.shape[-1])):
        processor.process(y[..., start:stop])
    return processor.flush()


def _write_corpus(folder: str) -> dict:
    """Speech, noise and RIR files at several rates, layouts and formats; their folders."""
    dirs = {kind: os.path.join(folder, kind) for kind in ("speech", "noise", "rir")}
    for path in dirs.values():
        os.makedirs(path)
    for i, rate in enumerate(FILE_RATES):
        n_channels = None if i % 2 == 0 else 2
        y = _signal(n_channels, np.float32, rate * 3 // 2)
        save(os.path.join(dirs["speech"], f"s{rate}.{'wav' if i % 2 == 0 else 'flac'}"), y, sample_rate=rate)
        save(os.path.join(dirs["noise"], f"n{rate}.{('wav', 'ogg', 'flac')[i]}"), y[..., ::-1].astype(DTYPES[(i + 1) % 2]),
             sample_rate=rate)  # float32 and float64 samples to 16-bit PCM
    decay = np.exp(-np.arange(SR // 4) / 800.0)
    save(os.path.join(dirs["rir"], "room.wav"), (decay * _signal(None, np.float64, SR // 4)).astype(np.float32),
         sample_rate=SR)
    return dirs


def _odd_flacs(dirs: dict):
    """Copies of a speech FLAC file (beside the folders: the stream does not see them), loaded: one cut
    short, one whose STREAMINFO gives no length (0: a stream written to a pipe; found from its end)."""
    name = next(f for f in sorted(os.listdir(dirs["speech"])) if f.endswith(".flac"))
    with open(os.path.join(dirs["speech"], name), "rb") as fh:
        data = bytearray(fh.read())
    cut, unknown = (os.path.join(os.path.dirname(dirs["speech"]), f) for f in ("cut.flac", "unknown.flac"))
    with open(cut, "wb") as fh:
        fh.write(data[: len(data) - 100])
    data[21] &= 0xF0  # STREAMINFO (from byte 8) holds the count in its bits 108-143: bytes 21 (low half) to 25
    data[22:26] = bytes(4)
    with open(unknown, "wb") as fh:
        fh.write(data)
    return [load(path, sample_rate=SR) for path in (cut, unknown)]


def _every_transform(dirs: dict) -> list:
    """Every exported transform with its defaults and ``p=1`` (data from ``dirs`` where it needs some)."""
    needs = {AddBackgroundNoise: dict(noise=dirs["noise"]), AddShortNoises: dict(sounds=dirs["noise"]),
             ApplyImpulseResponse: dict(rir=dirs["rir"])}
    out = []
    for name in _transform_names:
        cls = getattr(_transforms, name)
        if isinstance(cls, type) and issubclass(cls, Transform) and cls not in (Transform, Compose, OneOf, SomeOf):
            out.append(cls(**needs.get(cls, {}), p=1.0))
    return out


def _files(dirs: dict):
    """Loading with resampling, and the default stream and its batches over the files."""
    for dtype in DTYPES:
        for mono in (True, False):
            yield f"load ({np.dtype(dtype).name}, mono={mono})", lambda d=dtype, m=mono: [
                load(os.path.join(dirs["speech"], f), sample_rate=SR, mono=m, dtype=d)
                for f in sorted(os.listdir(dirs["speech"]))]
    yield "load FLAC files cut short (their whole frames) and of unknown length", lambda: _odd_flacs(dirs)
    yield "resample common rates to 16 kHz (filter designs)", lambda: [
        fx.resample(_signal(None, np.float32, rate // 10), orig_sample_rate=rate, target_sample_rate=SR)
        for rate in COMMON_RATES]
    top = PitchShift().max_semitones  # its default range: the random ratios a stream's shifts up meet
    yield f"pitch shifts up to {top:g} semitones (resampling tables, float32)", lambda: design_cells(
        2.0 ** (-top / 12), "f")
    pipeline = default_pipeline(noise_dir=dirs["noise"], rir_dir=dirs["rir"])
    for seed in SEEDS:
        yield f"default stream (rng={seed})", lambda s=seed: (
            list(AugmentStream(dirs["speech"], pipeline, sample_rate=SR, chunk_s=1.0, rng=s)),
            list(AugmentStream(dirs["speech"], pipeline, sample_rate=SR, chunk_s=None, rng=s).batches(2)))


def _exercises(folder: str):
    """``(label, call)`` for every operation warmup runs."""
    dirs = _write_corpus(folder)
    steps = _every_transform(dirs)
    for dtype in DTYPES:
        for n_channels in LAYOUTS:
            tag = f"{np.dtype(dtype).name}, {'mono' if n_channels is None else f'{n_channels} channels'}"
            for label, call in _synthesis(n_channels, dtype):
                yield f"{label} ({tag})", call
            y = _signal(n_channels, dtype)
            for label, call in _effects(y):
                yield f"{label} ({tag})", call
            for step in steps:
                yield f"{type(step).__name__} ({tag})", lambda t=step, y=y: [t(y, sample_rate=SR, rng=s) for s in SEEDS]
    yield from _files(dirs)


_FOLDER_PREFIX = "noisegen-warmup-"


def _remove_dead_folders(age_s: float = DEAD_AFTER_S) -> None:
    """Remove the input folders of warmups killed where they stood (SIGKILL, the OOM killer: no sweep ran,
    and every later warmup left them, ~0.6 MB each): those untouched for ``age_s``, no live warmup's. Best effort."""
    cutoff = time.time() - age_s
    try:
        with os.scandir(tempfile.gettempdir()) as it:
            dead = [e.path for e in it if e.name.startswith(_FOLDER_PREFIX) and e.is_dir(follow_symlinks=False)
                    and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return
    for path in dead:
        shutil.rmtree(path, ignore_errors=True)  # (another user's: not ours to remove, and it stays)


def warm(*, log=None) -> dict:
    """Run every operation once so that all its kernels are compiled into the Numba cache.

    Parameters
    ----------
    log : callable or None
        Called with a line of progress text per operation.

    Returns
    -------
    summary : dict
        ``operations`` run, ``kernels`` (Numba CPU kernels), ``signatures``
        (their compiled specialisations), ``compiled`` (of those, compiled in
        this process) and ``loaded`` (loaded from the cache), ``unused``
        (kernels no operation reached: a gap in warmup), ``seconds`` and
        ``cache_dir``.

    Examples
    --------
    >>> summary = warm()  # doctest: +SKIP
    >>> summary["unused"]  # doctest: +SKIP
    []
    """
    t0 = time.perf_counter()
    n, label = 0, "its inputs"
    _remove_dead_folders()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix=_FOLDER_PREFIX) as folder, \
            sweeping(lambda: shutil.rmtree(folder, ignore_errors=True)):  # (also on a hard stop: _core.tempfiles)
        warnings.simplefilter("ignore", NoisegenWarning)  # clipping and the like, by design here
        try:
            for label, call in _exercises(folder):
                if log is not None:
                    log(label)
                call()
                n += 1
                label = "its inputs"
        except Exception as exc:  # a bug, not a user error: say which operation, in one line
            raise NoisegenError(f"warming up {label} failed: {type(exc).__name__}: {exc}") from exc
    found = kernels()
    reached = _reached(found)
    return {
        "operations": n,
        "kernels": len(found),
        "signatures": sum(len(d.signatures) for d in found),
        "compiled": sum(sum(d.stats.cache_misses.values()) for d in found),
        "loaded": sum(sum(d.stats.cache_hits.values()) for d in found),
        "unused": [f"{d.py_func.__module__}.{d.__name__}" for d in found if d not in reached],
        "seconds": time.perf_counter() - t0,
        "cache_dir": _cache_dir(found),
    }


def _cache_dir(found) -> str:
    """Where the kernels' cache files went: ``NUMBA_CACHE_DIR``, or, when that is unset or not a
    folder Numba can write (it then falls back beside the modules without a word), where they
    did go, saying so (asks Numba's cache, not public API)."""
    wanted = jit.REFUSED_CACHE_DIR or numba.config.CACHE_DIR  # (one not writable was replaced at import)
    paths = {getattr(getattr(d, "_cache", None), "_cache_path", None) for d in found} - {None}
    if wanted and paths and all(os.path.commonpath([os.path.abspath(wanted), os.path.abspath(p)])
                                == os.path.abspath(wanted) for p in paths):
        return wanted
    where = ("beside each kernel module (__pycache__)" if all(p.endswith("__pycache__") for p in paths)
             else ", ".join(sorted(paths)) or "nowhere")
    return f"{where}: NUMBA_CACHE_DIR={wanted!r} {_refused_why()}" if wanted else where


def _refused_why() -> str:
    """Why the ``NUMBA_CACHE_DIR`` given was not used."""
    return jit.HOME_UNEXPANDED or "is not a folder Numba can write"


DESCRIPTION = """\
Compile every CPU kernel into the Numba cache (NUMBA_CACHE_DIR when set) by
running each operation, transform and the default stream once, in float32 and
float64, mono and multichannel. Afterwards a new process loads kernels from
the cache instead of compiling them on first use. Takes 1-3 minutes with an
empty cache, seconds with a full one."""


def add_parser(sub) -> None:
    p = sub.add_parser("warmup", help="compile every kernel into the Numba cache ahead of time",
                       description=DESCRIPTION)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when it succeeds")
    p.set_defaults(handler=run)


def run(args) -> int:
    if numba.config.DISABLE_JIT:  # else minutes of running every operation as Python, then a false cache error
        print("noisegen warmup: error: NUMBA_DISABLE_JIT=1 is set: kernels run as plain Python, nothing to "
              "compile; nothing compiled", file=sys.stderr)
        return 1
    if jit.REFUSED_CACHE_DIR:  # before minutes of compiling into the per-user cache put in its place
        print(f"noisegen warmup: error: NUMBA_CACHE_DIR={jit.REFUSED_CACHE_DIR!r} {_refused_why()}; nothing "
              "compiled", file=sys.stderr)
        return 1
    if not args.quiet:
        print("noisegen warmup: compiling kernels into the Numba cache (1-3 minutes with an empty cache)...", file=sys.stderr, flush=True)
    s = warm()
    if not args.quiet:
        print(f"noisegen warmup: {s['operations']} operations, {s['kernels']} kernels, {s['signatures']} "
              f"specialisations ({s['compiled']} compiled, {s['loaded']} loaded from the cache) in "
              f"{s['seconds']:.1f} s; cache: {s['cache_dir']}")
        if s["unused"]:
            print(f"noisegen warmup: not reached by any operation: {', '.join(s['unused'])}", file=sys.stderr)
    if "NUMBA_CACHE_DIR=" in s["cache_dir"]:  # the cache asked for was not filled: a failure, whatever went elsewhere
        print(f"noisegen warmup: error: the kernels were cached {s['cache_dir']}", file=sys.stderr)
        return 1
    return 0
