"""``python -m noisegen``, and the ``noisegen`` command's entry point (:func:`command`; :func:`run` in a
caller's process)."""

import os
import signal
import sys
import threading
import warnings


class _TerminatedAtStart(KeyboardInterrupt):
    """SIGTERM before the command's own handler: reported as Ctrl-C is (one line), not a silent kill."""


def _terminate(signum, frame):
    raise _TerminatedAtStart()


class _HungUpAtStart(KeyboardInterrupt):
    """SIGHUP (the terminal closed) before the command's own handler: one line and 129, as SIGTERM's."""


def _hang_up(signum, frame):
    raise _HungUpAtStart()


def run(argv=None) -> int:
    """Run the ``noisegen`` command (:func:`noisegen.cli.main`); return its exit status.

    The command line is imported here, not at the top: its imports (Numba,
    SciPy) take about a second, and a Ctrl-C or SIGTERM in that second (or
    while the arguments are parsed) is the command's to report, as one line,
    like one that comes later; so are the warnings of that second (kept, and
    given to the command to print). The caller's signal handlers are restored.
    """
    return _run(argv, owns_process=False)


def command() -> None:
    """The ``noisegen`` command and ``python -m noisegen``: :func:`run` on the process's own command
    line, then the process ends with its status.

    The process is the command. Once it has ended, signals are ignored: they
    could only interrupt the interpreter's exit (an exit callback's traceback,
    or a silent kill after the command's last line). A command stopped by a
    signal has cleaned up as it unwound, and the process ends there with its
    status (130, 143, 129): the interpreter's exit would run the destructors of what
    the stop left half-built, and Python ends a ``python -m`` process whose
    Ctrl-C passed through a string given to ``exec`` (as dataclasses and Numba
    make code) by SIGINT rather than 130.
    """
    status = _run(None, owns_process=True)
    if status in (129, 130, 143):
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
                pass
        os._exit(status)
    sys.exit(status)


def _run(argv, *, owns_process: bool) -> int:
    """:func:`run`; ``owns_process``: the process is the command, and signals are ignored after it."""
    status = previous = None
    handles = threading.current_thread() is threading.main_thread()  # (signal handlers live there)
    try:
        if handles:  # (until the command's own: noisegen.cli.args.sigterm_stops)
            previous = signal.signal(signal.SIGTERM, _terminate)
        hup = owns_process and handles and signal.getsignal(getattr(signal, "SIGHUP", 0)) is signal.SIG_DFL
        if hup:  # (not where ignored: nohup; killed silently at start, the command said nothing)
            signal.signal(signal.SIGHUP, _hang_up)
        with warnings.catch_warnings(record=True) as said:  # (an unwritable NUMBA_CACHE_DIR is said at import)
            from .cli import main
        if handles and not owns_process and previous is not None:  # (a caller's own, from here on)
            signal.signal(signal.SIGTERM, previous)
        if hup:  # (the command's own takes a SIGHUP left at its default)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
        status = main(argv, said_at_import=said)
    except KeyboardInterrupt as exc:  # before the command's own handlers: while importing, or parsing
        status = 129 if isinstance(exc, _HungUpAtStart) else 143 if isinstance(exc, _TerminatedAtStart) else 130
        try:
            print(f"noisegen: {({129: 'hung up', 143: 'terminated'}).get(status, 'interrupted')}", file=sys.stderr)
        except OSError:  # (a terminal that hung up: EIO)
            pass
    finally:
        if not handles:
            pass
        elif owns_process:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if hasattr(signal, "SIGHUP"):  # (a closing terminal's: the command's last line said, it killed the exit)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
        elif signal.getsignal(signal.SIGTERM) is _terminate and previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return status


if __name__ == "__main__":
    command()
