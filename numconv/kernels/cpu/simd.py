"""Register-blocked GEMM micro-kernels, CPU: the accumulators live in vector registers.

Numba's loop vectorizer vectorizes innermost loops only, so a block of a GEMM written in Python
keeps its accumulators in memory and streams them through L1 on every pass (120-180 GFLOP/s
here). The two kernels below are written in LLVM's vector IR instead, through
``numba.extending.intrinsic``; each is the textbook loop of its form of a GEMM.

``make_block``, the outer-product form (``C (+)= W . S``)::

    for k in range(K):                         # the shared index
        s = S[s0 + off[k] : ... + NV vectors]  # one row of the right factor
        for r in range(MR):
            C[r, :] += W[k, r] * s             # a broadcast times NV vectors: NV fused multiply-adds

with the MR x NV vectors of ``C`` in registers for the whole loop over k, written once at the end.
With 16-lane vectors (AVX-512), MR = 8 and NV = 2 take 16 of the 32 vector registers and the loop
is bound by the two FMA units: about 200 GFLOP/s on one core here. Each row of ``S`` is found
through an offset table ``off``, so rows may be shifted slices (the taps of ``conv_planes``) or
rows at a fixed stride (the GEMMs of ``conv_winograd``). ``W`` is packed: the MR weights of one k
are adjacent (``gemm.pack_rows``).

``make_dot``, the dot-product form (``C += A . S^T``, both factors contiguous along the shared
index), for the weight gradients' sums over positions::

    for q in range(0, n, lanes):               # the shared index, a vector at a time
        for r, c: acc[r][c] += A[r, q:q+lanes] * S[s0 + off[c] + q : ...]
    C[r, c] += sum of acc[r][c]'s lanes

The vector width follows the host: 16 float32 lanes with AVX-512, 8 with AVX, 4 otherwise (LLVM
splits wider vectors, so the width is only a matter of speed). A partial last vector is read and
written with masked loads and stores, so no caller needs a scalar tail. Neither kernel checks
bounds; their callers in ``gemm.py`` do when Numba's bounds checking is on.
"""
import os

from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _register_bytes() -> int:
    """Bytes per vector register on this host; NUMCONV_SIMD_BYTES (16, 32 or 64) overrides it, so
    the tests can run the narrower widths of other hosts here."""
    forced = os.environ.get("NUMCONV_SIMD_BYTES")
    if forced:
        if forced not in ("16", "32", "64"):
            raise ValueError(f"NUMCONV_SIMD_BYTES must be 16, 32 or 64, got {forced!r}")
        return int(forced)
    features = llvm_binding.get_host_cpu_features()
    if features.get("avx512f"):
        return 64
    return 32 if features.get("avx") else 16


REGISTER_BYTES = _register_bytes()


