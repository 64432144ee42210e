"""``python -m noisegen``, and the ``noisegen`` command's entry point (:func:`run`)."""

import sys
import warnings


def run(argv=None) -> int:
    """Run the ``noisegen`` command (:func:`noisegen.cli.main`); return its exit status.

    The command line is imported here, not at the top: its imports (Numba,
    SciPy) take about a second, and a Ctrl-C in that second is the command's
    to report, as one line, like one that comes later; so are the warnings
    of that second (kept, and given to the command to print).
    """
    try:
        with warnings.catch_warnings(record=True) as said:  # (an unwritable NUMBA_CACHE_DIR is said at import)
            from .cli import main
    except KeyboardInterrupt:
        print("noisegen: interrupted", file=sys.stderr)
        return 130
    return main(argv, said_at_import=said)


if __name__ == "__main__":
    raise SystemExit(run())
