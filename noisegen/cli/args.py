"""Argument types shared by the subcommands of the ``noisegen`` command line."""

from __future__ import annotations

import argparse

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


#: ``--sample-rate`` of every subcommand.
sample_rate_arg = int_in(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, "a sample rate in Hz")
