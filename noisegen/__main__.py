"""``python -m noisegen``, and the ``noisegen`` command's entry point (:func:`run`)."""

import signal
import sys
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
    warnings of that second (kept, and given to the command to print). Once
    the command has ended, signals are ignored: they could only interrupt the
    interpreter's exit (an exit callback's traceback, or a silent kill after
    the command's outputs and its last line).
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings(record=True) as said:  # (an unwritable NUMBA_CACHE_DIR is said at import)
            from .cli import main
    except KeyboardInterrupt as exc:
        _ignore_signals()
        terminated = isinstance(exc, _TerminatedAtStart)
        print(f"noisegen: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    signal.signal(signal.SIGTERM, previous)
    try:
        return main(argv, said_at_import=said)
    finally:
        _ignore_signals()


def _ignore_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    raise SystemExit(run())
