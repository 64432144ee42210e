"""Leaves every layer uses: errors, argument validation, jit options, the
backend choice, RNG keys, units, progress and warning labels."""
