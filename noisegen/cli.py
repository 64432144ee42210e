"""The ``noisegen`` command line (placeholder: filled in by its issue)."""


def main(argv=None) -> int:
    return 0
