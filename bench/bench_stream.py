"""The streaming generator end to end: read, augment, chunk (one core).

The speech in ``data/speech`` (8.8 s, 4 files at 16 kHz) is listed 7 times
(61.6 s), read, augmented per utterance with the default training pipeline
and cut into 2 s chunks:

- background noise from ``data/noise`` at 0-20 dB SNR (p=1),
- a room impulse response from ``data/rir`` (p=0.5),
- one of speed perturbation (0.9/1.0/1.1), time stretch (0.8-1.25) and pitch
  shift (+-4 semitones) (p=0.5),
- gain of -6..6 dB (p=1).

The same pipeline built from audiomentations (soundfile reads, python chunk
cutting; speed perturbation, which audiomentations lacks, by soxr) is timed
in the same run. xRT = seconds of audio out per wall-clock second. A third
record is the peak RSS of a 2-worker ``torch.utils.data.DataLoader`` run over
the same stream (main process and workers), when torch is installed.

Run alone: ``python -m bench --only stream --no-cold`` or
``python -m bench.bench_stream``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SR = 16000
LOOPS = 7
CHUNK_S = 2.0


def _paths():
    speech = sorted(str(p) for p in (DATA / "speech").glob("*.wav"))
    return speech * LOOPS


def noisegen_pipeline():
    from noisegen import (AddBackgroundNoise, ApplyImpulseResponse, Compose, Gain, OneOf, PitchShift, SpeedPerturb,
                          TimeStretch)

    return Compose([
        AddBackgroundNoise(DATA / "noise", min_snr_db=0.0, max_snr_db=20.0, p=1.0),
        ApplyImpulseResponse(DATA / "rir", p=0.5),
        OneOf([SpeedPerturb(factors=(0.9, 1.0, 1.1), p=1.0), TimeStretch(min_rate=0.8, max_rate=1.25, p=1.0),
               PitchShift(min_semitones=-4.0, max_semitones=4.0, p=1.0)], p=0.5),
        Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0),
    ])


def run_noisegen(pipeline, rng=0):
    """One pass of the stream; returns (seconds of audio out, wall seconds).

    The pipeline (noise bank and RIRs loaded once) is built outside the timed
    region, as a training job does once; the stream itself is built inside.
    """
    from noisegen import AugmentStream

    t0 = time.perf_counter()
    stream = AugmentStream(_paths(), pipeline, sample_rate=SR, chunk_s=CHUNK_S, rng=rng)
    n = sum(chunk.length for chunk in stream)
    return n / SR, time.perf_counter() - t0


class _SoxrSpeed:
    """Kaldi-style speed perturbation for an audiomentations OneOf (it has none)."""

    def __init__(self, factors=(0.9, 1.0, 1.1)):
        self.factors = factors

    def __call__(self, samples, sample_rate):
        import random

        import soxr

        factor = random.choice(self.factors)
        if factor == 1.0:
            return samples
        return soxr.resample(samples, sample_rate, sample_rate / factor).astype(samples.dtype, copy=False)


def audiomentations_pipeline():
    import audiomentations as am

    return am.Compose([
        am.AddBackgroundNoise(sounds_path=str(DATA / "noise"), min_snr_db=0.0, max_snr_db=20.0, p=1.0),
        am.ApplyImpulseResponse(ir_path=str(DATA / "rir"), p=0.5),
        am.OneOf([_SoxrSpeed(), am.TimeStretch(min_rate=0.8, max_rate=1.25, leave_length_unchanged=False, p=1.0),
                  am.PitchShift(min_semitones=-4.0, max_semitones=4.0, p=1.0)], p=0.5),
        am.Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0),
    ])


def run_audiomentations(pipeline, seed=0):
    import random

    import numpy as np
    import soundfile as sf

    random.seed(seed)
    np.random.seed(seed)
    t0 = time.perf_counter()
    size = int(round(CHUNK_S * SR))
    n = 0
    paths = _paths()
    order = np.random.permutation(len(paths))
    for i in order:
        y, sr = sf.read(paths[i], dtype="float32")
        out = pipeline(samples=y, sample_rate=sr)
        for start in range(0, max(len(out), 1), size):
            chunk = np.zeros(size, dtype=np.float32)
            piece = out[start:start + size]
            chunk[: len(piece)] = piece
            n += len(piece)
    return n / SR, time.perf_counter() - t0


_RSS_SNIPPET = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
from noisegen.torch import AugmentDataset, collate
from bench.bench_stream import _paths, noisegen_pipeline, SR, CHUNK_S
from noisegen import AugmentStream
stream = AugmentStream(_paths(), noisegen_pipeline(), sample_rate=SR, chunk_s=CHUNK_S, rng=0, epochs=3)
loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=8, collate_fn=collate, num_workers=2)
t0 = time.perf_counter()
n = sum(int(b["lengths"].sum()) for b in loader)
dt = time.perf_counter() - t0
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("RSS" + json.dumps({{"audio_s": n / SR, "wall_s": dt, "main_mb": self_kb / 1024, "worker_mb": child_kb / 1024}}))
"""


