"""``noisegen augment --engine ray`` beside ``--workers N``, and the fixed cost of starting Ray.

Standalone (Ray's start-up is seconds, too dear for every ``python -m bench``)::

    python -m bench.bench_ray [--workers 2] [--copies 2] [--dirs 6]

One run times, each in a fresh ``noisegen augment`` process on the same input
(``data/speech`` copied into ``--dirs`` folders) with the default pipeline
(``--noise-dir data/noise --rir-dir data/rir``):

- ``--workers N`` (local processes);
- ``--engine ray`` starting its own local Ray instance (includes Ray's start-up);
- ``--engine ray --ray-address`` joining a Ray instance with N CPUs started
  beforehand by this script (the steady state of a cluster that is already up).

and, in this process, the fixed cost of Ray: ``import ray``, ``ray.init`` of a
local instance, the first task round trip and ``ray.shutdown``. Outputs are
checked byte-identical across the three runs (manifests
compared as sets of lines: ``--workers N`` writes them in completion order). Prints a Markdown table; xRT is
seconds of output audio per wall-clock second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import DATA, ROOT, run_child


def cases(cfg):
    return []


def _inputs(folder: Path, dirs: int) -> float:
    """``data/speech`` copied into ``dirs`` sub-folders; returns the seconds of audio."""
    import soundfile as sf

    for d in range(dirs):
        shutil.copytree(DATA / "speech", folder / f"d{d}")
    return sum(sf.info(p).duration for p in folder.rglob("*.wav"))


def _augment(in_dir, out_dir, copies, *extra) -> float:
    cmd = [sys.executable, "-m", "noisegen", "augment", str(in_dir), str(out_dir), "--noise-dir", str(DATA / "noise"),
           "--rir-dir", str(DATA / "rir"), "--seed", "0", "--copies", str(copies), "--no-progress", *map(str, extra)]
    t0 = time.perf_counter()
    res = run_child(cmd, cwd=str(ROOT), env=_env())
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _lines(folder: Path) -> list:
    return sorted((folder / "manifest.jsonl").read_text().splitlines())


def _outputs(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.wav"))}


_FIXED = """
import json, time
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(num_cpus={n}, include_dashboard=False, log_to_driver=False)
t2 = time.perf_counter()
ray.get(ray.remote(lambda: 0).remote())
t3 = time.perf_counter()
ray.shutdown()
t4 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "init": t2 - t1, "first task": t3 - t2, "shutdown": t4 - t3}}))
"""


def ray_fixed_cost(num_cpus: int) -> dict:
    """Seconds for ``import ray``, ``ray.init`` (local), the first task and ``ray.shutdown``, in a fresh process."""
    import json

    res = run_child([sys.executable, "-c", _FIXED.format(n=int(num_cpus))])
    if res.returncode != 0:
        raise RuntimeError(f"the fixed-task Ray run failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(workers=2, copies=2, dirs=24, log=print) -> dict:
    import ray

    fixed = ray_fixed_cost(workers)
    log(f"ray fixed cost: {', '.join(f'{k} {v:.2f} s' for k, v in fixed.items())}")
    with tempfile.TemporaryDirectory(prefix="ngbench-ray-") as tmp:
        tmp = Path(tmp)
        audio_s = _inputs(tmp / "in", dirs) * copies
        times = {f"--workers {workers}": _augment(tmp / "in", tmp / "local", copies, "--workers", workers)}
        log(f"--workers {workers}: {times[f'--workers {workers}']:.2f} s")
        times["--engine ray (starts Ray)"] = _augment(tmp / "in", tmp / "ray", copies, "--engine", "ray")
        log(f"--engine ray: {times['--engine ray (starts Ray)']:.2f} s")
        os.environ["PYTHONPATH"] = _env()["PYTHONPATH"]  # Ray's workers inherit it
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        try:
            address = ray.get_runtime_context().gcs_address
            times["--engine ray --ray-address (Ray up)"] = _augment(tmp / "in", tmp / "joined", copies, "--engine",
                                                                     "ray", "--ray-address", address)
        finally:
            ray.shutdown()
        log(f"--engine ray --ray-address: {times['--engine ray --ray-address (Ray up)']:.2f} s")
        # --workers N writes manifest lines as inputs finish; Ray in plan order (that of --workers 1)
        reference = _outputs(tmp / "local"), _lines(tmp / "local")
        identical = all((_outputs(tmp / name), _lines(tmp / name)) == reference for name in ("ray", "joined"))
    return {"fixed": fixed, "times": times, "audio_s": audio_s, "identical": identical, "workers": workers,
            "copies": copies, "inputs": 4 * dirs}


def markdown(result) -> str:
    lines = [f"{result['inputs']} inputs x {result['copies']} copies = {result['audio_s']:.0f} s of output audio, "
             f"default pipeline (noise + RIR banks), {os.cpu_count()} CPUs; each run a fresh process",
             "", "| run | wall s | xRT |", "|---|---:|---:|"]
    for name, seconds in result["times"].items():
        lines.append(f"| {name} | {seconds:.2f} | {result['audio_s'] / seconds:.1f} |")
    fixed = result["fixed"]
    lines += ["", "Ray fixed cost: " + ", ".join(f"{k} {v:.2f} s" for k, v in fixed.items())
              + f" (total {sum(fixed.values()):.2f} s)",
              f"outputs and manifest byte-identical across the runs: {result['identical']}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ray", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs (default 2)")
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--dirs", type=int, default=24, help="copies of data/speech as input (4 files each)")
    args = p.parse_args(argv)
    try:
        import ray  # noqa: F401
    except ImportError:
        print('bench_ray needs Ray: pip install "noisegen[ray]"', file=sys.stderr)
        return 2
    result = run(args.workers, args.copies, args.dirs, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown(result))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