class _Vectors:
    """IR for vectors of one float dtype, one register wide."""

    def __init__(self, context, builder, dtype):
        self.b = builder
        self.i64 = ir.IntType(64)
        self.i32 = ir.IntType(32)
        self.width = REGISTER_BYTES // (dtype.bitwidth // 8)
        self.align = dtype.bitwidth // 8
        self.vt = ir.VectorType(context.get_value_type(dtype), self.width)
        self.vp = self.vt.as_pointer()
        self.zero = ir.Constant(self.vt, [0.0] * self.width)
        name = self.name = f"v{self.width}{'f32' if dtype.bitwidth == 32 else 'f64'}"
        mt = ir.VectorType(ir.IntType(1), self.width)
        module = builder.module
        self._fma = cgutils.get_or_insert_function(module, ir.FunctionType(self.vt, [self.vt] * 3), f"llvm.fma.{name}")
        self._mload = cgutils.get_or_insert_function(
            module, ir.FunctionType(self.vt, [self.vp, self.i32, mt, self.vt]), f"llvm.masked.load.{name}.p0")
        self._mstore = cgutils.get_or_insert_function(
            module, ir.FunctionType(ir.VoidType(), [self.vt, self.vp, self.i32, mt]), f"llvm.masked.store.{name}.p0")

    def const(self, value):
        return ir.Constant(self.i64, value)

    def mask(self, count):
        """Lanes [0, count) on."""
        lanes = ir.Constant(ir.VectorType(self.i64, self.width), list(range(self.width)))
        return self.b.icmp_signed("<", lanes, self.splat(count, ir.VectorType(self.i64, self.width)))

    def splat(self, value, vt=None):
        vt = vt or self.vt
        one = self.b.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(self.i32, 0))
        return self.b.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                     ir.Constant(ir.VectorType(self.i32, vt.count), [0] * vt.count))

    def load(self, ptr, mask=None):
        """The vector at ``ptr`` (an element pointer); masked-off lanes read as zero and touch no memory."""
        p = self.b.bitcast(ptr, self.vp)
        if mask is None:
            return self.b.load(p, align=self.align)
        return self.b.call(self._mload, [p, ir.Constant(self.i32, self.align), mask, self.zero])

    def compress_store(self, value, ptr, mask):
        """The lanes of ``value`` under ``mask``, stored one after another from ``ptr`` (an element pointer)."""
        mt = ir.VectorType(ir.IntType(1), self.width)
        fn = cgutils.get_or_insert_function(self.b.module, ir.FunctionType(
            ir.VoidType(), [self.vt, ptr.type, mt]), f"llvm.masked.compressstore.{self.name}")
        self.b.call(fn, [value, ptr, mask])

    def store(self, value, ptr, mask=None):
        p = self.b.bitcast(ptr, self.vp)
        if mask is None:
            self.b.store(value, p, align=self.align)
        else:
            self.b.call(self._mstore, [value, p, ir.Constant(self.i32, self.align), mask])

    def splat_const(self, value):
        return ir.Constant(self.vt, [value] * self.width)

    def fma(self, a, b, c):
        return self.b.call(self._fma, [a, b, c])

    def hsum(self, vec):
        """The sum of the lanes, by halves (a fixed order)."""
        n = self.width
        while n > 1:
            n //= 2
            lo = self.b.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(self.i32, n), list(range(n))))
            hi = self.b.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(self.i32, n), list(range(n, 2 * n))))
            vec = self.b.fadd(lo, hi)
        return self.b.extract_element(vec, ir.Constant(self.i32, 0))

    def loop(self, start, stop, step, carried, body):
        """``for i in range(start, stop, step): carried = body(i, carried)``, the carried vectors in
        registers (phi nodes); returns their final values."""
        b = self.b
        entry = b.block
        head = b.append_basic_block("loop.head")
        inner = b.append_basic_block("loop.body")
        done = b.append_basic_block("loop.done")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(self.i64)
        i.add_incoming(start, entry)
        phis = []
        for value in carried:
            phi = b.phi(value.type)
            phi.add_incoming(value, entry)
            phis.append(phi)
        b.cbranch(b.icmp_signed("<", i, stop), inner, done)
        b.position_at_end(inner)
        new = body(i, phis)
        i.add_incoming(b.add(i, step), b.block)
        for phi, value in zip(phis, new):
            phi.add_incoming(value, b.block)
        b.branch(head)
        b.position_at_end(done)
        return phis


def _arrays_ok(dtype, arrays, off):
    return (all(isinstance(a, types.Array) and a.layout == "C" for a in arrays + (off,))
            and isinstance(dtype, types.Float) and all(a.dtype == dtype for a in arrays) and off.dtype == types.int64)


def _floats_ok(D, S, tables=()):
    """D and S C-contiguous arrays of one float dtype, the ``tables`` C-contiguous int64 arrays."""
    return (all(isinstance(a, types.Array) and a.layout == "C" for a in (D, S) + tuple(tables))
            and isinstance(D.dtype, types.Float) and S.dtype == D.dtype
            and all(t.dtype == types.int64 for t in tables))


def _int64s(context, builder, signature, args, which):
    return [context.cast(builder, args[i], signature.args[i], types.int64) for i in which]


def _data(context, builder, signature, args, which):
    return [context.make_array(signature.args[i])(context, builder, args[i]).data for i in which]


