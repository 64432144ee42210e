"""Command line of the benchmark suite; see ``python -m bench --help``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time

AREAS = ("synth", "mix", "time", "chain", "stream", "calls", "corpus", "cli", "rooms", "codec", "startup", "memory")


def _at_least(kind, low):
    """An argparse type: a finite number of ``kind``, at least ``low``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not low <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, got {text}")
        return value
    return parse


def _writable(path):
    """An argparse type: a file that can be written (checked now, not after the run's minutes)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not path or os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path!r} (no such folder, or not writable)")
    return path


def _write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file beside it, renamed into place when whole:
    an interrupted or failed write leaves the previous file (a results file minutes in the making)."""
    path = os.path.realpath(path)  # through a symbolic link, as open(path, "w") writes
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".bench-", suffix=".part")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _area_failed(area, exc):
    """The record of an area that raised: the report and the JSON say so, and the run goes on."""
    return {"op": area, "params": {"what": f"{area} area"}, "library": "bench", "variant": "bench",
            "clip_s": None, "xrt": None, "median_s": None, "iqr_s": None, "repeats": None, "number": None,
            "first_call_s": None, "compile_s": None, "quality": {}, "like_for_like": True, "status": "error",
            "note": f"the area stopped: {type(exc).__name__}: {exc}"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description="Time noisegen against the libraries people use "
                                "today, in the same run (the README's Speed section says what each area times).")
    p.add_argument("--quick", action="store_true",
                   help="1 s and 4 s clips, fewer repeats, no per-operation compile runs; the cold starts still "
                        "run (the startup area's empty-cache first chunk and noisegen warmup take minutes: "
                        "--no-cold skips them)")
    p.add_argument("--json", metavar="FILE", type=_writable, help="write all records (a JSON list) to FILE")
    p.add_argument("--markdown", metavar="FILE", type=_writable,
                   help="write the Markdown report to FILE (a full run writes bench/RESULTS.md)")
    p.add_argument("--only", metavar="AREA", action="append",
                   help=f"run only these areas (repeat or comma-separate): {', '.join(AREAS)}")
    p.add_argument("--clip-s", metavar="S", type=_at_least(float, 0.01), nargs="+",
                   help="clip lengths in seconds (at least 0.01)")
    p.add_argument("--threads", type=_at_least(int, 1), default=1, help="BLAS/OpenMP/Numba threads (default 1)")
    p.add_argument("--no-cold", action="store_true", help="skip compile-time and cold-start subprocesses")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Thread pools must be pinned before numpy is imported (bench._harness does it).
    os.environ["NOISEGEN_BENCH_THREADS"] = str(args.threads)
    if "numpy" in sys.modules:
        print("warning: numpy was imported before the thread pins were set", file=sys.stderr)
    from bench import _harness as h
    from bench._report import markdown

    written = [("--json", args.json), ("--json's .env.json", args.json and os.path.splitext(args.json)[0] + ".env.json"),
               ("--markdown", args.markdown)]
    written = [(flag, os.path.realpath(path)) for flag, path in written if path]
    for k, (flag, path) in enumerate(written):  # one file written twice kept only the last (the JSON lost)
        other = next((f for f, q in written[:k] if q == path), None)
        if other is not None:
            print(f"{other} and {flag} name one file, {path!r}: give each its own", file=sys.stderr)
            return 2
    areas = []
    for item in args.only or AREAS:
        for a in item.split(","):
            a = a.strip()
            if a not in AREAS:
                print(f"unknown area {a!r}; choose from {', '.join(AREAS)}", file=sys.stderr)
                return 2
            if a not in areas:  # each area and clip length once: repeats would give each op two rows to mix
                areas.append(a)
    if args.no_cold and "startup" in areas:  # (it times cold starts only: a run of it alone wrote an empty table)
        if areas == ["startup"]:
            print("the startup area times cold starts only: --no-cold leaves it nothing to run", file=sys.stderr)
            return 2
        areas.remove("startup")
    clips = tuple(dict.fromkeys(args.clip_s)) if args.clip_s else ((1.0, 4.0) if args.quick else (1.0, 4.0, 30.0))
    cfg = h.Config(clips=clips, quick=args.quick, cold=not args.no_cold,
                   compile_each=not (args.no_cold or args.quick),
                   repeats=5 if args.quick else 15, min_repeat_s=0.005 if args.quick else 0.02,
                   max_total_s=0.25 if args.quick else 2.0,
                   log=lambda msg: print(msg, file=sys.stderr, flush=True))
    env = h.environment()
    t0 = time.perf_counter()
    records, failed = [], []
    for area in areas:
        cfg.log(f"== {area}")
        ta = time.perf_counter()
        try:
            mod = importlib.import_module(f"bench.bench_{area}")
            records += h.run_cases(mod.cases(cfg), cfg)
            if hasattr(mod, "extra"):
                records += mod.extra(cfg)
        except Exception as exc:  # noqa: BLE001 - one area's failure must not lose the other areas' minutes
            failed.append(area)
            records.append(_area_failed(area, exc))
            cfg.log(f"== {area} FAILED: {type(exc).__name__}: {exc}")
            continue
        cfg.log(f"== {area} done in {time.perf_counter() - ta:.1f} s")
    env["wall_s"] = round(time.perf_counter() - t0, 1)
    env["command"] = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    md = markdown(records, env)
    md += f"\nRun: `{env['command']}`, {env['wall_s']} s wall.\n"
    print(md)
    if args.json:
        # serialised whole before anything is written
        text, env_text = json.dumps(records, indent=1), json.dumps(env, indent=1)
        _write_atomically(args.json, text)
        _write_atomically(os.path.splitext(args.json)[0] + ".env.json", env_text)
    target = args.markdown
    if target is None and not args.quick and not args.only and not args.clip_s:
        target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    if target:
        _write_atomically(target, md)
        cfg.log(f"wrote {target}")
    if failed:
        print(f"bench: the {', '.join(failed)} area{'s' if len(failed) > 1 else ''} stopped early "
              "(an error record says why)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
