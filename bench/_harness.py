"""The benchmark harness: thread pinning, timing, cold-start measurement,
environment capture and records (the report: :mod:`bench._report`; quality
measures: :mod:`bench._quality`).

Import this module before numpy (``python -m bench`` does): it pins the BLAS,
OpenMP and Numba thread pools to ``NOISEGEN_BENCH_THREADS`` (default 1) so a
library cannot win by using more cores than another.

Timing (asv/timeit style): the first call is timed on its own (``first_call_s``:
in this process, with the user's Numba cache); one more warm-up call follows;
then ``repeats`` repeats of ``number`` back-to-back calls, ``number`` chosen so
that one repeat lasts at least ``min_repeat_s``. The per-call median and
inter-quartile range are reported; ``xrt = clip_s / median_s`` (seconds of
audio per wall-clock second). Every library of one operation (same ``op`` and
``params``) is timed in the same rounds: round ``r`` runs one repeat of each,
in rotating order, so a machine that slows down for a while (a shared VM)
slows all of them alike and the ratios stay put. ``compile_s`` is measured apart, in a fresh
process with an empty ``NUMBA_CACHE_DIR``: the first call there minus one warm
call (for noisegen, i.e. JIT compilation; anchors use their normal caches).

GPU hook: a :class:`Case` may carry ``sync`` (e.g. ``numba.cuda.synchronize``);
the timer calls it after every call so asynchronous GPU work is counted.
"""

from __future__ import annotations

import os

