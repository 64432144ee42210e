"""``noisegen augment``: the command-line front of :func:`noisegen.batch.augment_folder`.

:mod:`noisegen.cli` calls :func:`add_parser` with its subparsers, then
:func:`run` with the parsed arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from . import warmup
from .args import (MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, as_option, interrupted_status, printable, sample_rate_arg,
                   say, stop_word)
from .._core.errors import NoisegenError, ParameterError, one_line
from .._core.validation import show_number
from ..audio.files import missing_hint
from ..batch import MAX_COPIES, augment_folder, check_shard, default_pipeline
from ..transforms import load_pipeline

__all__ = ["add_parser", "run"]

#: What to do after an interruption (Ctrl-C, SIGTERM) or a run-time failure.
RESUME = "rerun the same command to resume"

#: augment_folder's argument names, as the options (its messages start with the name).
_OPTION_NAMES = {"in_dir": "IN_DIR", "out_dir": "OUT_DIR", "copies": "--copies", "sample_rate": "--sample-rate",
                 "workers": "--workers", "seed": "--seed", "shard": "--shard", "format": "--format",
                 "subtype": "--subtype", "shard_size": "--shard-size", "blockwise_min_s": "--blockwise-min-s",
                 "ray_address": "--ray-address", "engine": "--engine"}

DESCRIPTION = """\
Write augmented copies of every audio file under IN_DIR (wav, flac, ogg, mp3,
opus, aiff, au, caf, w64, rf64; recursively; hidden files and folders, whose
names start with '.', are left out) into OUT_DIR, mirroring the tree:
a/b.wav -> a/b.aug0.wav, ... Outputs are byte-identical for any --workers;
OUT_DIR/manifest.jsonl records every output (seed, applied parameters) and
rerunning the same command resumes an interrupted job; outputs whose input
changed since are redone. One run at a time per OUT_DIR (per shard with
--shard). Exit status: 0 all written, 1 some inputs failed (see
OUT_DIR/failures.jsonl) or a run-time failure (disk full), 2 usage error
(also: OUT_DIR busy), 130 interrupted (143 by SIGTERM, 129 by SIGHUP: the
terminal closed), 141 stdout or stderr a pipe whose reader left.