def make_block(MR: int, NV: int, masked: bool):
    """The intrinsic ``block(C, c0, ldc, W, w0, S, s0, off, K, n, B, b0, init)``::

        C.flat[c0 + r*ldc + q] = start[r, q] + sum_{k<K} W.flat[w0 + k*MR + r] * S.flat[s0 + off[k] + q]

    for r < MR and q < n, where n is NV vectors (fewer, if ``masked``), and ``start`` is zero
    (init 0), C itself (init 1: accumulate) or B.flat[b0 + r] (init 2: a bias per row; B is read
    only then)."""

    @intrinsic
    def block(typingctx, C, c0, ldc, W, w0, S, s0, off, K, n, B, b0, init):
        if not _arrays_ok(C.dtype, (C, W, S, B), off):
            return None
        sig = types.void(C, c0, ldc, W, w0, S, s0, off, K, n, B, b0, init)

        def codegen(context, builder, signature, args):
            cptr, wptr, sptr, optr, bptr = _data(context, builder, signature, args, (0, 3, 5, 7, 10))
            c0_, ldc_, w0_, s0_, K_, n_, b0_, init_ = _int64s(context, builder, signature, args,
                                                             (1, 2, 4, 6, 8, 9, 11, 12))
            v = _Vectors(context, builder, C.dtype)
            masks = [v.mask(builder.sub(n_, v.const(j * v.width))) if masked else None for j in range(NV)]
            rows = [builder.gep(cptr, [builder.add(c0_, builder.mul(ldc_, v.const(r)))]) for r in range(MR)]

            def at(row, j):
                return builder.gep(row, [v.const(j * v.width)])

            from_c = builder.icmp_signed("==", init_, v.const(1))
            from_b = builder.icmp_signed("==", init_, v.const(2))
            init = []
            for r in range(MR):  # the bias's element is read through a pointer that is valid either way
                bias = v.splat(builder.load(builder.select(from_b, builder.gep(bptr, [builder.add(b0_, v.const(r))]),
                                                           rows[r])))
                for j in range(NV):
                    start = builder.select(from_c, v.load(at(rows[r], j), masks[j]), v.zero)
                    init.append(builder.select(from_b, bias, start))

            def step(k, accs):  # one k: NV vectors of S's row, MR broadcast weights, MR x NV multiply-adds
                srow = builder.gep(sptr, [builder.add(s0_, builder.load(builder.gep(optr, [k])))])
                s = [v.load(at(srow, j), masks[j]) for j in range(NV)]
                wrow = builder.gep(wptr, [builder.add(w0_, builder.mul(k, v.const(MR)))])
                out = []
                for r in range(MR):
                    wr = v.splat(builder.load(builder.gep(wrow, [v.const(r)])))
                    out.extend(v.fma(wr, s[j], accs[r * NV + j]) for j in range(NV))
                return out

            accs = v.loop(v.const(0), K_, v.const(1), init, step)
            for r in range(MR):
                for j in range(NV):
                    v.store(accs[r * NV + j], at(rows[r], j), masks[j])
            return context.get_dummy_value()

        return sig, codegen

    return block


def make_dot(MR: int, NC: int):
    """The intrinsic ``dot(C, c0, ldc, A, a0, lda, S, s0, off, n)``::

        C.flat[c0 + r*ldc + c] += sum_{q<n} A.flat[a0 + r*lda + q] * S.flat[s0 + off[c] + q]

    for r < MR and c < NC."""

    @intrinsic
    def dot(typingctx, C, c0, ldc, A, a0, lda, S, s0, off, n):
        if not _arrays_ok(C.dtype, (C, A, S), off):
            return None
        sig = types.void(C, c0, ldc, A, a0, lda, S, s0, off, n)

        def codegen(context, builder, signature, args):
            cptr, aptr, sptr, optr = _data(context, builder, signature, args, (0, 3, 6, 8))
            c0_, ldc_, a0_, lda_, s0_, n_ = _int64s(context, builder, signature, args, (1, 2, 4, 5, 7, 9))
            v = _Vectors(context, builder, C.dtype)
            arows = [builder.gep(aptr, [builder.add(a0_, builder.mul(lda_, v.const(r)))]) for r in range(MR)]
            srows = [builder.gep(sptr, [builder.add(s0_, builder.load(builder.gep(optr, [v.const(c)])))])
                     for c in range(NC)]

            def step(q, accs, mask=None):  # one vector of positions: MR + NC loads, MR x NC multiply-adds
                a = [v.load(builder.gep(arows[r], [q]), mask) for r in range(MR)]
                out = list(accs)
                for c in range(NC):
                    s = v.load(builder.gep(srows[c], [q]), mask)
                    for r in range(MR):
                        out[r * NC + c] = v.fma(a[r], s, out[r * NC + c])
                return out

            full = builder.sub(n_, builder.srem(n_, v.const(v.width)))
            accs = v.loop(v.const(0), full, v.const(v.width), [v.zero] * (MR * NC), step)
            accs = step(full, accs, v.mask(builder.sub(n_, full)))  # the partial last vector (maybe empty)
            for r in range(MR):
                for c in range(NC):
                    p = builder.gep(cptr, [builder.add(c0_, builder.add(builder.mul(ldc_, v.const(r)), v.const(c)))])
                    builder.store(builder.fadd(builder.load(p), v.hsum(accs[r * NC + c])), p)
            return context.get_dummy_value()

        return sig, codegen

    return dot