_THREADS = os.environ.get("NOISEGEN_BENCH_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = _THREADS

import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SR = 16000

# --------------------------------------------------------------------------- noisegen access


def ng(name: str):
    """``noisegen.<name>``, or None when noisegen or that name has not landed."""
    try:
        import noisegen
    except Exception:  # noqa: BLE001 - a broken checkout must not stop the anchors
        return None
    return getattr(noisegen, name, None)


def import_problem(module: str) -> str | None:
    """None when ``module`` imports, else why not: "not installed", or the error of an installed
    module that fails to import (a dependency of its missing or broken)."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, ModuleNotFoundError) and exc.name == module:
            return "not installed"
        return f"fails to import ({type(exc).__name__}: {exc})"
    return None


def have(module: str) -> bool:
    """True when ``module`` imports."""
    return import_problem(module) is None


# --------------------------------------------------------------------------- audio


def _read_16k(path: Path) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    y = y.mean(axis=1)
    if sr != SR:
        g = math.gcd(sr, SR)
        y = resample_poly(y, SR // g, sr // g)
    return y


_AUDIO: dict = {}


def corpus(kind: str) -> np.ndarray:
    """All files of ``data/<kind>`` at 16 kHz mono, concatenated (float64)."""
    if kind not in _AUDIO:
        files = sorted(p for p in (DATA / kind).iterdir() if p.suffix in (".wav", ".ogg", ".flac"))
        _AUDIO[kind] = np.concatenate([_read_16k(p) for p in files])
    return _AUDIO[kind]


def tile(y: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(y))
    return np.ascontiguousarray(np.tile(y, reps)[:n])


def harmonic_tone(n: int, f0: float = 220.0, sr: int = SR, n_harmonics: int = 6) -> np.ndarray:
    """A harmonic tone (1/k amplitudes) for pitch measurements, float32."""
    t = np.arange(n) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, n_harmonics + 1))
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


@dataclass
class Clip:
    """Inputs of one clip length: speech, a noise bank, a 0.5 s RIR, a tone."""

    clip_s: float
    sr: int = SR
    n: int = 0
    speech: np.ndarray = None
    noise_bank: np.ndarray = None
    rir: np.ndarray = None
    tone: np.ndarray = None

    @classmethod
    def make(cls, clip_s: float) -> "Clip":
        n = int(round(clip_s * SR))
        speech = tile(corpus("speech"), n).astype(np.float32)
        noise = corpus("noise")
        bank = tile(noise, max(len(noise), 2 * n)).astype(np.float32)
        rir = corpus("rir")[: SR // 2].copy()  # first RIR file: 0.5 s
        rir /= np.sqrt(np.sum(rir**2))
        return cls(clip_s=clip_s, n=n, speech=speech, noise_bank=bank,
                   rir=rir.astype(np.float32), tone=harmonic_tone(n))


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One operation by one library.

    ``factory`` ("module:function") with ``kwargs`` builds ``fn(clip)``: all
    set-up a user would do once (imports, filter design, loading a noise bank)
    happens in the factory, the per-clip work in ``fn``. ``quality(fn, clip)``
    returns a dict of quality figures. ``like_for_like=False`` keeps a column
    out of the 'fastest anchor' choice (it does materially less or otherwise).
    """

    op: str
    params: dict
    library: str
    variant: str
    factory: str
    kwargs: dict = field(default_factory=dict)
    quality: Callable | None = None
    like_for_like: bool = True
    requires: tuple = ()
    sync: Callable | None = None

    def build(self):
        mod, _, func = self.factory.partition(":")
        return getattr(importlib.import_module(mod), func)(**self.kwargs)


# --------------------------------------------------------------------------- timing


def time_fn(fn, arg, *, repeats: int, min_repeat_s: float, max_total_s: float, sync=None) -> dict:
    """First call, warm-up, then repeats of ``number`` calls; per-call seconds."""
    return time_group([fn], arg, repeats=repeats, min_repeat_s=min_repeat_s, max_total_s=max_total_s,
                      syncs=[sync])[0]


def time_group(fns, arg, *, repeats: int, min_repeat_s: float, max_total_s: float, syncs=None) -> list:
    """:func:`time_fn` for several functions at once, their repeats interleaved.

    Returns one dict per function, or the exception it raised.
    """
    syncs = syncs or [None] * len(fns)
    plans = []
    for fn, sync in zip(fns, syncs):

        def call(fn=fn, sync=sync):
            out = fn(arg)
            if sync is not None:
                sync()
            return out

        try:
            t0 = time.perf_counter()
            out = call()
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            call()
            warm = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - reported per function
            plans.append(exc)
            continue
        number = max(1, int(math.ceil(min_repeat_s / max(warm, 1e-7))))
        plans.append({"call": call, "first": first, "number": number, "out": out, "times": [],
                      "budget": int(max_total_s / max(warm * number, 1e-9))})
    live = [p for p in plans if isinstance(p, dict)]
    rounds = max(3, min([repeats] + [p["budget"] for p in live]))
    for r in range(rounds if live else 0):
        for p in live[r % len(live) :] + live[: r % len(live)]:  # rotating order
            if "error" in p:
                continue
            t0 = time.perf_counter()
            try:
                for _ in range(p["number"]):
                    p["call"]()
            except Exception as exc:  # noqa: BLE001 - as a failing first call: raised, it lost the whole area
                p["error"] = exc
                continue
            p["times"].append((time.perf_counter() - t0) / p["number"])
    results = []
    for p in plans:
        if not isinstance(p, dict):
            results.append(p)
            continue
        if "error" in p:
            results.append(p["error"])
            continue
        q25, med, q75 = np.percentile(p["times"], [25, 50, 75])
        results.append({"first_call_s": p["first"], "median_s": float(med), "iqr_s": float(q75 - q25),
                        "repeats": rounds, "number": p["number"], "out": p["out"]})
    return results


_COLD_SNIPPET = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from bench import _harness as h
case = h.Case(op="", params={{}}, library="", variant="", factory={factory!r}, kwargs={kwargs!r})
fn = case.build()
clip = h.Clip.make({clip_s!r})
t1 = time.perf_counter(); fn(clip); t2 = time.perf_counter(); fn(clip); t3 = time.perf_counter()
print("COLD" + json.dumps({{"first": t2 - t1, "warm": t3 - t2, "setup": t1 - t0}}))
"""


def cold_first_call(case: Case, clip_s: float, *, fresh_cache: bool, cache_dir: str | None = None,
                    timeout: float = 300) -> dict | None:
    """First and second call of ``case`` in a fresh process (optionally with an empty Numba cache)."""
    env = dict(os.environ)
    tmp = None
    if fresh_cache and cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ngbench-cache-")
        cache_dir = tmp.name
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    code = _COLD_SNIPPET.format(root=str(ROOT), factory=case.factory, kwargs=case.kwargs, clip_s=clip_s)
    try:
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=str(ROOT))
        for line in res.stdout.splitlines():
            if line.startswith("COLD"):
                return json.loads(line[4:])
        warnings.warn(f"cold run of {case.factory} failed: {res.stderr[-500:]}")
        return None
    except subprocess.TimeoutExpired:
        return None
    finally:
        if tmp is not None:
            tmp.cleanup()


# --------------------------------------------------------------------------- environment


#: Seconds a bench child process (a CLI run, a cold start, a memory run) may take before it is killed.
CHILD_TIMEOUT_S = 1800


def run_child(cmd, timeout=CHILD_TIMEOUT_S, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, **kwargs)`` in a session of its own; past
    ``timeout`` seconds the whole session (the child and what it started) is killed and RuntimeError
    says so: the area's error record, where a hung child hung the bench."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException as exc:  # past the limit, or Ctrl-C, which no longer reaches a session of its own:
            try:  # the child ran on after the bench stopped
                os.killpg(proc.pid, 9)
            except ProcessLookupError:  # (it and its session had ended)
                pass
            proc.communicate()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            raise RuntimeError(f"{' '.join(map(str, cmd))[:200]} did not finish in {timeout} s (killed)") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    versions = {}
    for mod in ("noisegen", "numpy", "scipy", "numba", "librosa", "soxr", "colorednoise", "audiomentations",
                "pedalboard", "python_stretch", "soundfile", "sklearn", "torch"):
        try:
            m = importlib.import_module(mod)
            versions[mod] = getattr(m, "__version__", None)
            if versions[mod] is None:
                from importlib.metadata import version

                versions[mod] = version(mod.replace("_", "-"))
        except Exception:  # noqa: BLE001
            versions[mod] = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                      "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")},
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# --------------------------------------------------------------------------- running


@dataclass
class Config:
    clips: tuple = (1.0, 4.0, 30.0)
    repeats: int = 15
    min_repeat_s: float = 0.02
    max_total_s: float = 2.0
    cold: bool = True  # cold-start records (import, first call)
    compile_each: bool = True  # compile_s of every noisegen op (fresh process, empty cache)
    quick: bool = False
    log: Callable = print


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _record(case: Case, clip_s, **kw) -> dict:
    rec = {"op": case.op, "params": case.params, "library": case.library, "variant": case.variant,
           "clip_s": clip_s, "xrt": None, "median_s": None, "iqr_s": None, "repeats": None,
           "number": None, "first_call_s": None, "compile_s": None, "quality": {},
           "like_for_like": case.like_for_like, "status": "ok", "note": ""}
    rec.update(kw)
    return _clean(rec)


def run_cases(cases: list, cfg: Config) -> list:
    """Time every case at every clip length; compile time once per noisegen operation and parameters.

    Cases of one operation (same ``op`` and ``params``) are timed together,
    their repeats interleaved (:func:`time_group`).
    """
    records = []
    clips = {c: Clip.make(c) for c in cfg.clips}
    # (op, params) -> compile_s: keyed by the parameters too, since one operation's parameters reach
    # different kernels (resample 16 -> 8 kHz a decimator, 44.1 -> 16 kHz the rational one; codec mulaw
    # the resampler, mp3 not): once per op gave every row the first row's figure
    compiled: dict = {}
    quality_clip = 4.0 if 4.0 in cfg.clips else cfg.clips[0]
    groups: dict = {}  # (op, params) -> [(case, fn, compile_s)], in case order
    for case in cases:
        problems = {m: import_problem(m) for m in case.requires}
        missing = [m for m, why in problems.items() if why is not None]
        if missing:
            if all(problems[m] == "not installed" for m in missing):
                note = f"not installed: {', '.join(missing)}"
            else:
                note = "; ".join(f"{m} {problems[m]}" for m in missing)
            for c in cfg.clips:
                records.append(_record(case, c, status="skipped", note=note))
            cfg.log(f"  skip {case.op} {case.params} {case.variant}: {note}")
            continue
        try:
            fn = case.build()
        except Exception as exc:  # noqa: BLE001 - an op that has not landed
            for c in cfg.clips:
                records.append(_record(case, c, status="not available", note=f"{type(exc).__name__}: {exc}"))
            cfg.log(f"  n/a  {case.op} {case.params} {case.variant}: {exc}")
            continue
        key = (case.op, json.dumps(_clean(case.params), sort_keys=True))
        if cfg.compile_each and case.library == "noisegen" and key not in compiled:
            cold = cold_first_call(case, cfg.clips[0], fresh_cache=True)
            compiled[key] = None if cold is None else max(0.0, cold["first"] - cold["warm"])
        compile_s = compiled.get(key) if case.library == "noisegen" else None
        groups.setdefault(key, []).append((case, fn, compile_s))
    for group in groups.values():
        quality = {id(case): {} for case, _, _ in group}
        for c in cfg.clips:
            clip = clips[c]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                timings = time_group([fn for _, fn, _ in group], clip, repeats=cfg.repeats,
                                     min_repeat_s=cfg.min_repeat_s, max_total_s=cfg.max_total_s,
                                     syncs=[case.sync for case, _, _ in group])
            for (case, fn, compile_s), t in zip(group, timings):
                try:
                    if isinstance(t, Exception):
                        raise t
                    if case.quality is not None and c == quality_clip:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            # a fresh callable: generators that advance with every call start
                            # from their seed, so the figure does not depend on the repeat count
                            quality[id(case)] = case.quality(case.build(), clip) or {}
                except Exception as exc:  # noqa: BLE001
                    records.append(_record(case, c, status="error", note=f"{type(exc).__name__}: {exc}"))
                    cfg.log(f"  ERR  {case.op} {case.params} {case.variant} {c}s: {exc}")
                    continue
                t.pop("out")
                rec = _record(case, c, xrt=c / t["median_s"], compile_s=compile_s, **t)
                records.append(rec)
                cfg.log(f"  {case.op:<14} {json.dumps(case.params):<28} {case.variant:<44} {c:>5g}s "
                        f"xRT {rec['xrt']:>11,.0f}")
        # quality measured once per case (on the 4 s clip when timed, else the first clip)
        for case, _, _ in group:
            for rec in records:
                if rec["op"] == case.op and rec["params"] == _clean(case.params) and rec["variant"] == case.variant:
                    rec["quality"] = _clean(quality[id(case)])
    return records