--output-format wav or flac writes the tree in that format (as --format does);
--output-format webdataset writes WebDataset tar shards instead of the tree:
OUT_DIR/shard-000000.tar, shard-000001.tar, ... of --shard-size samples each
(KEY.wav or KEY.flac, per --format, plus KEY.json with the input and the
applied parameters), filled in sorted input order, byte-identical for any
--workers; read them back with AugmentStream("OUT_DIR/shard-{000000..000002}.tar", ...)
or webdataset.WebDataset. KEY is the input's relative path without its
extension, '%' and '.' escaped as %25 and %2E, plus _aug<copy>."""

#: ``--snr-db`` range, that of :func:`noisegen.mix_at_snr`.
SNR_DB_RANGE = (-100.0, 200.0)
MAX_SEED = 2**64 - 1


def _shard(text):
    try:
        return check_shard(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(low, high=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {value}")
        return value

    return parse


def _snr_db(text):
    import math

    lo, hi = SNR_DB_RANGE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in dB, got {text!r}") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise argparse.ArgumentTypeError(f"expected an SNR in [{lo:g}, {hi:g}] dB, got {text!r}")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


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
    p.add_argument("--snr-db", nargs=2, type=_snr_db, metavar=("MIN", "MAX"), default=None,
                   help=f"SNR range of the added noise in dB, within [{SNR_DB_RANGE[0]:g}, {SNR_DB_RANGE[1]:g}] "
                        "(default 5 20)")
    p.add_argument("--config", metavar="pipeline.json", help="a JSON pipeline instead of the default one")
    p.add_argument("--copies", type=_positive_int(1, MAX_COPIES), default=1, metavar="N",
                   help=f"outputs per input, 1..{MAX_COPIES} (default 1)")
    p.add_argument("--sample-rate", type=sample_rate_arg, default=None, metavar="SR",
                   help=f"resample outputs to SR Hz, {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} (default: each input's rate)")
    p.add_argument("--workers", type=_positive_int(0), default=1, metavar="N",
                   help="worker processes (0: one per CPU; capped at the CPUs available; default 1)")
    p.add_argument("--seed", type=_positive_int(0, MAX_SEED), default=0, metavar="S", help="base seed (default 0)")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N", help="process only shard K of N")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="run on this machine (default) or as Ray tasks (needs pip install \"noisegen[ray]\")")
    p.add_argument("--ray-address", metavar="A", default=None,
                   help="with --engine ray: the Ray cluster to join (default: start a local Ray instance)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs that differ")
    p.add_argument("--blockwise-min-s", type=_seconds, default=60.0, metavar="S",
                   help="process inputs longer than S seconds in blocks, in bounded memory (default 60)")
    p.add_argument("--format", choices=("wav", "flac"), default=None,
                   help="audio format of the files, or of the tar members (default wav)")
    p.add_argument("--output-format", choices=("wav", "flac", "webdataset"), default=None,
                   help="a tree of wav (default) or flac files, or WebDataset tar shards")
    p.add_argument("--shard-size", type=_positive_int(1), default=None, metavar="N",
                   help="with --output-format webdataset: samples per tar (default 1000)")
    p.add_argument("--subtype", choices=("PCM_16", "FLOAT"), default="PCM_16", help="sample format (default PCM_16)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always report progress (default: a bar when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="never report progress")
    return p


def _error(message: str) -> int:
    print(f"noisegen augment: error: {message}", file=sys.stderr)
    return 2


def _check_args(args) -> str | None:
    """The first problem with the arguments argparse cannot see (as a message), or None."""
    if args.config is not None and (args.noise_dir or args.rir_dir or args.snr_db):
        return ("--config cannot be combined with --noise-dir, --rir-dir or --snr-db "
                "(put those transforms in the config)")
    if args.output_format in ("wav", "flac") and args.format not in (None, args.output_format):
        return f"--format {args.format} contradicts --output-format {args.output_format}"
    if args.subtype == "FLOAT" and (args.format or args.output_format) == "flac":  # (the library says format='wav')
        return "--subtype FLOAT is not available for flac output (FLAC holds integers); use --subtype PCM_16 or wav"
    if args.shard_size is not None and args.output_format != "webdataset":
        return "--shard-size needs --output-format webdataset"
    if args.ray_address is not None and args.engine != "ray":
        return "--ray-address needs --engine ray"
    if args.shard is not None and args.output_format == "webdataset":
        return "--shard cannot be combined with --output-format webdataset (tars are filled in sorted input order)"
    if args.snr_db and args.snr_db[0] > args.snr_db[1]:
        return f"--snr-db MIN must not exceed MAX, got {show_number(args.snr_db[0])} {show_number(args.snr_db[1])}"
    paths = (("IN_DIR", args.in_dir), ("OUT_DIR", args.out_dir), ("--noise-dir", args.noise_dir),
             ("--rir-dir", args.rir_dir), ("--config", args.config))
    for flag, path in paths:
        if path is not None and not path.strip():  # "" would mean the current folder
            return f"{flag} must not be empty"
    for flag, path in paths[:1] + paths[2:4]:
        if path is not None and not os.path.isdir(path):
            return f"{flag} {path!r} {'is not a folder' if os.path.exists(path) else 'does not exist' + missing_hint(path)}"
    if args.config is not None and not os.path.isfile(args.config):  # isfile: never open a FIFO
        missing = 'does not exist' + missing_hint(args.config)
        return f"--config {args.config!r} {'is not a regular file' if os.path.exists(args.config) else missing}"
    return None


#: The default pipeline's banks, as the options that name them (their messages start with the name).
_BANK_OPTIONS = {"noise": "--noise-dir", "rir": "--rir-dir"}


def _bank_option(text: str, args) -> str | None:
    """A message of the default pipeline's noise or RIR bank ("noise holds no audio files ...") starting
    with the option that named the folder, or None for any other message."""
    spelled = as_option(text, _BANK_OPTIONS)
    return spelled if args.config is None and spelled != text else None


def _describe(exc) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename!r}" if exc.filename else "")
    return one_line(exc) or type(exc).__name__


def run(args) -> int:
    """Run ``noisegen augment`` for parsed ``args``; returns the exit status."""
    problem = _check_args(args)
    if problem:
        return _error(problem)
    try:
        if args.config is not None:
            pipeline = load_pipeline(args.config)
        else:
            snr = tuple(args.snr_db) if args.snr_db else (5.0, 20.0)
            pipeline = default_pipeline(noise_dir=args.noise_dir, rir_dir=args.rir_dir, snr_db=snr)
    except (NoisegenError, ValueError, RecursionError, OSError) as exc:  # a config too deep is a bad config
        where = f"--config {args.config!r}" if args.config else "pipeline"
        text = "nested too deeply" if isinstance(exc, RecursionError) else one_line(exc)
        text = text.removeprefix("path_or_dict: ")  # (load_pipeline's argument: here, --config itself)
        return _error(_bank_option(text, args) or f"bad {where}: {text}")
    if args.progress is not False and warmup.cache_is_cold():
        print("noisegen augment: the Numba cache is empty, so kernels compile as they are first used "
              "(half a minute or so, once); `noisegen warmup` compiles them all ahead of time", file=sys.stderr)
    try:
        summary = augment_folder(
            args.in_dir, args.out_dir, pipeline=pipeline, copies=args.copies, sample_rate=args.sample_rate,
            workers=args.workers, seed=args.seed, shard=args.shard, overwrite=args.overwrite,
            format=args.format or (args.output_format if args.output_format in ("wav", "flac") else "wav"),
            subtype=args.subtype, progress=args.progress,
            engine=args.engine, ray_address=args.ray_address,
            output_format="webdataset" if args.output_format == "webdataset" else "files",
            shard_size=args.shard_size, blockwise_min_s=args.blockwise_min_s,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM or SIGHUP (cli.args.sigterm_stops)
        say(f"noisegen augment: {stop_word(interrupted_status(exc))}; {RESUME}")  # (a hung-up terminal: EIO)
        return interrupted_status(exc)
    except ParameterError as exc:  # bad settings, a bad noise/RIR file, a busy OUT_DIR: before any output
        text = one_line(exc)
        if args.config is not None and text.startswith("pipeline: "):  # (its banks: as the config's other errors)
            return _error(f"bad --config {args.config!r}: {text.removeprefix('pipeline: ')}")
        return _error(_bank_option(text.removeprefix("pipeline: "), args) or as_option(text, _OPTION_NAMES))
    except (NoisegenError, OSError) as exc:  # at run time (a full disk): not a usage error
        # (a full disk, a folder where the manifest goes: the rerun resumes once the cause is gone)
        print(f"noisegen augment: error: {_describe(exc)}; once that is fixed, {RESUME}", file=sys.stderr)
        return 1
    # (the names of inputs and OUT_DIR as stdout can encode them: not UTF-8, or an é under an ASCII locale)
    print(printable(f"noisegen augment: {summary}", sys.stdout))
    if summary.failures:
        print(printable(f"noisegen augment: {summary.n_failed} failed; see "
                        f"{os.path.join(args.out_dir, 'failures.jsonl')}", sys.stdout))
    return 1 if summary.failures else 0
