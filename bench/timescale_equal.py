"""Bit-equality check of speed, time_stretch, pitch_shift and resample (and their transforms) across two trees.

Saves every output on a fixed grid from whichever ``noisegen`` is imported,
then compares two such saves sample for sample (``np.array_equal``, NaN-free)::

    mkdir /tmp/orig && git archive 0389e58 | tar -x -C /tmp/orig    # the tree to compare against
    NUMBA_CACHE_DIR=/tmp/nb-ref PYTHONPATH=/tmp/orig python $TREE/bench/timescale_equal.py save /tmp/ref.npz
    NUMBA_CACHE_DIR=/tmp/nb-new PYTHONPATH=$TREE     python $TREE/bench/timescale_equal.py save /tmp/new.npz
    python $TREE/bench/timescale_equal.py compare /tmp/ref.npz /tmp/new.npz   # exit status 1 on any difference

(``$TREE``: the tree under test; run from outside it, e.g. in ``/tmp``, so that ``PYTHONPATH`` picks the tree).

Grid: float32 and float64, mono and stereo, lengths 1..40 and 15999, 16000,
16001, 64000 (16 kHz; 8, 22.05, 44.1 and 48 kHz on a subset); n_steps on a
grid of [-4, 4] with random non-integer values; rates in [0.8, 1.25]; speed
factors 0.9, 1.1 and new ones; guides; the PitchShift/TimeStretch/SpeedPerturb
transforms (with paired targets) and the streaming forms; resample and
Resampler over twelve rate pairs; the plans (tables) of random pitch shifts;
the errors raised for NaN, inf, bad guides and overflow.
"""

from __future__ import annotations

import sys

import numpy as np


def _signals(n, dtype, channels, seed):
    g = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * g.standard_normal(n)
    y = mono if channels == 1 else np.stack([mono, 0.5 * mono + 0.1 * g.standard_normal(n)])
    return y.astype(dtype)


def _grid():
    g = np.random.default_rng(1234)
    steps = [-4.0, -3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, 4.0] + list(np.round(g.uniform(-4, 4, 6), 6)) + list(
        g.uniform(-4, 4, 4))
    rates = [0.8, 0.9, 1.0, 1.1, 1.25] + list(g.uniform(0.8, 1.25, 6))
    factors = [0.9, 1.1, 0.95, 1.05] + list(g.uniform(0.85, 1.15, 3))
    return steps, rates, factors


