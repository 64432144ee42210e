"""Start-up cost (issue 18.5): ``import noisegen``, ``noisegen warmup``, and the
first chunk of the default stream with an empty and with a warm Numba cache.

Every figure comes from fresh processes (``python -c``), so nothing this
process has imported or compiled counts. Their bytecode goes to a ``.pyc``
cache of their own (``PYTHONPYCACHEPREFIX`` in the run's temporary folder,
``PYTHONDONTWRITEBYTECODE`` dropped): an installed package imports from
``.pyc`` files, and a machine that forbids writing them would otherwise
count compiling every module of noisegen from source (0.1-0.4 s) into each
warm figure. The cold runs start with an empty one as well as an empty
Numba cache:

- ``import noisegen`` and ``from noisegen import AugmentStream`` (the whole
  public namespace): median of ``N_IMPORT`` processes;
- ``noisegen warmup`` into an empty ``NUMBA_CACHE_DIR`` (wall time, one run);
- first-chunk latency: from ``import noisegen`` to the first chunk of
  ``AugmentStream(data/speech, PIPELINE, sample_rate=16000, chunk_s=1.0,
  rng=0)`` in hand, where PIPELINE is the issue's default (one of
  stretch/pitch/speed, a real RIR, real background noise at 0-20 dB, gain;
  every step p=1): cold (an empty cache per run) and warm (the cache
  ``noisegen warmup`` filled), median of the runs; the note splits it into
  import, set-up (pipeline, banks, stream) and the chunk itself, and counts
  the kernels compiled in that process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench._harness import DATA, ROOT, _clean

N_IMPORT = 11

_IMPORT = """
import time
t0 = time.perf_counter()
{stmt}
print("STARTUP" + repr(time.perf_counter() - t0))
"""

_FIRST_CHUNK = """
import json, time
t0 = time.perf_counter()
import noisegen
t1 = time.perf_counter()
from noisegen import AddBackgroundNoise, ApplyImpulseResponse, Compose, Gain, OneOf, PitchShift, SpeedPerturb, TimeStretch
pipeline = Compose([OneOf([TimeStretch(p=1.0), PitchShift(p=1.0), SpeedPerturb(p=1.0)]),
                    ApplyImpulseResponse({rir!r}, p=1.0),
                    AddBackgroundNoise({noise!r}, min_snr_db=0.0, max_snr_db=20.0, p=1.0),
                    Gain(p=1.0)])
stream = iter(noisegen.AugmentStream({speech!r}, pipeline, sample_rate=16000, chunk_s=1.0, rng=0))
t2 = time.perf_counter()
chunk = next(stream)
t3 = time.perf_counter()
from noisegen.cli.warmup import kernels
compiled = sum(sum(k.stats.cache_misses.values()) for k in kernels())

def applied(p):
    inner = [applied(q) for q in p.get("transforms", ()) if q.get("applied")]
    return ", ".join(inner) if inner else p["name"]

print("STARTUP" + json.dumps({{"import_s": t1 - t0, "setup_s": t2 - t1, "chunk_s": t3 - t2, "total_s": t3 - t0,
                               "compiled": compiled, "applied": applied(chunk.params)}}))
"""


def _env(cache_dir: str) -> dict:
    """A child's environment: Numba cache ``cache_dir``, bytecode cached beside it (see the module notes)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT),
           "PYTHONPYCACHEPREFIX": os.path.join(cache_dir, "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(code: str, cache_dir: str, timeout: float = 900):
    env = _env(cache_dir)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=timeout, cwd=str(ROOT))
    for line in res.stdout.splitlines():
        if line.startswith("STARTUP"):
            return json.loads(line[7:]), ""
    return None, (res.stderr.strip().splitlines() or ["failed"])[-1]


def _record(what: str, seconds, note: str = "", **quality) -> dict:
    return _clean({"op": "startup", "params": {"what": what}, "library": "noisegen", "variant": "noisegen",
                   "clip_s": None, "xrt": None, "median_s": seconds, "iqr_s": None, "repeats": None, "number": 1,
                   "first_call_s": seconds, "compile_s": None, "quality": {"seconds": seconds, **quality},
                   "like_for_like": True, "status": "ok" if seconds is not None else "error", "note": note})


def _spread(values: list) -> str:
    return f"median of {len(values)} fresh processes (min {min(values):.3f}, max {max(values):.3f})"


def _imports(cache: str, n: int) -> list:
    records = []
    for what, stmt in (("import noisegen", "import noisegen"),
                       ("from noisegen import AugmentStream (whole namespace)", "from noisegen import AugmentStream")):
        times = []
        for _ in range(n):
            res, err = _run(_IMPORT.format(stmt=stmt), cache)
            if res is None:
                return records + [_record(what, None, f"failed: {err}")]
            times.append(res)
        records.append(_record(what, statistics.median(times), _spread(times), runs=len(times)))
    return records


def _first_chunks(label: str, caches: list) -> dict:
    code = _FIRST_CHUNK.format(rir=str(DATA / "rir"), noise=str(DATA / "noise"), speech=str(DATA / "speech"))
    runs = []
    for cache in caches:
        res, err = _run(code, cache)
        if res is None:
            return _record(f"first chunk of the default stream, {label}", None, f"failed: {err}")
        runs.append(res)
    mid = sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]
    totals = [r["total_s"] for r in runs]
    note = (f"{_spread(totals) if len(runs) > 1 else 'one fresh process'}; median run: import {mid['import_s']:.3f} s, "
            f"set-up {mid['setup_s']:.3f} s, chunk {mid['chunk_s']:.3f} s, {mid['compiled']} kernels compiled; "
            f"applied: {mid['applied']}")
    return _record(f"first chunk of the default stream, {label}", mid["total_s"], note, compiled=mid["compiled"],
                   runs=len(runs))


def _warmup(cache: str) -> dict:
    env = _env(cache)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "noisegen", "warmup"], env=env, capture_output=True, text=True,
                         timeout=1800, cwd=str(ROOT))
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        return _record("noisegen warmup, empty cache", None, f"failed: {res.stderr.strip()[-300:]}")
    summary = res.stdout.strip().splitlines()[-1].removeprefix("noisegen warmup: ")
    return _record("noisegen warmup, empty cache", seconds, f"wall time of the command; it says: {summary}")


def cases(cfg):
    return []


def extra(cfg):
    """Start-up records (op ``startup``); ``--no-cold`` skips them."""
    if not cfg.cold:
        return []
    n_cold, n_warm = (1, 3) if cfg.quick else (3, 5)
    with tempfile.TemporaryDirectory(prefix="ngbench-startup-") as tmp:
        warm = os.path.join(tmp, "warm")
        records = _imports(os.path.join(tmp, "import"), 5 if cfg.quick else N_IMPORT)
        records.append(_first_chunks("empty Numba cache", [os.path.join(tmp, f"cold{i}") for i in range(n_cold)]))
        records.append(_warmup(warm))
        records.append(_first_chunks("warm Numba cache (after noisegen warmup)", [warm] * n_warm))
    for r in records:
        cfg.log(f"  startup {r['params']['what']:<56} {r['quality'].get('seconds')}")
    return records
