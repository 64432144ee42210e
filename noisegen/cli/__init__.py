"""The ``noisegen`` command line: ``synth``, ``info``, ``augment`` and ``warmup``.

::

    noisegen synth KIND OUT.wav --duration-s S [--sample-rate SR] [--seed S] [--overwrite] [...]
    noisegen info FILE...
    noisegen augment IN_DIR OUT_DIR [...]
    noisegen warmup [--quiet]

Errors never show a traceback: one line on stderr, exit status 2 for a usage
error (bad option or value) and 1 for a failure at run time (unreadable or
unwritable file). The ``augment`` subcommand lives in
:mod:`noisegen.cli.augment` (``add_parser(subparsers)`` and ``run(args) -> int``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import warnings

from . import augment, warmup
from .args import (MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, as_option, int_in, interrupted_status, printable,
                   sample_rate_arg, say, sigterm_stops, stop_word)
from .. import __version__, synth
from .._core.errors import NoisegenError, NoisegenWarning, ParameterError, one_line
from .._core.validation import check_finite_output
from ..audio.formats import check_subtype, check_writable, format_of
from ..audio.info import info
from ..audio.io import save

__all__ = ["main"]

NOISE_KINDS = ("white", "pink", "brown", "blue", "violet", "colored", "speech-shaped")
OSCILLATOR_KINDS = ("tone", "chirp", "square", "sawtooth", "triangle", "impulse-train", "hum")
KINDS = NOISE_KINDS + OSCILLATOR_KINDS

#: Default ``--amplitude``: the RMS of noise kinds, the peak of oscillator kinds.
DEFAULT_NOISE_RMS = 0.1
DEFAULT_PEAK = 0.5
#: Most samples (all channels) ``synth`` writes, and most ``--channels``.
MAX_SAMPLES = 2**31
MAX_CHANNELS = 256


class _UsageError(Exception):
    """A bad combination of options found after parsing (exit status 2)."""


#: An argument argparse is to take as a negative number, not an option: its own pattern (-5, -.5) missed
#: what float() reads (-1e-3, -1_0, -inf), so ``--beta -1e-1`` said "expected one argument".
_NEGATIVE_NUMBER = re.compile(r"^-(\.?\d|(inf|infinity|nan)$)", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump) and exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="noisegen", description="Synthesise, inspect and augment audio for speech models.")
    parser.add_argument("--version", action="version", version=f"noisegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("synth", help="write synthetic noise or a test signal to an audio file",
                       description="Write synthetic noise or a test signal to an audio file.")
    p.add_argument("kind", metavar="KIND", choices=KINDS, help="one of: " + ", ".join(KINDS))
    p.add_argument("out", metavar="OUT", help="output file (.wav, .flac, ...); written atomically, never over "
                   "another file unless --overwrite")
    p.add_argument("--duration-s", type=_nonnegative_float, required=True, help="length in seconds")
    p.add_argument("--sample-rate", type=sample_rate_arg, default=16000,
                   help=f"Hz, {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} (default 16000)")
    p.add_argument("--seed", type=int_in(0, augment.MAX_SEED), default=None,
                   help="random seed of the noise kinds (default: fresh); the oscillators draw nothing, so "
                        "any seed gives them the same output (a loop over every KIND may pass one)")
    p.add_argument("--beta", type=_finite_float, help="PSD exponent of KIND colored, in [-2, 2]")
    p.add_argument("--freq-hz", type=_finite_float,
                   help="frequency (tone, square, sawtooth, triangle, impulse-train) or start frequency (chirp)")
    p.add_argument("--end-freq-hz", type=_finite_float, help="end frequency of KIND chirp")
    p.add_argument("--method", choices=("linear", "logarithmic"), help="sweep of KIND chirp (default linear)")
    p.add_argument("--mains-hz", type=int, choices=(50, 60), help="mains frequency of KIND hum (default 50)")
    p.add_argument("--amplitude", type=_nonnegative_float,
                   help=f"expected RMS of noise kinds (default {DEFAULT_NOISE_RMS}; a file's own varies about it, "
                        "brown noise's most: -10 to +9 dB in 1 s at 16 kHz, -4 to +3 dB in 10 s), amplitude of "
                        "oscillators (default "
                        f"{DEFAULT_PEAK}: the ideal waveform's peak; a band-limited square or sawtooth overshoots it; "
                        "hum's fundamental, its harmonics added)")
    p.add_argument("--channels", type=int_in(1, MAX_CHANNELS), default=1,
                   help=f"number of channels, 1..{MAX_CHANNELS} (default 1)")
    p.add_argument("--subtype", help="file subtype, e.g. PCM_16 (default for .wav), PCM_24, FLOAT")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT when it exists and holds something else (default: leave it and fail)")
    p.set_defaults(handler=_run_synth)

    p = sub.add_parser("info", help="print sample rate, channels, duration, subtype and levels of audio files",
                       description="Print sample rate, channels, duration, subtype, peak and RMS dBFS of audio files.")
    p.add_argument("files", metavar="FILE", nargs="+")
    p.set_defaults(handler=_run_info)

    augment.add_parser(sub)
    sub.choices["augment"].set_defaults(handler=augment.run)
    warmup.add_parser(sub)
    return parser


# ----------------------------------------------------------------------------- synth

_OPTION_KINDS = {
    "beta": ("colored",),
    "freq_hz": ("tone", "chirp", "square", "sawtooth", "triangle", "impulse-train"),
    "end_freq_hz": ("chirp",),
    "method": ("chirp",),
    "mains_hz": ("hum",),
}
_REQUIRED = {"colored": ("beta",), "chirp": ("freq_hz", "end_freq_hz"),
             "tone": ("freq_hz",), "square": ("freq_hz",), "sawtooth": ("freq_hz",),
             "triangle": ("freq_hz",), "impulse-train": ("freq_hz",)}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _check_options(args) -> None:
    for dest, kinds in _OPTION_KINDS.items():
        if getattr(args, dest) is not None and args.kind not in kinds:
            raise _UsageError(f"{_flag(dest)} does not apply to KIND {args.kind} (only to {', '.join(kinds)})")
    for dest in _REQUIRED.get(args.kind, ()):
        if getattr(args, dest) is None:
            raise _UsageError(f"KIND {args.kind} needs {_flag(dest)}")
    if args.duration_s * args.sample_rate * args.channels > MAX_SAMPLES:
        raise _UsageError(f"--duration-s {args.duration_s:g} at {args.sample_rate} Hz and {args.channels} channel(s) "
                          f"is more than {MAX_SAMPLES} samples")
    # what save() would refuse (FLAC 8 channels, Ogg 255, ...), said before the audio is made
    fmt = format_of(args.out)
    check_writable(fmt, check_subtype(fmt, args.subtype, args.out), n_channels=args.channels,
                   sample_rate=args.sample_rate, n_frames=round(args.duration_s * args.sample_rate),
                   channels_name="--channels", frames_name="the length (--duration-s)")


def _synthesise(args):
    import numpy as np

    sr = args.sample_rate
    n = round(args.duration_s * sr)
    n_channels = None if args.channels == 1 else args.channels
    if args.kind in NOISE_KINDS:
        rms = DEFAULT_NOISE_RMS if args.amplitude is None else args.amplitude
        if args.kind == "speech-shaped":
            return synth.speech_shaped_noise(sample_rate=sr, n_samples=n, rng=args.seed, amplitude=rms,
                                             n_channels=n_channels)
        beta = args.beta if args.kind == "colored" else synth.NOISE_COLORS[args.kind]
        y = synth.colored_noise(n, beta=beta, rng=args.seed, n_channels=n_channels, dtype=np.float32)
        with np.errstate(over="ignore"):  # (an --amplitude beyond float32: refused just below)
            y *= np.float32(rms)
        return check_finite_output(y, f"amplitude={rms:g}")
    common = dict(sample_rate=sr, n_samples=n, amplitude=DEFAULT_PEAK if args.amplitude is None else args.amplitude,
                  n_channels=n_channels)
    if args.kind == "hum":
        return synth.hum(mains_hz=float(args.mains_hz or 50), **common)
    if args.kind == "chirp":
        return synth.chirp(freq_hz=args.freq_hz, end_freq_hz=args.end_freq_hz, method=args.method or "linear",
                           **common)
    fn = {"tone": synth.tone, "square": synth.square, "sawtooth": synth.sawtooth, "triangle": synth.triangle,
          "impulse-train": synth.impulse_train}[args.kind]
    return fn(freq_hz=args.freq_hz, **common)


def _run_synth(args) -> int:
    _check_options(args)
    y = _synthesise(args)
    # save's warnings (clipping) are said once OUT holds the audio: on a failure to write it they told
    # of "saving to OUT" above the line that says OUT was left as it is
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", NoisegenWarning)
        try:
            save(args.out, y, sample_rate=args.sample_rate, subtype=args.subtype, overwrite=args.overwrite)
        except FileExistsError as exc:  # (the same bytes there already are no error: a rerun with a --seed)
            _say(f"noisegen synth: error: OUT {exc.strerror} (pass --overwrite to replace it)")
            return 1
        except OSError as exc:  # a full disk says nothing of where it was writing
            if exc.filename is None:
                exc.filename = args.out
            raise
    _replay(said, warnings.showwarning)
    return 0


# ----------------------------------------------------------------------------- info


def _db(value: float) -> str:
    return "-inf" if value == -math.inf else f"{value:.1f}"


def _run_info(args) -> int:
    if sys.stdout is None:  # started with stdout closed (`noisegen info F >&-`): the report would go nowhere
        raise _UsageError("standard output is closed: there is nowhere to print the report")
    status = 0
    for path in args.files:
        try:
            m = info(path)
        except (OSError, NoisegenError) as exc:
            _say(f"noisegen info: error: {_describe(exc)}")
            status = 1
            continue
        levels = f"peak {_db(m.peak_dbfs)} dBFS, RMS {_db(m.rms_dbfs)} dBFS"
        if m.n_nonfinite:
            levels = (f"{m.n_nonfinite} non-finite samples (NaN/inf) of {m.frames * m.channels}; "
                      f"the finite ones: {levels}")
        print(printable(f"{path}: {m.sample_rate} Hz, {m.channels} ch, {m.duration_s:.3f} s ({m.frames} frames), "
                         f"{m.subtype} ({m.format}), {levels}", sys.stdout), flush=True)
    return status


# ----------------------------------------------------------------------------- entry point


#: Python argument names as the command line spells them, for error messages.
_OPTION_NAMES = {"freq_hz": "--freq-hz", "end_freq_hz": "--end-freq-hz", "beta": "--beta",
                 "amplitude": "--amplitude", "mains_hz": "--mains-hz", "subtype": "--subtype",
                 "path": "OUT", "duration_s": "--duration-s", "sample_rate": "--sample-rate"}


def _say(line: str) -> None:
    say(line)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename!r}" if exc.filename is not None else ""  # ('' too: `noisegen info ""`)
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


#: The library's advice in a warning, as a command's options spell it.
_SPELLED = {"synth": {"use subtype='FLOAT' or lower the level": "use --subtype FLOAT or a lower --amplitude",
                      "lower the level, or save a .wav file with subtype='FLOAT'":
                      "use a lower --amplitude, or a .wav OUT with --subtype FLOAT"}}
#: A warning that starts with an argument's name starts with the command's option (``workers=8`` ->
#: ``--workers=8``, ``out_dir '...'`` -> ``OUT_DIR '...'``), as its errors do.
_NAMED = {"synth": _OPTION_NAMES, "augment": augment._OPTION_NAMES}


def _warning_printer(prog: str, fallback):
    """``warnings.showwarning`` that prints a NoisegenWarning at once, as one line (no source line),
    and each line once: every copy of a silent input said the same line again (``--copies 10``: 10)."""
    spelled = _SPELLED.get(prog.removeprefix("noisegen "), {})
    named = _NAMED.get(prog.removeprefix("noisegen "), {})
    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, NoisegenWarning):
            text = as_option(one_line(message), named)
            for said, option in spelled.items():
                text = text.replace(said, option)
            if text in shown:
                return
            shown.add(text)
            try:
                _say(f"{prog}: warning: {text}")
            except OSError:  # the reader of stderr left (`2>&1 | head`): as Python's own showwarning does,
                _silence(sys.stderr)  # the warning is dropped; raised, it failed the input that gave it
        else:
            fallback(message, category, filename, lineno, file, line)

    return show


def _commands(parser) -> list[str]:
    for action in parser._subparsers._group_actions:
        return list(action.choices)
    return []


def _silence(stream) -> None:
    """Point ``stream`` (stdout, stderr) at /dev/null so no later write, nor the interpreter's last
    flush, fails on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (captured in tests)
        pass


