"""``python -m noisegen``, and the ``noisegen`` command's entry point (:func:`run`)."""

import signal
import sys
import threading
import warnings


class _TerminatedAtStart(KeyboardInterrupt):
    """SIGTERM while the command line imports: reported as Ctrl-C is (one line), not a silent kill."""


def _terminate(signum, frame):
    raise _TerminatedAtStart()


def run(argv=None) -> int:
    """Run the ``noisegen`` command (:func:`noisegen.cli.main`); return its exit status.

    The command line is imported here, not at the top: its imports (Numba,
    SciPy) take about a second, and a Ctrl-C or SIGTERM in that second is the
    command's to report, as one line, like one that comes later; so are the
    warnings of that second (kept, and given to the command to print).

    With ``argv=None`` (the process's own command line: the ``noisegen``
    command, ``python -m noisegen``) the process is the command, and what
    follows it is only the interpreter's exit: signals are then ignored (they
    could only interrupt it, with an exit callback's traceback or a silent kill
    after the command's last line), and after a command stopped by a signal so
    are errors in destructors (of objects the stop left half-built).
    """
    status = previous = None
    handles = threading.current_thread() is threading.main_thread()  # (signal handlers live there)
    try:
        if handles:
            previous = signal.signal(signal.SIGTERM, _terminate)
        with warnings.catch_warnings(record=True) as said:  # (an unwritable NUMBA_CACHE_DIR is said at import)
            from .cli import main
        if handles:
            signal.signal(signal.SIGTERM, previous)
        status = main(argv, said_at_import=said)
    except KeyboardInterrupt as exc:  # (while importing)
        status = 143 if isinstance(exc, _TerminatedAtStart) else 130
        print(f"noisegen: {'terminated' if status == 143 else 'interrupted'}", file=sys.stderr)
    finally:
        if not handles:
            pass
        elif argv is None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if status in (130, 143):
                sys.unraisablehook = lambda report: None
        elif signal.getsignal(signal.SIGTERM) is _terminate:
            signal.signal(signal.SIGTERM, previous)
    return status


if __name__ == "__main__":
    raise SystemExit(run())
