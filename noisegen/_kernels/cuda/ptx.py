"""Compile every CUDA kernel to PTX without a GPU: ``python -m noisegen._kernels.cuda.ptx [cc]``.

The simulator runs the kernels as Python, so it cannot catch what only the
real compiler rejects (typing of device functions, unsupported calls). This
check compiles each kernel, for float32 and float64 audio, with numba-cuda's
NVVM for a compute capability (default 8.0) and needs the CUDA toolkit's
libNVVM (``pip install 'numba-cuda[cu13]'`` or a CUDA toolkit) but no driver.
It prints one line per kernel and exits non-zero on the first failure.

numba-cuda compiles device functions for the *current* device's compute
capability; with no device, this script answers that question itself (the
same capability as the PTX target). Nothing else is changed.
"""

from __future__ import annotations

import sys


def signatures():
    """``[(name, kernel, signature)]`` of every CUDA kernel, float32 and float64."""
    from numba import types as t

    from . import biquad, mix, noise, resample

    u64, i64, f64 = t.uint64[::1], t.int64[::1], t.float64[::1]
    out = []
    for f in (t.float32, t.float64):
        a2 = f[:, ::1]
        fv = f[::1]
        out += [
            (f"noise.white[{f}]", noise.white, (a2, u64, u64, t.int64)),
            (f"noise.colored[{f}]", noise.colored, (a2, u64, u64, t.int64, t.float64[:, ::1], t.float64[:, ::1], f64,
                                                    t.float64[:, :, ::1], t.float64[:, :, ::1], t.float64[:, ::1])),
            (f"mix.row_sum_squares[{f}]", mix.row_sum_squares, (a2, i64, t.int64, f64)),
            (f"mix.mix_rows[{f}]", mix.mix_rows, (a2, a2, i64, f64, a2)),
            (f"mix.gain_rows[{f}]", mix.gain_rows, (a2, fv, a2)),
            (f"mix.clip_rows[{f}]", mix.clip_rows, (a2, fv, a2)),
            (f"mix.bitcrush_rows[{f}]", mix.bitcrush_rows, (a2, fv, a2)),
            (f"mix.time_mask_rows[{f}]", mix.time_mask_rows, (a2, i64, i64, i64, a2)),
            (f"biquad.sosfilt_rows[{f}]", biquad.sosfilt_rows, (t.float64[:, :, ::1], a2, a2, t.float64[:, :, ::1])),
            (f"resample.resample_rows[{f}]", resample.resample_rows, (a2, i64, f64, t.int64[:, ::1], f64, i64, a2)),
        ]
    out.append(("mix.snr_scales", mix.snr_scales, (f64, f64, f64, f64)))
    return out


def compile_all(cc=(8, 0), verbose=True):
    """Compile every kernel to PTX for ``cc``; return ``{name: ptx}``."""
    from numba import cuda
    from numba.cuda import dispatcher

    class _Target:
        compute_capability = cc

    dispatcher.get_current_device = lambda: _Target()
    result = {}
    for name, kern, sig in signatures():
        ptx, _ = cuda.compile_ptx(kern.py_func, sig, cc=cc)
        result[name] = ptx
        if verbose:
            print(f"ok  {name}  ({len(ptx.splitlines())} PTX lines, sm_{cc[0]}{cc[1]})")
    return result


if __name__ == "__main__":
    cc = tuple(int(v) for v in sys.argv[1].split(".")) if len(sys.argv) > 1 else (8, 0)
    compile_all(cc)