def peak_rss_two_workers():
    """Peak RSS (MiB) of the main process and of the largest worker, or None without torch."""
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return None
    except ImportError:
        return None
    proc = subprocess.run([sys.executable, "-c", _RSS_SNIPPET.format(root=str(ROOT))], capture_output=True,
                          text=True, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("RSS"):
            return json.loads(line[3:])
    raise RuntimeError(proc.stderr[-2000:])


def cases(cfg):
    return []


def input_seconds():
    import soundfile as sf

    return sum(sf.info(p).frames for p in _paths()) / SR


def _rec(variant, library, times=None, note="", quality=None, op="stream"):
    """A harness record; xRT counts the input audio (61.6 s) per wall second."""
    import numpy as np

    audio_s = input_seconds()
    rec = {"op": op, "params": {"pipeline": "default", "chunk_s": CHUNK_S}, "library": library,
           "variant": variant, "clip_s": round(audio_s, 1), "xrt": None, "median_s": None, "iqr_s": None,
           "repeats": None, "number": 1, "first_call_s": None, "compile_s": None, "quality": quality or {},
           "like_for_like": True, "status": "ok", "note": note}
    if times:
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        rec.update(xrt=audio_s / med, median_s=float(med), iqr_s=float(q3 - q1), repeats=len(times))
    return rec


def measure(repeats=5, log=print):
    """Time noisegen's stream and the audiomentations loop; peak RSS with 2 workers."""
    import warnings

    records = []
    audio_s = input_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        pipeline = noisegen_pipeline()
        setup_s = time.perf_counter() - t0
        _, first_s = run_noisegen(pipeline)  # compile/load caches
        ng = [run_noisegen(pipeline, rng=i)[1] for i in range(repeats)]
        rec = _rec("noisegen AugmentStream", "noisegen", ng,
                   note=f"pipeline set-up {setup_s:.2f} s; first pass (compile/cache load) {first_s:.2f} s")
        records.append(rec)
        log(f"  stream noisegen        {audio_s:.1f} s audio in, median {rec['median_s'] * 1e3:.1f} ms  "
            f"xRT {rec['xrt']:,.0f}")
        try:
            pipe = audiomentations_pipeline()
            run_audiomentations(pipe)
            am = [run_audiomentations(pipe, seed=i)[1] for i in range(repeats)]
            arec = _rec("audiomentations Compose + soundfile", "audiomentations", am,
                        note="speed perturbation via soxr (audiomentations has none)")
            records.append(arec)
            log(f"  stream audiomentations {audio_s:.1f} s audio in, median {arec['median_s'] * 1e3:.1f} ms  "
                f"xRT {arec['xrt']:,.0f}  (noisegen / audiomentations = {rec['xrt'] / arec['xrt']:.1f}x)")
        except ImportError as exc:
            log(f"  audiomentations not installed: {exc}")
    rss = peak_rss_two_workers()
    if rss is not None:
        records.append(_rec("noisegen AugmentStream, DataLoader num_workers=2 (3 epochs)", "noisegen", None,
                            op="stream_peak_rss",
                            note=f"peak RSS main {rss['main_mb']:.0f} MiB, largest worker {rss['worker_mb']:.0f} MiB",
                            quality={"peak_rss_main_mib": rss["main_mb"], "peak_rss_worker_mib": rss["worker_mb"]}))
        log(f"  2-worker DataLoader: peak RSS main {rss['main_mb']:.0f} MiB, largest worker {rss['worker_mb']:.0f} MiB "
            f"({rss['audio_s']:.0f} s audio out in {rss['wall_s']:.2f} s incl. worker start-up)")
    return records


def extra(cfg):
    return measure(repeats=3 if cfg.quick else 7, log=cfg.log)


if __name__ == "__main__":
    os.environ.setdefault("NOISEGEN_BENCH_THREADS", "1")
    from bench import _harness  # noqa: F401  (pins thread pools before numpy)

    measure()