# ----------------------------------------------------------------------------- linear maps down rows
#
# Winograd's transforms apply a small constant matrix down a set of rows, element by element, and
# split or merge rows by column phase. Written as Python loops over short rows, Numba's vectorizer
# leaves them scalar (it cannot prove that a dozen row views do not alias, and rows of 7 tiles are
# shorter than a vector); these are the same loops in vector IR, the last vector masked.


def make_combine(matrix, rows, shifts, compress=False):
    """The intrinsic ``combine(D, d0, dstride, S, s0, sstride, n)``::

        D.flat[d0 + a*dstride + q] = sum_i matrix[a][i] * S.flat[s0 + rows[i]*sstride + shifts[i] + q]

    for every row a of ``matrix`` and q < n. The coefficients are compile-time constants: ones are
    additions, zeros cost nothing, the rest are fused multiply-adds in the order of i.

    With ``compress``, ``combine(D, d0, dstride, S, s0, sstride, n, period)`` drops the last q of
    every ``period`` and packs the rest: q goes to D.flat[d0 + a*dstride + q - q // period], unless
    q % period == period - 1 (compress-stores; the dropped q are still read)."""
    matrix = [[float(c) for c in row] for row in matrix]
    assert all(len(row) == len(rows) for row in matrix) and len(rows) == len(shifts)

    def typed(D, S, args):
        """(signature, codegen), or None (no match) unless D and S are C arrays of one float dtype."""
        if not _floats_ok(D, S):
            return None
        return types.void(*args), codegen

    def codegen(context, builder, signature, args):
        dptr, sptr = _data(context, builder, signature, args, (0, 3))
        d0_, dstride_, s0_, sstride_, n_ = _int64s(context, builder, signature, args, (1, 2, 4, 5, 6))
        v = _Vectors(context, builder, signature.args[0].dtype)
        it = ir.VectorType(v.i64, v.width)
        srows = [builder.gep(sptr, [builder.add(s0_, builder.add(builder.mul(sstride_, v.const(r)), v.const(s)))])
                 for r, s in zip(rows, shifts)]
        drows = [builder.gep(dptr, [builder.add(d0_, builder.mul(dstride_, v.const(a)))])
                 for a in range(len(matrix))]
        if compress:
            period_ = _int64s(context, builder, signature, args, (7,))[0]
            wrap = builder.srem(v.const(v.width), period_)  # how far the lanes' phases move per vector
            phase0 = builder.srem(ir.Constant(it, list(range(v.width))), v.splat(period_, it))

        def step(q, carried, mask=None):
            loaded = {}

            def inp(i):
                if i not in loaded:
                    loaded[i] = v.load(builder.gep(srows[i], [q]), mask)
                return loaded[i]

            if compress:  # lanes kept: not the last of a period (and inside n)
                phase = carried[0]
                keep = builder.icmp_signed("!=", phase, v.splat(builder.sub(period_, v.const(1)), it))
                keep = keep if mask is None else builder.and_(keep, mask)
                at = builder.sub(q, builder.sdiv(q, period_))
            for a, row in enumerate(matrix):
                acc = None
                for i, c in enumerate(row):
                    if c == 0.0:
                        continue
                    x = inp(i)
                    if acc is None:
                        acc = x if c == 1.0 else builder.fneg(x) if c == -1.0 else builder.fmul(v.splat_const(c), x)
                    elif c == 1.0:
                        acc = builder.fadd(acc, x)
                    elif c == -1.0:
                        acc = builder.fsub(acc, x)
                    else:
                        acc = v.fma(v.splat_const(c), x, acc)
                acc = v.zero if acc is None else acc
                if compress:
                    v.compress_store(acc, builder.gep(drows[a], [at]), keep)
                else:
                    v.store(acc, builder.gep(drows[a], [q]), mask)
            if not compress:
                return carried
            moved = builder.add(phase, v.splat(wrap, it))
            over = builder.icmp_signed(">=", moved, v.splat(period_, it))
            return [builder.select(over, builder.sub(moved, v.splat(period_, it)), moved)]

        full = builder.sub(n_, builder.srem(n_, v.const(v.width)))
        carried = v.loop(v.const(0), full, v.const(v.width), [phase0] if compress else [], step)
        step(full, carried, v.mask(builder.sub(n_, full)))  # the partial last vector (maybe empty)
        return context.get_dummy_value()

    if compress:
        @intrinsic
        def combine(typingctx, D, d0, dstride, S, s0, sstride, n, period):
            return typed(D, S, (D, d0, dstride, S, s0, sstride, n, period))
    else:
        @intrinsic
        def combine(typingctx, D, d0, dstride, S, s0, sstride, n):
            return typed(D, S, (D, d0, dstride, S, s0, sstride, n))

    return combine