def save(path):
    import noisegen
    from noisegen.effects.timescale_stream import PitchShiftStream, WsolaStream

    print("noisegen from", noisegen.__file__, file=sys.stderr)
    steps, rates, factors = _grid()
    out = {}
    cases = []
    for dtype in (np.float32, np.float64):
        for channels in (1, 2):
            for n in list(range(1, 41)) + [15999, 16000, 16001, 64000]:
                cases.append((16000, dtype, channels, n))
            for sr in (8000, 22050, 44100, 48000):
                for n in (1, 7, 33, sr - 1, sr):
                    cases.append((sr, dtype, channels, n))
            cases.append((16000, dtype, channels, 0))
    for sr, dtype, channels, n in cases:
        y = _signals(n, dtype, channels, n + channels)
        gd = _signals(n, dtype, channels, n + 99)
        key = f"{sr}_{np.dtype(dtype).name}_{channels}_{n}"
        long = n >= 15999
        sub = (lambda v: v) if not long or n == 16000 else (lambda v: v[::3])
        for s in sub(steps):
            out[f"ps_{key}_{s!r}"] = noisegen.pitch_shift(y, sample_rate=sr, n_steps=s)
        for s in (steps[3], steps[6], steps[-1]):
            out[f"psg_{key}_{s!r}"] = noisegen.pitch_shift(y, sample_rate=sr, n_steps=s, guide=gd)
        for r in sub(rates):
            out[f"ts_{key}_{r!r}"] = noisegen.time_stretch(y, rate=r, sample_rate=sr)
        for r in (rates[0], rates[-1]):
            out[f"tsg_{key}_{r!r}"] = noisegen.time_stretch(y, rate=r, sample_rate=sr, guide=gd)
        for f in factors:
            out[f"sp_{key}_{f!r}"] = noisegen.speed(y, factor=f, sample_rate=sr)
    # Scaled far from 1 (the power-of-two path) and a few bins_per_octave.
    y = _signals(16000, np.float32, 1, 5)
    for scale in (1e-30, 1e30):
        out[f"ps_scaled_{scale}"] = noisegen.pitch_shift(y * np.float32(scale), sample_rate=16000, n_steps=2.5)
        out[f"ts_scaled_{scale}"] = noisegen.time_stretch(y * np.float32(scale), rate=1.1, sample_rate=16000)
    out["ps_bpo24"] = noisegen.pitch_shift(y, sample_rate=16000, n_steps=5, bins_per_octave=24)
    # Transforms, seeded, with paired targets (target: the noisy input's own copy, spliced by its guide).
    for cls in (noisegen.PitchShift, noisegen.TimeStretch, noisegen.SpeedPerturb):
        t = cls(p=1.0)
        for seed in range(8):
            for channels in (1, 2):
                y = _signals(16000, np.float32, channels, seed)
                out[f"tr_{cls.__name__}_{seed}_{channels}"] = t(y, sample_rate=16000, rng=seed)
                noisy, target = t(y, sample_rate=16000, rng=seed, return_target="clean")
                out[f"trt_{cls.__name__}_{seed}_{channels}"] = np.stack([noisy, target])
    # Streams: block by block.
    for dtype in (np.float32, np.float64):
        y = _signals(16001, dtype, 2, 3)
        for s in (-3.3, 2.0, 3.7):
            ps = PitchShiftStream(16001, s, 16000, dtype)
            parts = [ps.process(y[:, i : i + 3001]) for i in range(0, 16001, 3001)] + [ps.flush()]
            out[f"pss_{np.dtype(dtype).name}_{s}"] = np.concatenate(parts, axis=-1)
        for r in (0.83, 1.2):
            ws = WsolaStream(16001, round(16001 / r), 16000, dtype)
            parts = [ws.process(y[:, i : i + 2999]) for i in range(0, 16001, 2999)] + [ws.flush()]
            out[f"wss_{np.dtype(dtype).name}_{r}"] = np.concatenate(parts, axis=-1)
    # The resampler itself (its rational kernel is shared with speed and pitch_shift), one shot and streamed.
    pairs = [(44100, 16000), (16000, 44100), (22050, 16000), (48000, 44100), (8000, 11025), (16000, 12000),
             (32000, 16000), (16000, 8000), (12345, 16000), (16000, 48000), (16000, 15999), (11025, 16000)]
    for orig, target in pairs:
        for dtype in (np.float32, np.float64):
            for channels in (1, 2):
                for n in (1, 7, 100, 999, 16000, 44101):
                    y = _signals(n, dtype, channels, n + orig)
                    out[f"rs_{orig}_{target}_{np.dtype(dtype).name}_{channels}_{n}"] = noisegen.resample(
                        y, orig_sample_rate=orig, target_sample_rate=target)
            r = noisegen.Resampler(orig_sample_rate=orig, target_sample_rate=target)
            y = _signals(20000, dtype, 2, 5)
            parts = [r.process(y[:, i : i + 1777]) for i in range(0, 20000, 1777)] + [r.flush()]
            out[f"rss_{orig}_{target}_{np.dtype(dtype).name}"] = np.concatenate(parts, axis=-1)
    # Errors: the same exception and message for bad input (NaN, inf, bad guides, overflow, order).
    bad = _signals(1000, np.float32, 2, 1)
    nan, inf = bad.copy(), bad.copy()
    nan[1, 500] = np.nan
    inf[0, 3] = -np.inf
    big = np.full(3000, 3e38, np.float32)
    loud = (np.sign(np.random.default_rng(2).standard_normal(3000)) * 3.4e38).astype(np.float32)
    calls = {
        "ts_loud": lambda: noisegen.time_stretch(loud, rate=0.77, sample_rate=16000),
        "ps_loud_up": lambda: noisegen.pitch_shift(loud, sample_rate=16000, n_steps=3),
        "ps_loud_down": lambda: noisegen.pitch_shift(loud, sample_rate=16000, n_steps=-3),
        "sp_loud": lambda: noisegen.speed(loud, factor=1.1, sample_rate=16000),
        "ts_nan": lambda: noisegen.time_stretch(nan, rate=1.1, sample_rate=16000),
        "ts_inf_badrate": lambda: noisegen.time_stretch(inf, rate=-1, sample_rate=16000),
        "ts_nan_rate1": lambda: noisegen.time_stretch(nan, rate=1.0, sample_rate=16000),
        "ts_guide_nan": lambda: noisegen.time_stretch(bad, rate=1.1, sample_rate=16000, guide=nan),
        "ts_guide_inf_len": lambda: noisegen.time_stretch(bad, rate=1.1, sample_rate=16000, guide=inf[:, :5]),
        "ts_guide_len": lambda: noisegen.time_stretch(bad, rate=1.1, sample_rate=16000, guide=bad[:, :5]),
        "ts_guide_pv": lambda: noisegen.time_stretch(bad, rate=1.1, sample_rate=16000, guide=bad,
                                                     method="phase_vocoder"),
        "ts_big": lambda: noisegen.time_stretch(big, rate=0.7, sample_rate=16000),
        "ts_big_pv": lambda: noisegen.time_stretch(big, rate=0.7, sample_rate=16000, method="phase_vocoder"),
        "ps_nan": lambda: noisegen.pitch_shift(nan, sample_rate=16000, n_steps=2),
        "ps_nan_0": lambda: noisegen.pitch_shift(nan, sample_rate=16000, n_steps=0),
        "ps_inf_badsteps": lambda: noisegen.pitch_shift(inf, sample_rate=16000, n_steps=1e9),
        "ps_guide_nan": lambda: noisegen.pitch_shift(bad, sample_rate=16000, n_steps=-2, guide=nan),
        "ps_big_up": lambda: noisegen.pitch_shift(big, sample_rate=16000, n_steps=3),
        "ps_big_down": lambda: noisegen.pitch_shift(big, sample_rate=16000, n_steps=-3),
        "sp_nan": lambda: noisegen.speed(nan, factor=1.1, sample_rate=16000),
        "sp_nan_1": lambda: noisegen.speed(nan, factor=1.0, sample_rate=16000),
        "sp_big": lambda: noisegen.speed(big, factor=1.1, sample_rate=16000),
        "tr_nan": lambda: noisegen.PitchShift(p=1.0)(nan, sample_rate=16000, rng=0),
    }
    for name, call in calls.items():
        try:
            result = call()
            out[f"err_{name}"] = np.asarray(result)
        except Exception as exc:  # noqa: BLE001 - the message is what is compared
            out[f"err_{name}"] = np.array(f"{type(exc).__name__}: {exc}")
    # Plans of random pitch shifts (the blended tables), 1 s and 4 s, both dtypes.
    from noisegen._design.ratios import exact_ratio, near_ratio
    from noisegen._design.resample import Plan

    for i, s in enumerate(np.random.default_rng(7).uniform(-4, 4, 60)):
        r = 2.0 ** (float(s) / 12)
        for n in (16000, 64000, 48000 * 4):
            ratio = near_ratio(1 / exact_ratio(r), max(1, round(n / r)) if r > 1 else n)
            if isinstance(ratio, float):
                continue
            for dtype in (np.float32, np.float64):
                plan = Plan(ratio, dtype)
                out[f"plan_{i}_{n}_{np.dtype(dtype).name}_table"] = plan.table
                out[f"plan_{i}_{n}_{np.dtype(dtype).name}_padded"] = plan.padded
    np.savez(path, **{k: np.asarray(v) for k, v in out.items()})
    print(f"saved {len(out)} outputs to {path}", file=sys.stderr)


def compare(a, b):
    ra, rb = np.load(a), np.load(b)
    ka, kb = set(ra.files), set(rb.files)
    bad = sorted(k for k in ka & kb if not (ra[k].dtype == rb[k].dtype and np.array_equal(ra[k], rb[k])))
    missing = sorted(ka ^ kb)
    print(f"{len(ka & kb)} outputs compared, {len(bad)} differ, {len(missing)} missing on one side")
    for k in bad[:20]:
        print("  differs:", k)
    for k in missing[:20]:
        print("  missing:", k)
    return 1 if bad or missing else 0


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
