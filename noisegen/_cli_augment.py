"""``noisegen augment``: the command-line front of :func:`noisegen.batch.augment_folder`.

``noisegen/cli.py`` imports this module lazily and calls :func:`add_parser`
with its subparsers, then :func:`run` with the parsed arguments.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Write augmented copies of every audio file under IN_DIR (wav, flac, ogg, mp3;
recursively) into OUT_DIR, mirroring the tree: a/b.wav -> a/b.aug0.wav, ...
Outputs are byte-identical for any --workers; OUT_DIR/manifest.jsonl records
every output (seed, applied parameters) and rerunning the same command resumes
an interrupted job. Exit status: 0 all written, 1 some inputs failed (see
OUT_DIR/failures.jsonl), 2 usage error."""


def _shard(text):
    from .batch import _check_shard
    from .errors import ParameterError

    try:
        return _check_shard(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


def add_parser(subparsers):
    """Add the ``augment`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "augment", help="augment a folder of audio files (resumable, reproducible)", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("in_dir", metavar="IN_DIR", help="input folder (never written to)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created; not inside IN_DIR)")
    p.add_argument("--noise-dir", metavar="D", help="background noises for the default pipeline")
    p.add_argument("--rir-dir", metavar="D", help="room impulse responses for the default pipeline (p=0.5)")
    p.add_argument("--snr-db", nargs=2, type=float, metavar=("MIN", "MAX"), default=None,
                   help="SNR range of the added noise in dB (default 5 20)")
    p.add_argument("--config", metavar="pipeline.json", help="a JSON pipeline instead of the default one")
    p.add_argument("--copies", type=_positive_int(1), default=1, metavar="N", help="outputs per input (default 1)")
    p.add_argument("--sample-rate", type=_positive_int(1), default=None, metavar="SR",
                   help="resample outputs to SR Hz (default: each input's rate)")
    p.add_argument("--workers", type=_positive_int(0), default=1, metavar="N",
                   help="worker processes (0: one per CPU; default 1)")
    p.add_argument("--seed", type=_positive_int(0), default=0, metavar="S", help="base seed (default 0)")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N", help="process only shard K of N")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs that differ")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", help="output format (default wav)")
    p.add_argument("--subtype", choices=("PCM_16", "FLOAT"), default="PCM_16", help="sample format (default PCM_16)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always report progress (default: a bar when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="never report progress")
    return p


def _error(message: str) -> int:
    print(f"noisegen augment: error: {message}", file=sys.stderr)
    return 2


def run(args) -> int:
    """Run ``noisegen augment`` for parsed ``args``; returns the exit status."""
    from .batch import augment_folder, default_pipeline
    from .errors import NoisegenError

    if args.config is not None and (args.noise_dir or args.rir_dir or args.snr_db):
        return _error("--config cannot be combined with --noise-dir, --rir-dir or --snr-db "
                      "(put those transforms in the config)")
    for flag, path in (("IN_DIR", args.in_dir), ("--noise-dir", args.noise_dir), ("--rir-dir", args.rir_dir)):
        if path is not None and not os.path.isdir(path):
            return _error(f"{flag} {path!r} {'is not a folder' if os.path.exists(path) else 'does not exist'}")
    try:
        if args.config is not None:
            if not os.path.isfile(args.config):
                return _error(f"--config {args.config!r} does not exist")
            from .transforms import load_pipeline

            pipeline = load_pipeline(args.config)
        else:
            snr = tuple(args.snr_db) if args.snr_db else (5.0, 20.0)
            pipeline = default_pipeline(noise_dir=args.noise_dir, rir_dir=args.rir_dir, snr_db=snr)
    except (NoisegenError, ValueError) as exc:
        where = f"--config {args.config!r}" if args.config else "pipeline"
        return _error(f"bad {where}: {' '.join(str(exc).split())}")
    try:
        summary = augment_folder(
            args.in_dir, args.out_dir, pipeline=pipeline, copies=args.copies, sample_rate=args.sample_rate,
            workers=args.workers, seed=args.seed, shard=args.shard, overwrite=args.overwrite, format=args.format,
            subtype=args.subtype, progress=args.progress,
        )
    except KeyboardInterrupt:
        print("noisegen augment: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (NoisegenError, ValueError, OSError) as exc:
        return _error(" ".join(str(exc).split()))
    print(f"noisegen augment: {summary}")
    if summary.failures:
        print(f"noisegen augment: {summary.n_failed} failed; see {os.path.join(args.out_dir, 'failures.jsonl')}")
    return 1 if summary.failures else 0


def main(argv=None) -> int:
    """Stand-alone entry (``python -m noisegen._cli_augment ...``), same as ``noisegen augment``."""
    parser = argparse.ArgumentParser(prog="noisegen")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