def _lane_mask(v, first, lo, hi):
    """Lanes l with lo <= first + l < hi."""
    it = ir.VectorType(v.i64, v.width)
    cols = v.b.add(v.splat(first, it), ir.Constant(it, list(range(v.width))))
    return v.b.and_(v.b.icmp_signed(">=", cols, v.splat(lo, it)), v.b.icmp_signed("<", cols, v.splat(hi, it)))


@intrinsic
def split4(typingctx, D, d0, dstride, S, s0, c0, W, groups):
    """``split4(D, d0, dstride, S, s0, c0, W, groups)``: the columns of a row split by position mod 4::

        D.flat[d0 + p*dstride + g] = S.flat[s0 + c] if 0 <= c < W else 0,   c = c0 + 4*g + p

    for p < 4 and g < groups: a row of W elements from ``s0`` read from column c0 (which may be
    negative: its padding reads as zero and touches no memory), four vectors at a time,
    deinterleaved by shuffles."""
    if not _floats_ok(D, S):
        return None
    sig = types.void(D, d0, dstride, S, s0, c0, W, groups)

    def codegen(context, builder, signature, args):
        dptr, sptr = _data(context, builder, signature, args, (0, 3))
        d0_, dstride_, s0_, c0_, W_, groups_ = _int64s(context, builder, signature, args, (1, 2, 4, 5, 6, 7))
        v = _Vectors(context, builder, D.dtype)
        w = v.width
        half = [ir.Constant(ir.VectorType(v.i32, w // 2), [p + 4 * l for l in range(w // 2)]) for p in range(4)]
        both = ir.Constant(ir.VectorType(v.i32, w), list(range(w)))
        drows = [builder.gep(dptr, [builder.add(d0_, builder.mul(dstride_, v.const(p)))]) for p in range(4)]

        def step(g, carried):  # groups g .. g + w: columns c0 + 4g .. c0 + 4g + 4w
            first = builder.add(c0_, builder.mul(g, v.const(4)))
            vecs = []
            for k in range(4):
                col = builder.add(first, v.const(k * w))
                vecs.append(v.load(builder.gep(sptr, [builder.add(s0_, col)]), _lane_mask(v, col, v.const(0), W_)))
            store = _lane_mask(v, g, v.const(0), groups_)
            for p in range(4):
                lo = builder.shuffle_vector(vecs[0], vecs[1], half[p])
                hi = builder.shuffle_vector(vecs[2], vecs[3], half[p])
                v.store(builder.shuffle_vector(lo, hi, both), builder.gep(drows[p], [g]), store)
            return carried

        v.loop(v.const(0), groups_, v.const(w), [], step)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def merge4(typingctx, D, d0, c0, W, S, s0, sstride, groups, bias):
    """``merge4(D, d0, c0, W, S, s0, sstride, groups, bias)``, the inverse of ``split4``::

        D.flat[d0 + c] = S.flat[s0 + p*sstride + g] + bias   for c = c0 + 4*g + p, if 0 <= c < W

    for p < 4 and g < groups: four rows of phases interleaved into one row of W elements, by
    shuffles; columns outside [0, W) are not written."""
    if not _floats_ok(D, S):
        return None
    sig = types.void(D, d0, c0, W, S, s0, sstride, groups, bias)

    def codegen(context, builder, signature, args):
        dptr, sptr = _data(context, builder, signature, args, (0, 4))
        d0_, c0_, W_, s0_, sstride_, groups_ = _int64s(context, builder, signature, args, (1, 2, 3, 5, 6, 7))
        bias_ = context.cast(builder, args[8], signature.args[8], D.dtype)
        v = _Vectors(context, builder, D.dtype)
        w = v.width
        srows = [builder.gep(sptr, [builder.add(s0_, builder.mul(sstride_, v.const(p)))]) for p in range(4)]
        pairs = ir.Constant(ir.VectorType(v.i32, 2 * w), [l // 2 + (l % 2) * w for l in range(2 * w)])
        quads = ir.Constant(ir.VectorType(v.i32, 4 * w), [(l // 4) * 2 + (l % 2) + ((l // 2) % 2) * 2 * w
                                                          for l in range(4 * w)])
        pieces = [ir.Constant(ir.VectorType(v.i32, w), list(range(k * w, (k + 1) * w))) for k in range(4)]
        b = v.splat(bias_)

        def step(g, carried):  # groups g .. g + w: columns c0 + 4g .. c0 + 4g + 4w
            load = _lane_mask(v, g, v.const(0), groups_)
            ph = [builder.fadd(v.load(builder.gep(srows[p], [g]), load), b) for p in range(4)]
            even = builder.shuffle_vector(ph[0], ph[1], pairs)  # p = 0, 1 of each group
            odd = builder.shuffle_vector(ph[2], ph[3], pairs)  # p = 2, 3
            row = builder.shuffle_vector(even, odd, quads)
            first = builder.add(c0_, builder.mul(g, v.const(4)))
            end = builder.select(builder.icmp_signed("<", W_, builder.add(c0_, builder.mul(groups_, v.const(4)))),
                                 W_, builder.add(c0_, builder.mul(groups_, v.const(4))))
            for k in range(4):
                col = builder.add(first, v.const(k * w))
                piece = builder.shuffle_vector(row, row, pieces[k])
                v.store(piece, builder.gep(dptr, [builder.add(d0_, col)]), _lane_mask(v, col, v.const(0), end))
            return carried

        v.loop(v.const(0), groups_, v.const(w), [], step)
        return context.get_dummy_value()

    return sig, codegen


def _loop_or_once(v, groups, step):
    """``step(g)`` for g = 0, w, 2w, ... below ``groups`` (w lanes): straight-line when one vector of
    groups is all (rows of up to 4w or 8w columns, most of Winograd's), which let LLVM keep the
    split's long shuffles in registers (41 against 71 ns for six rows of 56)."""
    with v.b.if_else(v.b.icmp_signed("<=", groups, v.const(v.width))) as (once, loop):
        with once:
            step(v.const(0), [])
        with loop:
            v.loop(v.const(0), groups, v.const(v.width), [], step)


def _concat(b, vecs):
    """One long vector of ``vecs`` back to back (their count a power of two), by pairwise shuffles."""
    while len(vecs) > 1:
        n = vecs[0].type.count
        both = ir.Constant(ir.VectorType(ir.IntType(32), 2 * n), list(range(2 * n)))
        vecs = [b.shuffle_vector(vecs[i], vecs[i + 1], both) for i in range(0, len(vecs), 2)]
    return vecs[0]


def make_split(K):
    """The intrinsic ``split(D, d0, doff, o0, dcount, S, s0, c0, W, groups)``: ``split4`` for K
    phases, each to its own place (``d0 + doff[o0 + p]``: a row of a flat table, so that callers
    make no array view per call) and for its own number of groups (``dcount``)::

        D.flat[d0 + doff[o0 + p] + g] = S.flat[s0 + c] if 0 <= c < W else 0,   c = c0 + K*g + p

    for p < K and g < dcount[p] (``groups`` is the largest count). K is a power of two. With
    dilation d along a row, Winograd's tiles of residue r read the columns r + d*(4g + p4): phase
    d*p4 + r of K = 4d."""
    assert K & (K - 1) == 0 and K >= 2

    @intrinsic
    def split(typingctx, D, d0, doff, o0, dcount, S, s0, c0, W, groups):
        if not _floats_ok(D, S, (doff, dcount)):
            return None
        sig = types.void(D, d0, doff, o0, dcount, S, s0, c0, W, groups)

        def codegen(context, builder, signature, args):
            dptr, optr, nptr, sptr = _data(context, builder, signature, args, (0, 2, 4, 5))
            d0_, o0_, s0_, c0_, W_, groups_ = _int64s(context, builder, signature, args, (1, 3, 6, 7, 8, 9))
            v = _Vectors(context, builder, D.dtype)
            w = v.width
            picks = [ir.Constant(ir.VectorType(v.i32, w), [p + K * l for l in range(w)]) for p in range(K)]
            drows = [builder.gep(dptr, [builder.add(d0_, builder.load(builder.gep(optr, [builder.add(o0_, v.const(p))])))])
                     for p in range(K)]
            counts = [builder.load(builder.gep(nptr, [v.const(p)])) for p in range(K)]

            def step(g, carried):  # groups g .. g + w: columns c0 + K*g .. c0 + K*(g + w)
                first = builder.add(c0_, builder.mul(g, v.const(K)))
                vecs = []
                for k in range(K):
                    col = builder.add(first, v.const(k * w))
                    vecs.append(v.load(builder.gep(sptr, [builder.add(s0_, col)]), _lane_mask(v, col, v.const(0), W_)))
                row = _concat(builder, vecs)
                for p in range(K):
                    phase = builder.shuffle_vector(row, row, picks[p])
                    v.store(phase, builder.gep(drows[p], [g]), _lane_mask(v, g, v.const(0), counts[p]))
                return carried

            _loop_or_once(v, groups_, step)
            return context.get_dummy_value()

        return sig, codegen

    return split


def make_merge(K):
    """The intrinsic ``merge(D, d0, c0, W, S, s0, soff, o0, scount, groups, bias)``, the inverse of
    ``make_split(K)``'s::

        D.flat[d0 + c] = S.flat[s0 + soff[o0 + p] + g] + bias   for c = c0 + K*g + p, if 0 <= c < W

    for p < K and g < groups; phase p is read for its first scount[p] groups only (the rest of
    its columns must lie outside [0, W): they are written with zeros plus ``bias`` otherwise)."""
    assert K & (K - 1) == 0 and K >= 2

    @intrinsic
    def merge(typingctx, D, d0, c0, W, S, s0, soff, o0, scount, groups, bias):
        if not _floats_ok(D, S, (soff, scount)):
            return None
        sig = types.void(D, d0, c0, W, S, s0, soff, o0, scount, groups, bias)

        def codegen(context, builder, signature, args):
            dptr, sptr, optr, nptr = _data(context, builder, signature, args, (0, 4, 6, 8))
            d0_, c0_, W_, s0_, o0_, groups_ = _int64s(context, builder, signature, args, (1, 2, 3, 5, 7, 9))
            bias_ = context.cast(builder, args[10], signature.args[10], D.dtype)
            v = _Vectors(context, builder, D.dtype)
            w = v.width
            pieces = [ir.Constant(ir.VectorType(v.i32, w), [(e % K) * w + e // K for e in range(k * w, (k + 1) * w)])
                      for k in range(K)]
            srows = [builder.gep(sptr, [builder.add(s0_, builder.load(builder.gep(optr, [builder.add(o0_, v.const(p))])))])
                     for p in range(K)]
            counts = [builder.load(builder.gep(nptr, [v.const(p)])) for p in range(K)]
            b = v.splat(bias_)

            def step(g, carried):
                ph = [builder.fadd(v.load(builder.gep(srows[p], [g]), _lane_mask(v, g, v.const(0), counts[p])), b)
                      for p in range(K)]
                row = _concat(builder, ph)
                first = builder.add(c0_, builder.mul(g, v.const(K)))
                for k in range(K):
                    col = builder.add(first, v.const(k * w))
                    v.store(builder.shuffle_vector(row, row, pieces[k]), builder.gep(dptr, [builder.add(d0_, col)]),
                            _lane_mask(v, col, v.const(0), W_))
                return carried

            _loop_or_once(v, groups_, step)
            return context.get_dummy_value()

        return sig, codegen

    return merge
