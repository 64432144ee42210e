"""Bit-reader primitives as LLVM intrinsics: a big-endian 64-bit load and a leading-zero count.

Numba has neither as a public function; written as byte loads and shifts,
the FLAC decoder's bit reader ran at half of libFLAC's speed (LLVM does not
merge the eight loads into one, nor a shift ladder into ``lzcnt``).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_I64 = ir.IntType(64)


@intrinsic
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


@intrinsic
def leading_zeros(typingctx, w):
    """Leading zero bits of a uint64 (64 for 0)."""
    if w != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        ctlz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_I64, ir.IntType(1)]),
                                              "llvm.ctlz.i64")
        return builder.call(ctlz, [args[0], ir.Constant(ir.IntType(1), 0)])

    return types.int64(w), codegen
