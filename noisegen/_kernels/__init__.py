"""Numba kernels. ``cpu/`` and ``cuda/`` hold the compiled loops; the modules
directly here hold scalar math written once for both targets."""
