"""The command line: ``noisegen augment`` over the bundled ``data/speech``.

Runs ``python -m noisegen augment data/speech OUT --noise-dir data/noise
--rir-dir data/rir --seed 0`` in a fresh process (so it includes start-up and
the Numba cache load) and reports wall time and xRT = seconds of input audio
per wall-clock second, for ``--copies 1`` and ``--copies 4``. Skips cleanly
while ``noisegen augment`` has not landed.
"""

from __future__ import annotations

import sys
import tempfile
import time

from bench._harness import DATA, ROOT, _clean, corpus, run_child


def cases(cfg):
    return []


def _record(params, seconds, xrt, status, note, quality=None):
    return _clean({"op": "cli_augment", "params": params, "library": "noisegen", "variant": "noisegen augment",
                   "clip_s": None, "xrt": xrt, "median_s": seconds, "iqr_s": None, "repeats": 1, "number": 1,
                   "first_call_s": seconds, "compile_s": None, "quality": {"seconds": seconds, **(quality or {})},
                   "like_for_like": True, "status": status, "note": note})


def extra(cfg):
    help_run = run_child([sys.executable, "-m", "noisegen", "augment", "--help"], cwd=str(ROOT))
    if help_run.returncode != 0 or "unavailable" in help_run.stdout + help_run.stderr:
        cfg.log("  skip noisegen augment: not available")
        return [_record({"copies": 1}, None, None, "not available", "noisegen augment has not landed")]
    audio_s = len(corpus("speech")) / 16000.0
    records = []
    for copies in (1,) if cfg.quick else (1, 4):
        with tempfile.TemporaryDirectory(prefix="ngbench-cli-") as out:
            cmd = [sys.executable, "-m", "noisegen", "augment", str(DATA / "speech"), out + "/aug",
                   "--noise-dir", str(DATA / "noise"), "--rir-dir", str(DATA / "rir"), "--seed", "0",
                   "--copies", str(copies), "--workers", "1"]
            t0 = time.perf_counter()
            res = run_child(cmd, cwd=str(ROOT))
            dt = time.perf_counter() - t0
        params = {"copies": copies, "input_s": round(audio_s, 2)}
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["no message"])[-1]
            records.append(_record(params, dt, None, "error", f"exit status {res.returncode}: {last}"))
        else:
            records.append(_record(params, dt, audio_s * copies / dt, "ok",
                                   f"{len(list((DATA / 'speech').iterdir()))} files x {copies} copies, one worker, "
                                   "fresh process"))
        cfg.log(f"  cli    augment copies={copies}: {dt:.2f} s")
    return records
