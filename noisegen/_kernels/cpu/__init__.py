"""CPU kernels (Numba ``njit``), compiled lazily on first call and cached."""
