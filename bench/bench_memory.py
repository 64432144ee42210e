"""Peak memory against file length: ``noisegen augment`` and ``AugmentStream`` on 1, 10 and 60 minutes.

Each measurement runs in a fresh process (started through a small wrapper
that reports the child's peak resident set size, ``ru_maxrss`` of
``RUSAGE_CHILDREN``), over a generated 16 kHz mono PCM_16 WAV of speech-like
noise (written block by block, so making it costs no memory here):

- ``augment default``: ``noisegen augment IN OUT --noise-dir data/noise
  --rir-dir data/rir --seed 0 --workers 1`` (the default pipeline);
- ``augment webdataset``: the same with ``--output-format webdataset`` (tar shards);
- ``augment config``: the same with ``--config`` of RIR + pitch shift + time
  stretch + background noise, each with ``p=1``;
- ``stream``: ``AugmentStream(IN, default_pipeline(noise_dir, rir_dir),
  sample_rate=16000, chunk_s=1)``, every chunk consumed.

The figure of merit is the ratio of the 60-minute peak to the 1-minute peak
(bounded memory: close to 1). Run on its own with ``python -m bench --only
memory`` (``--quick``: 1 and 10 minutes), or ``python -m bench.bench_memory
[MINUTES ...]``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

from bench._harness import DATA, ROOT, _clean, run_child

SR = 16000

#: The ``--config`` of the second augment measurement: RIR + pitch + stretch + noise.
CONFIG = [
    {"name": "ApplyImpulseResponse", "rir": str(DATA / "rir"), "p": 1.0},
    {"name": "PitchShift", "min_semitones": -3.0, "max_semitones": 3.0, "p": 1.0},
    {"name": "TimeStretch", "min_rate": 0.85, "max_rate": 1.15, "p": 1.0},
    {"name": "AddBackgroundNoise", "noise": str(DATA / "noise"), "min_snr_db": 5.0, "max_snr_db": 20.0, "p": 1.0},
]

_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(r.returncode)")

_STREAM = """
import sys, noisegen
from noisegen.batch import default_pipeline
pipe = default_pipeline(noise_dir=sys.argv[2], rir_dir=sys.argv[3])
n = 0
for chunk in noisegen.AugmentStream([sys.argv[1]], pipe, sample_rate=16000, chunk_s=1.0, rng=0, shuffle=False):
    n += chunk.length
print('SAMPLES', n)
"""


def make_wav(path: str, minutes: float, block_s: float = 30.0) -> str:
    """A ``minutes``-long 16 kHz mono PCM_16 WAV of amplitude-modulated noise, written in blocks."""
    import soundfile as sf

    n = int(round(minutes * 60 * SR))
    rng = np.random.default_rng(0)
    step = int(block_s * SR)
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        for a in range(0, n, step):
            t = np.arange(a, min(a + step, n)) / SR
            env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2  # syllable-rate envelope
            f.write((0.2 * env * rng.standard_normal(t.shape[0])).astype(np.float32))
    return path


def peak_rss_mb(cmd: list, cwd: str = str(ROOT)) -> tuple[float | None, float, str, str]:
    """(peak RSS of ``cmd``'s process tree in MB, wall seconds, last stderr line, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    res = run_child([sys.executable, "-c", _WRAPPER, *cmd], cwd=cwd, env=env)
    dt = time.perf_counter() - t0
    rss = None
    for line in res.stderr.splitlines():
        if line.startswith("MAXRSS_KB"):
            rss = int(line.split()[1]) / 1024.0
    tail = "" if res.returncode == 0 else (res.stderr.strip().splitlines() or ["?"])[-2 if rss else -1]
    return (rss if res.returncode == 0 else None), dt, tail, res.stdout


def measure(what: str, wav: str, work: str) -> tuple[float | None, float, str, float]:
    """(peak RSS MB, seconds, error line, seconds of audio produced) of one kind of run
    (``what``: augment-default, augment-webdataset, augment-config, stream) over ``wav``."""
    in_dir = os.path.dirname(wav)
    out_dir = os.path.join(work, f"out-{what}-{os.path.basename(in_dir)}")
    base = [sys.executable, "-m", "noisegen", "augment", in_dir, out_dir, "--seed", "0", "--workers", "1",
            "--overwrite"]
    if what == "augment-default":
        cmd = base + ["--noise-dir", str(DATA / "noise"), "--rir-dir", str(DATA / "rir")]
    elif what == "augment-webdataset":
        cmd = base + ["--noise-dir", str(DATA / "noise"), "--rir-dir", str(DATA / "rir"), "--output-format", "webdataset"]
    elif what == "augment-config":
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump(CONFIG, f)
        cmd = base + ["--config", config]
    else:
        cmd = [sys.executable, "-c", _STREAM, wav, str(DATA / "noise"), str(DATA / "rir")]
    rss, dt, tail, out = peak_rss_mb(cmd)
    if what == "stream":
        produced = sum(int(l.split()[1]) for l in out.splitlines() if l.startswith("SAMPLES")) / SR
    else:
        manifest = os.path.join(out_dir, "manifest.jsonl")
        lines = [json.loads(l) for l in open(manifest)] if os.path.exists(manifest) else []
        produced = sum(l["duration_s"] for l in lines)
    return rss, dt, tail, produced


def run(minutes=(1, 10, 60), whats=("augment-default", "augment-webdataset", "augment-config", "stream"),
        log=print) -> list:
    """Records of every (what, minutes); the WAVs live in a temporary folder."""
    records = []
    with tempfile.TemporaryDirectory(prefix="ngbench-mem-") as work:
        wavs = {}
        for m in minutes:
            folder = os.path.join(work, f"in{m}")
            os.makedirs(folder)
            wavs[m] = make_wav(os.path.join(folder, f"long{m}.wav"), m)
        for what in whats:
            base = None
            for i, m in enumerate(minutes):
                rss, dt, tail, produced = measure(what, wavs[m], work)
                base = rss if i == 0 else base  # the first length's peak, or none when that run failed
                ratio = None if rss is None or base is None else rss / base
                log(f"  memory {what:16s} {m:>3} min: peak RSS {rss if rss is None else round(rss, 1)} MB, "
                    f"x{ratio if ratio is None else round(ratio, 3)} of {minutes[0]} min, {dt:.1f} s, "
                    f"{produced / 60:.2f} min out {tail}")
                records.append(_clean({
                    "op": "peak_rss", "params": {"what": f"{what} {m} min"}, "library": "noisegen",
                    "variant": what, "clip_s": None, "xrt": None if rss is None else m * 60.0 / dt,
                    "median_s": dt, "iqr_s": None, "repeats": 1, "number": 1, "first_call_s": dt, "compile_s": None,
                    "quality": {"seconds": dt, "rss_mb": rss, "rss_ratio": ratio, "output_min": produced / 60},
                    "like_for_like": True, "status": "ok" if rss is not None else "error",
                    "note": (tail if rss is None else f"peak RSS {rss:.0f} MB, " + (
                        f"{ratio:.2f}x the {minutes[0]}-minute file" if ratio is not None
                        else f"no ratio: the {minutes[0]}-minute run failed"))}))
    return records


def cases(cfg):
    return []


def extra(cfg):
    return run((1, 10) if cfg.quick else (1, 10, 60), log=cfg.log)


if __name__ == "__main__":
    mins = tuple(float(a) if "." in a else int(a) for a in sys.argv[1:]) or (1, 10, 60)
    for rec in run(mins):
        print(rec["variant"], rec["params"]["what"], rec["quality"])
