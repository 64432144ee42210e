"""Noise synthesis: white, pink and brown noise; cold start of ``import noisegen``.

noisegen (counter RNG + one-pole bank) against ``colorednoise.powerlaw_psd_gaussian``
and a plain numpy FFT-shaping reference (what most code bases hand-roll).
Quality: fitted PSD slope error in dB/octave (target -3.01 * beta) from 20 Hz
to 6 kHz. Cold costs: ``import noisegen`` in a fresh process (and whether it
compiled anything), the first ``pink_noise`` call with an empty Numba cache
and with a warm one.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from bench._harness import ROOT, Case, _clean, ng
from bench._quality import psd_slope_db_per_oct

COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
SLOPE_PER_BETA = -10 * np.log10(2.0)  # -3.0103 dB/octave per unit beta


# ----------------------------------------------------------------- factories


def make_noisegen(color: str):
    fn = ng(f"{color}_noise")
    if fn is None:
        raise AttributeError(f"noisegen.{color}_noise is not available")
    seeds = itertools.count(1234)  # a new draw every call, like the anchors' advancing generators
    return lambda clip: fn(clip.n, rng=next(seeds), dtype=np.float32)


def make_colorednoise(color: str):
    import colorednoise

    beta = COLORS[color]
    rng = np.random.default_rng(1234)
    return lambda clip: colorednoise.powerlaw_psd_gaussian(beta, clip.n, random_state=rng).astype(np.float32)


def make_numpy(color: str):
    beta = COLORS[color]
    rng = np.random.default_rng(1234)
    if beta == 0.0:
        return lambda clip: rng.standard_normal(clip.n, dtype=np.float32)

    def fn(clip):
        # White Gaussian noise shaped by f**(-beta/2) in the frequency domain.
        n = clip.n
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n)
        f[0] = f[1]
        spec *= f ** (-beta / 2)
        y = np.fft.irfft(spec, n)
        y /= y.std()
        return y.astype(np.float32)

    return fn


def _quality(color):
    target = SLOPE_PER_BETA * COLORS[color]

    def q(fn, clip):
        # Average the slope over several draws so the figure is about the
        # method, not one draw's scatter.
        slopes = [psd_slope_db_per_oct(fn(clip)) for _ in range(4)]
        return {"slope_err_db_oct": float(np.mean(slopes) - target)}

    return q


def cases(cfg):
    out = []
    for color in COLORS:
        params = {"color": color}
        q = _quality(color)
        out.append(Case("colored_noise", params, "noisegen", f"noisegen {color}_noise",
                        "bench.bench_synth:make_noisegen", {"color": color}, q))
        out.append(Case("colored_noise", params, "colorednoise", "colorednoise powerlaw_psd_gaussian",
                        "bench.bench_synth:make_colorednoise", {"color": color}, q, requires=("colorednoise",)))
        out.append(Case("colored_noise", params, "numpy", "numpy FFT shaping (reference)",
                        "bench.bench_synth:make_numpy", {"color": color}, q))
    return out


# ----------------------------------------------------------------- cold start

_IMPORT_SNIPPET = r"""
import json, sys, time
t0 = time.perf_counter()
import noisegen
dt = time.perf_counter() - t0
from numba.core.dispatcher import Dispatcher
compiled = sorted(
    f"{m}.{k}" for m, mod in list(sys.modules.items()) if m.startswith("noisegen")
    for k, v in list(vars(mod).items()) if isinstance(v, Dispatcher) and v.signatures)
print("COLD" + json.dumps({"import_s": dt, "compiled": compiled}))
"""

_CALL_SNIPPET = r"""
import json, time
t0 = time.perf_counter()
import noisegen
t1 = time.perf_counter()
noisegen.pink_noise(16000, rng=0)
t2 = time.perf_counter()
noisegen.pink_noise(16000, rng=0)
t3 = time.perf_counter()
print("COLD" + json.dumps({"import_s": t1 - t0, "first_s": t2 - t1, "warm_s": t3 - t2}))
"""


def _run_snippet(code, env):
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, cwd=str(ROOT))
    for line in res.stdout.splitlines():
        if line.startswith("COLD"):
            return json.loads(line[4:]), ""
    return None, res.stderr.strip().splitlines()[-1:] or ["failed"]


def _cold_record(what, seconds, note="", **quality):
    q = {"seconds": seconds, **quality}
    return _clean({"op": "cold_start", "params": {"what": what}, "library": "noisegen", "variant": "noisegen",
                   "clip_s": None, "xrt": None, "median_s": None, "iqr_s": None, "repeats": 1, "number": 1,
                   "first_call_s": seconds, "compile_s": None, "quality": q, "like_for_like": True,
                   "status": "ok" if seconds is not None else "error", "note": note})


def extra(cfg):
    """Cold-start records (op ``cold_start``)."""
    if not cfg.cold:
        return []
    records = []
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="ngbench-cold-") as cache:
        env["NUMBA_CACHE_DIR"] = cache
        res, err = _run_snippet(_IMPORT_SNIPPET, env)
        if res is None:
            records.append(_cold_record("import noisegen", None, f"failed: {err}"))
        else:
            n = len(res["compiled"])
            records.append(_cold_record("import noisegen (fresh process)", res["import_s"],
                                        f"{n} kernels compiled at import" + (f": {res['compiled'][:5]}" if n else ""),
                                        compiled_at_import=n))
        if ng("pink_noise") is None:
            records.append(_cold_record("first pink_noise call", None, "noisegen.pink_noise not available"))
            return records
        for label in ("first pink_noise(16000) call, empty Numba cache",
                      "first pink_noise(16000) call, warm Numba cache"):
            res, err = _run_snippet(_CALL_SNIPPET, env)
            if res is None:
                records.append(_cold_record(label, None, f"failed: {err}"))
            else:
                records.append(_cold_record(label, res["first_s"],
                                            f"import {res['import_s']:.3f} s, next call {res['warm_s'] * 1e3:.2f} ms"))
    for r in records:
        cfg.log(f"  cold   {r['params']['what']:<52} {r['quality'].get('seconds')}")
    return records