def _replay(said, printer) -> None:
    """Print the warnings ``said`` (recorded while the command line was imported) with ``printer``."""
    for w in said:
        printer(w.message, w.category, w.filename, w.lineno, w.file, w.line)


@contextlib.contextmanager
def _stderr_nowhere():
    """Started with stderr closed (``noisegen info F 2>&-``: sys.stderr is None), every
    ``print(..., file=sys.stderr)`` printed to stdout, the errors and warnings into ``info``'s report;
    while the command runs they go to /dev/null instead, as a shell tool's would go nowhere."""
    if sys.stderr is not None:
        yield
        return
    sys.stderr = open(os.devnull, "w")
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = None


def main(argv=None, *, said_at_import=()) -> int:
    """Run the ``noisegen`` command; return its exit status. ``said_at_import``: warnings recorded
    while this module was imported (:func:`noisegen.__main__.run`, :func:`~noisegen.__main__.command`), printed as
    the command's own."""
    with _stderr_nowhere():
        return _main(argv, said_at_import)


def _main(argv, said_at_import) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if a in _commands(parser)), None)
    _replay(said_at_import, _warning_printer(f"noisegen {command}" if command else "noisegen", warnings.showwarning))
    if not argv:  # bare `noisegen`: say how it is used
        parser.print_usage(sys.stderr)
        _say(f"noisegen: error: a COMMAND is required ({', '.join(_commands(parser))}); see noisegen --help")
        return 2
    known = ("-h", "--help", "--version")  # (and their prefixes, which argparse takes: --vers)
    if argv[0].startswith("-") and not any(o.startswith(argv[0]) for o in known if len(argv[0]) > 2 or o == argv[0]):
        _say(f"noisegen: error: unknown option {argv[0]}; the COMMAND comes first ({', '.join(_commands(parser))})")
        return 2
    try:
        args, extra = parser.parse_known_args(argv)  # usage errors: one line on stderr, status 2
        if extra:  # said by the command's parser, in its name (the top one said "noisegen: error")
            parser._subparsers._group_actions[0].choices[args.command].error(
                f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # also --help and --version (status 0)
        return exc.code if isinstance(exc.code, int) else 2
    prog = f"noisegen {args.command}"
    resume = f"; {augment.RESUME}" if args.command == "augment" else ""
    stopped = f"{prog}: terminated{resume}"
    # (both restore what they change: showwarning and filters, signal handlers)
    with warnings.catch_warnings(), sigterm_stops(stopped, f"{prog}: interrupted{resume}") as term:
        warnings.simplefilter("always", NoisegenWarning)
        warnings.showwarning = _warning_printer(prog, warnings.showwarning)
        try:
            status = args.handler(args)
            if sys.stdout is not None:  # (None: started with stdout closed, `noisegen ... >&-`)
                sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        except BrokenPipeError:  # `noisegen info *.wav | head -1`: the reader left; stop quietly
            _silence(sys.stdout)
            status = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe
        except (_UsageError, ParameterError) as exc:
            _say(f"{prog}: error: {as_option(str(exc), _OPTION_NAMES)}")
            status = 2
        except (OSError, NoisegenError) as exc:
            _say(f"{prog}: error: {_describe(exc)}")
            status = 1
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM or SIGHUP (args.sigterm_stops)
            status = interrupted_status(exc)
            _say(f"{prog}: {stop_word(status)}")
        except RuntimeError as exc:
            _say(f"{prog}: error: {exc}")
            status = 1
        except Exception as exc:  # never a traceback on the command line
            _say(f"{prog}: error: unexpected {type(exc).__name__}: {exc}")
            status = 1
        if term.received and status not in (129, 130, 143):  # the signal's exception was dropped where raised
            status = 128 + int(term.received)
            _say(f"{prog}: {stop_word(status)}{resume}")
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
