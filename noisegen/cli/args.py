"""Argument types shared by the subcommands of the ``noisegen`` command line."""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
import types

from .._core.tempfiles import exit_removing

#: Range of every ``--sample-rate`` (Hz), checked before anything is read or allocated.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1, 768_000


def int_in(low: int, high: int, what: str = "an integer"):
    """An argparse ``type`` for an integer in ``[low, high]`` (one-line error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} in [{low}, {high}], got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} in [{low}, {high}], got {text!r}")
        return value

    return parse


#: ``--sample-rate`` of every subcommand ("integer": 44100.0 is in the range, and was refused as if not).
sample_rate_arg = int_in(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, "an integer sample rate in Hz")


def as_option(message: str, names: dict) -> str:
    """A library message that starts with a Python argument's name (alone, or as ``name=value``),
    starting with the option the user typed instead (``names``: argument -> option).

    >>> as_option("amplitude=1e+308 overflows float32", {"amplitude": "--amplitude"})
    '--amplitude=1e+308 overflows float32'
    """
    name, sep, rest = message.partition(" ")
    name, eq, value = name.partition("=")
    return f"{names[name]}{eq}{value}{sep}{rest}" if name in names else message


def printable(text: str, stream) -> str:
    """``text`` as ``stream`` can encode it: a file name it cannot (bytes that are not UTF-8, an é
    under an ASCII locale) with backslash escapes, as Python writes such names to stderr."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


def say(line: str) -> None:
    """Print ``line`` on stderr; where stderr is gone (a terminal that hung up: EIO; a closed pipe) it is
    dropped, and stderr pointed at /dev/null: raised, it turned a stop's status (129) into 1."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stderr.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real stderr (captured in tests)
            pass


#: Seconds a command stopped by SIGTERM has to unwind before it is ended where it stands.
STOP_GRACE_S = 10


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt: it unwinds the
    same way (a pool is terminated, temporary files are removed)."""

    signum = signal.SIGTERM


class HungUp(Terminated):
    """SIGHUP (the terminal or SSH session closed), carried out as SIGTERM is: killed where it stood by
    default, a run left its temporary files (90 MB for a long input) and its lock record behind."""

    signum = getattr(signal, "SIGHUP", signal.SIGTERM)


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """A shell's status for a command stopped by a signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def stop_word(status: int) -> str:
    """How a command's last line names the stop that gave it exit ``status`` (:func:`interrupted_status`)."""
    return {143: "terminated", 129: "hung up"}.get(status, "interrupted")


@contextlib.contextmanager
def sigterm_stops(message: str, interrupted: str | None = None):
    """While the command runs, SIGTERM raises :class:`Terminated` (SIGHUP :class:`HungUp`, unless ignored
    as under nohup; Ctrl-C KeyboardInterrupt); should
    that not end it within :data:`STOP_GRACE_S` (an exception raised from a handler is dropped when it
    lands in a destructor or a weakref callback), the command is ended where it stands: workers killed,
    temporary files removed (:func:`noisegen._core.tempfiles.exit_removing`), ``message`` printed.
    One dropped where Python reports it (llvmlite's callbacks while Numba compiles: the compile is then
    left broken, and going on would make outputs without the kernels it was building) ends the command
    at once the same way (``interrupted`` printed for Ctrl-C). Yields a state whose ``received`` is the
    signal that came (0: none): a command that went on to its end still ends as stopped by it. Once a
    signal came, later ones are ignored (the first is carried out: its line, its status) and errors in
    destructors are dropped: the interrupted work can leave objects half-built (llvmlite's), whose
    destructors fail (after the block, :func:`noisegen.__main__.command` ends the process at once)."""
    state = types.SimpleNamespace(received=0)  # the caller reads it: a signal came, whatever followed
    if threading.current_thread() is not threading.main_thread():  # handlers live in the main thread
        yield state
        return

    def hard_stop(signum, frame=None):
        for child in multiprocessing.active_children():
            child.kill()
        if sys.stdout is not None:  # (None when started with stdout closed)
            sys.stdout.flush()
        said = interrupted if signum == signal.SIGINT and interrupted else message
        if signum == HungUp.signum != signal.SIGTERM:
            said = said.replace(": terminated", ": hung up", 1)
        say(said)
        exit_removing(signum)

    def stop(signum, frame):
        if state.received:  # a second signal: the first is being carried out (its line, its status)
            return
        state.received = signum
        signal.signal(signal.SIGALRM, lambda s, f: hard_stop(signum))
        signal.alarm(STOP_GRACE_S)
        raise Terminated() if signum == signal.SIGTERM else HungUp() if signum == HungUp.signum else KeyboardInterrupt()

    def unraisable(report):  # raised in a callback (llvmlite's, while Numba compiles), dropped there
        if isinstance(report.exc_value, KeyboardInterrupt) and state.received:
            hard_stop(state.received)
        if not state.received:
            hook(report)
        # (else dropped: an object the signal's exception left half-built, llvmlite's ObjectRef
        # interrupted in its constructor, fails in its destructor as the command ends)

    previous = signal.signal(signal.SIGTERM, stop), signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT)
    if previous[2] is signal.default_int_handler:  # (not where Ctrl-C is ignored, as for a background job)
        signal.signal(signal.SIGINT, stop)
    hup = HungUp.signum if HungUp.signum != signal.SIGTERM else None
    hup_before = None if hup is None else signal.getsignal(hup)
    if hup_before is signal.SIG_DFL:  # (not where it is ignored: nohup)
        signal.signal(hup, stop)
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield state
    finally:
        signal.alarm(0)
        if state.received:  # what the stop left half-built in reference cycles: freed while dropped
            gc.collect()
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
        signal.signal(signal.SIGINT, previous[2])
        if hup_before is not None:
            signal.signal(hup, hup_before)
        sys.unraisablehook = hook
