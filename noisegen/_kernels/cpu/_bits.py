"""Bit-reader primitives: a big-endian 64-bit load and a leading-zero count as LLVM intrinsics,
and the FLAC decoder's readers of a field at any bit position built on them.

Numba has neither intrinsic as a public function; written as byte loads and
shifts, the FLAC decoder's bit reader ran at half of libFLAC's speed (LLVM does
not merge the eight loads into one, nor a shift ladder into ``lzcnt``).
The readers peek at ``buf``, which must hold 8 bytes past any position read
(the FLAC caller pads its data with zeros). Each intrinsic has a pure-Python twin (``py_*``),
which runs instead with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types

from ..._core.jit import intrinsic_or, kernel

_I64 = ir.IntType(64)


def py_load_be64(buf, i):
    """Twin of :func:`load_be64` (for ``NUMBA_DISABLE_JIT=1``)."""
    return np.uint64(int.from_bytes(buf[i:i + 8].tobytes(), "big"))


@intrinsic_or(py_load_be64)
def load_be64(typingctx, buf, i):
    """The 8 bytes ``buf[i:i + 8]`` of a C-contiguous uint8 array as a big-endian uint64 (unchecked)."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        at = builder.gep(array.data, [args[1]])
        word = builder.load(builder.bitcast(at, _I64.as_pointer()), align=1)
        swap = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_I64]), "llvm.bswap.i64")
        return builder.call(swap, [word])

    return types.uint64(buf, i), codegen


def py_leading_zeros(w):
    """Twin of :func:`leading_zeros` (for ``NUMBA_DISABLE_JIT=1``)."""
    return np.int64(64 - int(w).bit_length())


@intrinsic_or(py_leading_zeros)
def leading_zeros(typingctx, w):
    """Leading zero bits of a uint64 (64 for 0)."""
    if w != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        ctlz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_I64, ir.IntType(1)]),
                                              "llvm.ctlz.i64")
        return builder.call(ctlz, [args[0], ir.Constant(ir.IntType(1), 0)])

    return types.int64(w), codegen


@kernel
def _peek(buf, bp):
    """The 64 bits of ``buf`` from bit ``bp`` (MSB first; at least 57 of them valid)."""
    return load_be64(buf, bp >> 3) << np.uint64(bp & 7)


@kernel
def _bits(buf, bp, n):
    """The unsigned ``n``-bit number (1 <= n <= 57) at bit ``bp``."""
    return np.int64(_peek(buf, bp) >> np.uint64(64 - n))


@kernel
def _signed(buf, bp, n):
    """The two's-complement ``n``-bit number (0 <= n <= 33) at bit ``bp``."""
    if n == 0:
        return np.int64(0)
    v = _bits(buf, bp, n)
    if v >= np.int64(1) << (n - 1):
        v -= np.int64(1) << n
    return v


@kernel
def _zeros(buf, bp, end):
    """Zero bits at ``bp`` before the next one bit, or -1 when none comes before bit ``end``."""
    at = bp
    while at < end:
        w = _peek(buf, at)
        if w != 0:
            one = at + leading_zeros(w)
            return one - bp if one < end else -1
        at += 56
    return -1


def py_load_le64(buf, i):
    """Twin of :func:`load_le64` (for ``NUMBA_DISABLE_JIT=1``)."""
    return np.uint64(int.from_bytes(buf[i:i + 8].tobytes(), "little"))


@intrinsic_or(py_load_le64)
def load_le64(typingctx, buf, i):
    """The 8 bytes ``buf[i:i + 8]`` of a C-contiguous uint8 array as a little-endian uint64 (unchecked)."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        at = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(at, _I64.as_pointer()), align=1)

    return types.uint64(buf, i), codegen
