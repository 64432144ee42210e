"""``python -m noisegen``, and the ``noisegen`` command's entry point (:func:`run`)."""

import sys


def run(argv=None) -> int:
    """Run the ``noisegen`` command (:func:`noisegen.cli.main`); return its exit status.

    The command line is imported here, not at the top: its imports (Numba,
    SciPy) take about a second, and a Ctrl-C in that second is the command's
    to report, as one line, like one that comes later.
    """
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("noisegen: interrupted", file=sys.stderr)
        return 130
    return main(argv)


if __name__ == "__main__":
    raise SystemExit(run())
