"""Explicit-SIMD dot products, written as LLVM vector IR through a Numba intrinsic.

:func:`dot_products` computes several dot products of table rows with windows
of one signal; when they share one row, each vector of taps is loaded once
for all of them. Writing the
vectors out (instead of leaving a scalar loop to LLVM's vectoriser) fixes the
arithmetic: every dot product accumulates 32-byte vectors lane by lane with
multiply-adds (fused wherever the CPU has FMA) and sums its lanes in the
same tree, whatever the number of windows and the vector width of the CPU.
So one output computed alone or as one of twelve has the same bits (what
keeps the streaming resampler equal to the one-shot one), and the twelve
lane sums of a group are formed by shuffles across the accumulators instead
of one horizontal reduction each (measured speed-ups: bench/KERNELS.md).

:func:`folded_fir` is the other layout: consecutive outputs of a symmetric
FIR side by side in the lanes of a vector (on deinterleaved input, for the
integer decimator), so no lane sums at all.

Each has a pure-Python twin in :mod:`._twins`, which runs instead with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types

from ..._core.jit import intrinsic_or
from . import _twins

#: Width of one vector of taps (AVX2: 8 float32 or 4 float64).
VECTOR_BYTES = 32

_I32 = ir.IntType(32)


def _mask(lanes):
    return ir.Constant(ir.VectorType(_I32, len(lanes)), [ir.Constant(_I32, i) for i in lanes])


def _halve(builder, a, b, segments, seg_len):
    """Each of the ``segments`` segments of ``a`` then of ``b``: its first half plus its second half.

    The result holds ``2 * segments`` segments of ``seg_len / 2`` lanes: lane
    ``i`` of a segment is added to lane ``i + seg_len / 2``.
    """
    half, width = seg_len // 2, segments * seg_len
    firsts, seconds = [], []
    for source in (0, width):
        for s in range(segments):
            start = source + s * seg_len
            firsts += range(start, start + half)
            seconds += range(start + half, start + seg_len)
    return builder.fadd(builder.shuffle_vector(a, b, _mask(firsts)), builder.shuffle_vector(a, b, _mask(seconds)))


def _lane_sums(builder, vectors, lanes):
    """The lane sum of each vector, ``((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`` for 8 lanes.

    Vectors are halved in pairs, so a level costs one add per two vectors; a
    vector without a partner is paired with itself (its copy is not used).
    """
    level = [(v, [slot]) for slot, v in enumerate(vectors)]  # (vector, slot of each segment)
    seg_len = lanes
    while seg_len > 1:
        paired = []
        for p in range(0, len(level), 2):
            a, slots_a = level[p]
            b, slots_b = level[p + 1] if p + 1 < len(level) else (a, [None] * len(slots_a))
            paired.append((_halve(builder, a, b, len(slots_a), seg_len), slots_a + slots_b))
        level, seg_len = paired, seg_len // 2
    sums = [None] * len(vectors)
    for v, slots in level:
        for lane, slot in enumerate(slots):
            if slot is not None:
                sums[slot] = builder.extract_element(v, ir.Constant(_I32, lane))
    return sums


@intrinsic_or(_twins.py_dot_products)
def dot_products(typingctx, x, x_starts, h, h_starts, n):
    """``(h[r : r + n] . x[s : s + n] for s, r in zip(x_starts, h_starts))`` as a tuple.

    ``x`` and ``h`` are contiguous 1-D float arrays of one dtype, ``x_starts``
    a tuple of non-negative integers, ``h_starts`` a tuple as long or one
    integer shared by every product (its taps are then loaded once for all),
    and ``n`` a multiple of ``VECTOR_BYTES / itemsize``. Nothing is checked:
    the caller keeps every window inside its array.
    """
    if not (isinstance(x, types.Array) and isinstance(h, types.Array) and isinstance(x_starts, types.BaseTuple)):
        return None
    if not isinstance(x.dtype, types.Float) or h.dtype != x.dtype or x.ndim != 1 or h.ndim != 1:
        return None
    shared = isinstance(h_starts, types.Integer)
    h_types = [h_starts] if shared else list(getattr(h_starts, "types", ()))
    n_products = len(x_starts.types)
    if not shared and len(h_types) != n_products:
        return None
    if not all(isinstance(t, types.Integer) for t in list(x_starts.types) + h_types + [n]):
        return None
    sig = types.UniTuple(x.dtype, n_products)(x, x_starts, h, h_starts, n)

    def codegen(context, builder, signature, args):
        xty, xsty, hty, hsty, nty = signature.args
        fty = context.get_value_type(x.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        vty = ir.VectorType(fty, lanes)
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fmuladd.v{lanes}f{8 * size}"
        )
        i64 = ir.IntType(64)

        def pointers(array_type, array, starts, start_types):
            data = context.make_array(array_type)(context, builder, array).data
            return [builder.gep(data, [context.cast(builder, v, t, types.uint64)]) for v, t in zip(starts, start_types)]

        xs = pointers(xty, args[0], cgutils.unpack_tuple(builder, args[1], n_products), xsty.types)
        h_values = [args[3]] if shared else cgutils.unpack_tuple(builder, args[3], n_products)
        hs = pointers(hty, args[2], h_values, [hsty] if shared else hsty.types)
        n_vectors = builder.udiv(context.cast(builder, args[4], nty, types.uint64), ir.Constant(i64, lanes))
        zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(n_products)]  # registers after mem2reg

        def load(ptr, j):  # unaligned: a misaligned buffer is only slower
            return builder.load(builder.bitcast(builder.gep(ptr, [j]), vty.as_pointer()), align=size)

        with cgutils.for_range(builder, n_vectors) as loop:
            j = builder.mul(loop.index, ir.Constant(i64, lanes))
            taps = [load(p, j) for p in hs]
            for k, acc in enumerate(accs):
                tap = taps[0 if shared else k]
                builder.store(builder.call(fmuladd, [tap, load(xs[k], j), builder.load(acc)]), acc)
        sums = _lane_sums(builder, [builder.load(acc) for acc in accs], lanes)
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@intrinsic_or(_twins.py_lane_dots)
def lane_dots(typingctx, x, start, h, n_taps, out, count):
    """``out[i] = h[:n_taps] . x[start + i : start + i + n_taps]`` for ``i < count * lanes``
    (lanes: 8 float32 or 4 float64), each with the bits :func:`dot_products` gives it.

    :func:`dot_products` keeps a vector of partial sums per output, lane ``l`` multiply-adding
    the taps ``l, l + lanes, ...`` in turn, and sums its lanes in a fixed tree. Here a vector of
    neighbouring outputs sits across the lanes instead, with one vector of partial sums per lane
    ``l`` of that layout (the same multiply-adds, on the broadcast tap ``h[l + lanes v]``, in
    the same order), added in the same tree: no lane sums, one load per tap and output vector,
    and the taps held in registers (``n_taps``, a literal multiple of the lanes, unrolled).
    For the short fractional-delay filter of WSOLA (16 taps), where the lane sums of
    :func:`dot_products` cost more than the taps. Call it from an
    :func:`~noisegen._core.jit.exact_kernel`: fast-math flags on its adds and multiply-adds let
    LLVM reorder them (measured: 1-ulp differences), where those of :func:`dot_products` stay in
    place. Nothing is checked: the caller keeps every load inside ``x`` and every store inside ``out``.
    """
    if not (isinstance(x, types.Array) and isinstance(h, types.Array) and isinstance(out, types.Array)):
        return None
    if not isinstance(x.dtype, types.Float) or h.dtype != x.dtype or out.dtype != x.dtype:
        return None
    if x.ndim != 1 or h.ndim != 1 or out.ndim != 1 or not isinstance(n_taps, types.IntegerLiteral):
        return None
    if not all(isinstance(t, types.Integer) for t in (start, count)):
        return None
    sig = types.void(x, start, h, n_taps, out, count)

    def codegen(context, builder, signature, args):
        xty, sty, hty, _, oty, cty = signature.args
        fty = context.get_value_type(x.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        n = n_taps.literal_value
        if n % lanes:
            raise ValueError(f"lane_dots needs a multiple of {lanes} taps, got {n}")
        vty = ir.VectorType(fty, lanes)
        i64 = ir.IntType(64)
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fmuladd.v{lanes}f{8 * size}"
        )
        xd = context.make_array(xty)(context, builder, args[0]).data
        hd = context.make_array(hty)(context, builder, args[2]).data
        od = context.make_array(oty)(context, builder, args[4]).data
        xs = builder.gep(xd, [context.cast(builder, args[1], sty, types.int64)])

        def splat(scalar):
            v = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(_I32, 0))
            return builder.shuffle_vector(v, v, _mask([0] * lanes))

        taps = [splat(builder.load(builder.gep(hd, [ir.Constant(i64, t)]))) for t in range(n)]
        zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes)
        with cgutils.for_range(builder, context.cast(builder, args[5], cty, types.int64)) as loop:
            base = builder.mul(loop.index, ir.Constant(i64, lanes))
            level = []
            for lane in range(lanes):  # partial sums of lane `lane` of dot_products' layout
                acc = zero
                for t in range(lane, n, lanes):
                    ptr = builder.gep(xs, [builder.add(base, ir.Constant(i64, t))])
                    window = builder.load(builder.bitcast(ptr, vty.as_pointer()), align=size)
                    acc = builder.call(fmuladd, [taps[t], window, acc])
                level.append(acc)
            while len(level) > 1:  # dot_products' lane tree: lane l + lanes / 2 onto lane l, and so on
                half = len(level) // 2
                level = [builder.fadd(level[i], level[i + half]) for i in range(half)]
            builder.store(level[0], builder.bitcast(builder.gep(od, [base]), vty.as_pointer()), align=size)
        return context.get_dummy_value()

    return sig, codegen


#: Accumulators of :func:`folded_fir` (vectors of outputs side by side; 3 x 8 window
#: vectors and 8 accumulators fit the 32 vector registers of AVX-512 machines).
FIR_VECTORS = 8
#: Pairs per chain of :func:`folded_fir` (unrolled).
FIR_STEPS = 5


@intrinsic_or(_twins.py_folded_fir)
def folded_fir(typingctx, p, a_starts, b_starts, taps, centre, centre_tap, out, o):
    """``FIR_VECTORS`` vectors of outputs of a symmetric FIR on deinterleaved input, side by side.

    Lane ``l`` of vector ``r`` (output ``i = r * lanes + l``) is::

        centre_tap * p[centre + i]
          + sum over chains c, steps t of  taps[c * FIR_STEPS + t]
              * (p[a_starts[c] + i - lanes * t] + p[b_starts[c] + i + lanes * t])

    accumulated in that order (chain by chain, step by step), each pair
    added first and then multiply-added. Both members of a pair are forward
    loads, and a chain's steps move its two windows by one whole vector, so
    the vectors loaded for one output vector serve its neighbours at the next
    step: a chain of ``FIR_STEPS`` steps loads ``2 (FIR_VECTORS + FIR_STEPS
    - 1)`` vectors for ``2 FIR_STEPS FIR_VECTORS`` adds and multiply-adds.
    Every output has the same arithmetic whatever its position. Writes
    ``out[o : o + FIR_VECTORS * lanes]``; returns the sum of those outputs.
    Nothing is checked: the caller keeps every load inside ``p``.
    """
    arrays = (p, a_starts, b_starts, taps, out)
    if not all(isinstance(a, types.Array) and a.ndim == 1 for a in arrays):
        return None
    if not isinstance(p.dtype, types.Float) or taps.dtype != p.dtype or out.dtype != p.dtype:
        return None
    if not all(isinstance(t, types.Integer) for t in (a_starts.dtype, b_starts.dtype, centre, o)):
        return None
    sig = p.dtype(p, a_starts, b_starts, taps, centre, centre_tap, out, o)

    def codegen(context, builder, signature, args):
        pty, aty, bty, tty, cty, ctty, oty, ity = signature.args
        fty = context.get_value_type(pty.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        vty = ir.VectorType(fty, lanes)
        i64 = ir.IntType(64)
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fmuladd.v{lanes}f{8 * size}"
        )

        def data(array_type, value):
            return context.make_array(array_type)(context, builder, value).data

        pd, ad, bd, td = (data(t, v) for t, v in zip((pty, aty, bty, tty), args[:4]))
        od = data(oty, args[6])

        def as64(value, ty):
            return context.cast(builder, value, ty, types.int64)

        def load(index):  # unaligned vector at p[index]
            return builder.load(builder.bitcast(builder.gep(pd, [index]), vty.as_pointer()), align=size)

        def splat(scalar):
            v = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(_I32, 0))
            return builder.shuffle_vector(v, v, _mask([0] * lanes))

        def at(index, k):
            return builder.add(index, ir.Constant(i64, k))

        centre = as64(args[4], cty)
        mid = splat(context.cast(builder, args[5], ctty, pty.dtype))
        accs = [cgutils.alloca_once_value(builder, builder.fmul(mid, load(at(centre, r * lanes))))
                for r in range(FIR_VECTORS)]
        n_chains = builder.extract_value(context.make_array(aty)(context, builder, args[1]).shape, 0)
        with cgutils.for_range(builder, n_chains) as loop:
            c = loop.index
            a0 = as64(builder.load(builder.gep(ad, [c])), aty.dtype)
            b0 = as64(builder.load(builder.gep(bd, [c])), bty.dtype)
            t0 = builder.mul(c, ir.Constant(i64, FIR_STEPS))
            a_vecs, b_vecs = {}, {}  # window vectors by their index q (in whole vectors), loaded once
            vals = [builder.load(acc) for acc in accs]
            for t in range(FIR_STEPS):
                tap = splat(builder.load(builder.gep(td, [at(t0, t)])))
                for r in range(FIR_VECTORS):
                    qa, qb = r - t, r + t
                    if qa not in a_vecs:
                        a_vecs[qa] = load(at(a0, qa * lanes))
                    if qb not in b_vecs:
                        b_vecs[qb] = load(at(b0, qb * lanes))
                    vals[r] = builder.call(fmuladd, [tap, builder.fadd(a_vecs[qa], b_vecs[qb]), vals[r]])
            for acc, v in zip(accs, vals):
                builder.store(v, acc)
        vals = [builder.load(acc) for acc in accs]
        base = as64(args[7], ity)
        total = None
        for r, v in enumerate(vals):
            builder.store(v, builder.bitcast(builder.gep(od, [at(base, r * lanes)]), vty.as_pointer()), align=size)
            total = v if total is None else builder.fadd(total, v)
        return _lane_sums(builder, [total], lanes)[0]

    return sig, codegen


#: Lanes of one partial-sum vector of :func:`one_pole_bank` (the order its sums follow).
BANK_CHUNK = 4


@intrinsic_or(_twins.py_fmuladd)
def fmuladd(typingctx, a, b, c):
    """``a * b + c`` in float64 as ``llvm.fmuladd``: fused wherever the CPU has FMA, as the vector
    multiply-adds of :func:`one_pole_bank` are; the scalar twin that lets a loop keep their bits."""
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        fty = ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(fty, [fty] * 3), "llvm.fmuladd.f64")
        return builder.call(fn, list(args))

    return sig, codegen


@intrinsic_or(_twins.py_one_pole_bank)
def one_pole_bank(typingctx, x, y, n, direct, poles, residues, state, chunks, rest):
    """``y[j] = direct x[j] + sum_k residues[k] s_k[j]``, ``s_k[j] = poles[k] s_k[j - 1] + x[j]``, j < n.

    ``K = BANK_CHUNK * chunks + rest`` sections (``chunks`` and ``rest``
    literals): their states are one vector, so each sample costs one vector
    multiply-add on the loop-carried chain whatever the number of sections.
    The sum keeps the order of the section-by-section loop it replaces (as
    LLVM vectorised that loop, 4 lanes): ``[direct x, 0, 0, 0]``, multiply-
    added chunk by chunk with 4 sections, summed as ``(a0 + a2) + (a1 + a3)``,
    then the last ``rest`` sections one by one; so ``y[j]`` does not depend
    on how the samples are split into calls. ``poles``, ``residues`` and
    ``state`` (``s_k[-1]``, updated to ``s_k[n - 1]``) are float64 arrays of
    ``K`` entries padded with zeros to a whole number of chunks, ``x`` and
    ``y`` float64. Nothing is checked. Call it from an
    :func:`~noisegen._core.jit.exact_kernel`: fast-math flags on its adds
    would let LLVM reorder them.
    """
    arrays = (x, y, poles, residues, state)
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.float64 for a in arrays):
        return None
    if not (isinstance(chunks, types.IntegerLiteral) and isinstance(rest, types.IntegerLiteral)):
        return None
    if not (isinstance(n, types.Integer) and isinstance(direct, types.Float)):
        return None
    n_chunks, n_rest = chunks.literal_value, rest.literal_value
    if not 0 <= n_rest < BANK_CHUNK:
        return None
    width = BANK_CHUNK * (n_chunks + (n_rest > 0))  # whole chunks: an odd width would be scalarised
    sig = types.void(x, y, n, direct, poles, residues, state, chunks, rest)

    def codegen(context, builder, signature, args):
        fty = ir.DoubleType()
        cty = ir.VectorType(fty, BANK_CHUNK)  # the states as chunk vectors (a wide odd vector gets split)
        chunk_fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(cty, [cty] * 3), f"llvm.fmuladd.v{BANK_CHUNK}f64")
        scalar_fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(fty, [fty] * 3), "llvm.fmuladd.f64")
        data = [context.make_array(t)(context, builder, a).data
                for t, a in zip((x, y, poles, residues, state), (args[0], args[1], args[4], args[5], args[6]))]
        xd, yd, pd, rd, sd = data
        d = context.cast(builder, args[3], signature.args[3], types.float64)

        def chunk_ptr(ptr, c):
            return builder.bitcast(builder.gep(ptr, [ir.Constant(ir.IntType(64), c * BANK_CHUNK)]), cty.as_pointer())

        def lane(v, k):
            return builder.extract_element(v, ir.Constant(_I32, k))

        n_vectors = width // BANK_CHUNK
        p = [builder.load(chunk_ptr(pd, c), align=8) for c in range(n_vectors)]
        r = [builder.load(chunk_ptr(rd, c), align=8) for c in range(n_vectors)]
        accs = [cgutils.alloca_once_value(builder, builder.load(chunk_ptr(sd, c), align=8)) for c in range(n_vectors)]
        zero = ir.Constant(cty, [ir.Constant(fty, 0.0)] * BANK_CHUNK)
        count = context.cast(builder, args[2], signature.args[2], types.int64)
        with cgutils.for_range(builder, count) as loop:
            xj = builder.load(builder.gep(xd, [loop.index]))
            splat = builder.shuffle_vector(builder.insert_element(ir.Constant(cty, ir.Undefined), xj,
                                                                  ir.Constant(_I32, 0)),
                                           ir.Constant(cty, ir.Undefined), _mask([0] * BANK_CHUNK))
            s = [builder.call(chunk_fma, [p[c], builder.load(acc), splat]) for c, acc in enumerate(accs)]
            for v, acc in zip(s, accs):
                builder.store(v, acc)
            total = builder.fmul(d, xj)
            if n_chunks:
                part = builder.insert_element(zero, total, ir.Constant(_I32, 0))
                for c in range(n_chunks):
                    part = builder.call(chunk_fma, [r[c], s[c], part])
                total = builder.fadd(builder.fadd(lane(part, 0), lane(part, 2)),
                                     builder.fadd(lane(part, 1), lane(part, 3)))
            for k in range(n_rest):
                total = builder.call(scalar_fma, [lane(r[n_chunks], k), lane(s[n_chunks], k), total])
            builder.store(total, builder.gep(yd, [loop.index]))
        for c, acc in enumerate(accs):
            builder.store(builder.load(acc), chunk_ptr(sd, c), align=8)
        return context.get_dummy_value()

    return sig, codegen

