"""Interleaved A/B timing of speed, time_stretch and pitch_shift between two source trees.

Each tree runs in its own process (``PYTHONPATH`` set to it), the two
alternated ``--rounds`` times; each process times every case (median of
``--repeats`` calls after a warm-up) and the report takes the median over
rounds, per-call microseconds::

    python bench/timescale_ab.py /tmp/orig /work/wt-tscale --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

CASES = [
    # name, sample rate, seconds
    ("pitch_shift +2", 16000, 1.0),
    ("pitch_shift -2", 16000, 1.0),
    ("pitch_shift rand", 16000, 1.0),
    ("time_stretch 1.1", 16000, 1.0),
    ("time_stretch 0.9", 16000, 1.0),
    ("time_stretch rand", 16000, 1.0),
    ("speed 1.1", 16000, 1.0),
    ("speed 0.9", 16000, 1.0),
    ("speed new", 16000, 1.0),
    ("PitchShift", 16000, 1.0),
    ("TimeStretch", 16000, 1.0),
    ("SpeedPerturb", 16000, 1.0),
    ("pitch_shift rand", 8000, 1.0),
    ("time_stretch rand", 8000, 1.0),
    ("pitch_shift rand", 48000, 1.0),
    ("time_stretch rand", 48000, 1.0),
    ("pitch_shift rand", 16000, 4.0),
    ("time_stretch rand", 16000, 4.0),
    ("speed 1.1", 16000, 4.0),
]


def _child(repeats):
    import noisegen

    g = np.random.default_rng(0)
    results = {}
    for name, sr, sec in CASES:
        n = int(sr * sec)
        y = (0.3 * np.sin(np.arange(n) * 0.07) + 0.05 * g.standard_normal(n)).astype(np.float32)
        draws = np.random.default_rng(1)
        new_factor = iter(0.85 + 0.3 * draws.random(10 * repeats + 20))
        if name == "pitch_shift +2":
            call = lambda: noisegen.pitch_shift(y, sample_rate=sr, n_steps=2.0)
        elif name == "pitch_shift -2":
            call = lambda: noisegen.pitch_shift(y, sample_rate=sr, n_steps=-2.0)
        elif name == "pitch_shift rand":
            call = lambda: noisegen.pitch_shift(y, sample_rate=sr, n_steps=draws.uniform(-4, 4))
        elif name == "time_stretch 1.1":
            call = lambda: noisegen.time_stretch(y, rate=1.1, sample_rate=sr)
        elif name == "time_stretch 0.9":
            call = lambda: noisegen.time_stretch(y, rate=0.9, sample_rate=sr)
        elif name == "time_stretch rand":
            call = lambda: noisegen.time_stretch(y, rate=draws.uniform(0.8, 1.25), sample_rate=sr)
        elif name == "speed 1.1":
            call = lambda: noisegen.speed(y, factor=1.1, sample_rate=sr)
        elif name == "speed 0.9":
            call = lambda: noisegen.speed(y, factor=0.9, sample_rate=sr)
        elif name == "speed new":
            call = lambda: noisegen.speed(y, factor=float(next(new_factor)), sample_rate=sr)
        else:
            t = getattr(noisegen, name)(p=1.0)
            call = lambda t=t: t(y, sample_rate=sr, rng=draws)
        for _ in range(300 if "rand" in name or name[0].isupper() else 3):
            call()  # random shifts and the transforms: every cut-off cell of the range designed once
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        results[f"{name} @{sr // 1000}k {sec:g}s"] = (float(np.median(times)) * 1e6,
                                                     float(np.percentile(times, 10)) * 1e6)
    print(json.dumps(results))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    runs = {t: [] for t in args.trees}
    for r in range(args.rounds):
        for tree in args.trees if r % 2 == 0 else args.trees[::-1]:
            cache = "/tmp/nb-ab" + tree.replace("/", "_")
            env = dict(os.environ, PYTHONPATH=tree, NUMBA_CACHE_DIR=cache)
            res = subprocess.run([sys.executable, __file__, "--child", str(args.repeats)], env=env, cwd="/tmp",
                                 capture_output=True, text=True, check=True)
            runs[tree].append(json.loads(res.stdout.strip().splitlines()[-1]))
    a, b = args.trees
    print("per-call us: median over rounds of each process's median (and of its 10th percentile)")
    print(f"{'case':30s} {'A med':>8s} {'B med':>8s} {'B/A':>5s}   {'A p10':>8s} {'B p10':>8s} {'B/A':>5s}")
    for key in runs[a][0]:
        ma, pa = (float(np.median([r[key][i] for r in runs[a]])) for i in (0, 1))
        mb, pb = (float(np.median([r[key][i] for r in runs[b]])) for i in (0, 1))
        print(f"{key:30s} {ma:8.1f} {mb:8.1f} {mb / ma:5.2f}   {pa:8.1f} {pb:8.1f} {pb / pa:5.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
    else:
        main()
