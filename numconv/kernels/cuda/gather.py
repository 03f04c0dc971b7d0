"""Indexed reads and writes and their gradients, CUDA: ``gather`` (torch.gather / take_along_axis),
its gradient ``scatter_add`` written as a gather (each output element sums the entries that point
at it, in order: no atomics, the same bits every run), ``take`` along one axis, NumPy indexing
(``getitem``, ``setitem`` and ``index_scan``, which also serve concatenate, stack and split) and
``nonzero`` (the positions of a boolean mask).

Shapes are tuples of ``numconv.ops.math.MAXDIM`` entries, strides in elements of flat C-contiguous
arrays; ``axis`` counts in those padded tuples.

NumPy indexing, as ``numconv.ops.math`` plans it on the host: a result element ``t`` reads
``a[base + offset(t) + sum_j wrap(idx[j, b(t)]) * adv_strides[j]]``, where ``offset`` walks the basic
indices (ints, slices of any step, None) with per-dimension strides ``s_a`` (negative for a negative
step), ``b(t)`` is the flat position of ``t`` in the broadcast shape B of the ``k`` advanced (integer
or boolean) index arrays (strides ``s_b``, 0 outside B's dimensions), and ``idx`` holds those arrays
broadcast to B as the rows of a flat (k, nb) int64 array; ``wrap`` counts negative entries from the
end (``adv_sizes``). Bounds are checked on the host before any launch.
"""
from numba import cuda

from . import jit, launch, strided_offset


def gather(out, a, index, shape, s_a, s_index, axis, a_axis_stride):
    """out[i] = a[i with coordinate ``axis`` replaced by index[i]]: ``shape`` is the index's (and out's)
    shape, ``s_a`` a's strides with 0 on ``axis``, ``a_axis_stride`` a's stride along ``axis``."""
    launch(_gather, out.size, out, a, index, shape, s_a, s_index, axis, a_axis_stride)


@jit
def _gather(out, a, index, shape, s_a, s_index, axis, a_axis_stride):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = a[strided_offset(t, shape, s_a) + index[strided_offset(t, shape, s_index)] * a_axis_stride]


def scatter_add(out, index, values, shape, index_shape, s_index, s_values, axis):
    """out[..., j, ...] = sum of values[..., p, ...] over the positions p along ``axis`` with
    index[..., p, ...] == j (0 outside the index's extent); ``shape`` is out's shape, ``s_index`` and
    ``s_values`` strides of index and values (both of ``index_shape``, values maybe broadcast)."""
    launch(_scatter_add, out.size, out, index, values, shape, index_shape, s_index, s_values, axis)


@jit
def _scatter_add(out, index, values, shape, index_shape, s_index, s_values, axis):
    t = cuda.grid(1)
    if t >= out.size:
        return
    # decode out's coordinates; the position along ``axis`` is the class j, the others must lie in the index
    j = 0
    base_i = 0
    base_v = 0
    inside = True
    r = t
    for k in range(len(shape) - 1, -1, -1):
        c = r % shape[k]
        r //= shape[k]
        if k == axis:
            j = c
        elif c >= index_shape[k]:
            inside = False
        else:
            base_i += c * s_index[k]
            base_v += c * s_values[k]
    acc = out.dtype.type(0)
    if inside:
        for p in range(index_shape[axis]):
            if index[base_i + p * s_index[axis]] == j:
                acc += values[base_v + p * s_values[axis]]
    out[t] = acc


def take(out, a, index, n, inner):
    """out[p, j, q] = a[p, index[j], q] over (outer, m, inner) and (outer, n, inner) views; negative
    indices count from the end."""
    launch(_take, out.size, out, a, index, n, inner)


@jit
def _take(out, a, index, n, inner):
    t = cuda.grid(1)
    if t < out.size:
        m = index.size
        q = t % inner
        r = t // inner
        j = r % m
        p = r // m
        i = index[j]
        if i < 0:
            i += n
        out[t] = a[(p * n + i) * inner + q]


@cuda.jit(device=True)
def _adv_offset(idx, nb, k, b, adv_strides, adv_sizes):
    """sum_j wrap(idx[j, b]) * adv_strides[j]: the advanced indices' share of an offset."""
    off = 0
    for j in range(k):
        i = idx[j * nb + b]
        if i < 0:
            i += adv_sizes[j]
        off += i * adv_strides[j]
    return off


def getitem(out, a, idx, nb, k, base, shape, s_a, s_b, adv_strides, adv_sizes):
    """out[t] = a[base + offset(t) + sum_j wrap(idx[j, b(t)]) * adv_strides[j]] (NumPy's a[index], basic
    and advanced); ``shape`` is out's shape."""
    launch(_getitem, out.size, out, a, idx, nb, k, base, shape, s_a, s_b, adv_strides, adv_sizes)


@jit
def _getitem(out, a, idx, nb, k, base, shape, s_a, s_b, adv_strides, adv_sizes):
    t = cuda.grid(1)
    if t < out.size:
        off = base + strided_offset(t, shape, s_a)
        if k > 0:
            off += _adv_offset(idx, nb, k, strided_offset(t, shape, s_b), adv_strides, adv_sizes)
        out[t] = a[off]


def setitem(out, values, idx, n, nb, k, base, shape, s_out, s_v, s_b, adv_strides, adv_sizes):
    """out[base + offset(t) + advanced(t)] = values[offset_v(t)] for the ``n`` elements t of the indexed
    result (of ``shape``), cast to out's dtype: NumPy's out[index] = values where no two elements of the
    index name one position (the caller makes sure: basic indices, boolean masks, or host index arrays
    checked for repeats), so every thread writes its own element; ``s_v`` may broadcast values."""
    launch(_setitem, n, out, values, idx, n, nb, k, base, shape, s_out, s_v, s_b, adv_strides, adv_sizes)


@jit
def _setitem(out, values, idx, n, nb, k, base, shape, s_out, s_v, s_b, adv_strides, adv_sizes):
    t = cuda.grid(1)
    if t < n:
        off = base + strided_offset(t, shape, s_out)
        if k > 0:
            off += _adv_offset(idx, nb, k, strided_offset(t, shape, s_b), adv_strides, adv_sizes)
        out[off] = values[strided_offset(t, shape, s_v)]


def index_scan(out, values, idx, nb, k, shape, start, step, count, s_v, adv_axis_strides, adv_strides,
               adv_sizes, vstride_b, accumulate):
    """The gather form of out[index] (+)= values when index entries may repeat: the thread that owns out
    element t (out of ``shape``, C-contiguous) finds whether each of its coordinates c lies on its axis'
    basic lattice (c = start + i*step, 0 <= i < count; the values offset adds i * s_v), then walks the
    nb entries b of the advanced indices in order and takes every b whose positions equal its own
    (sum_k c_k * adv_axis_strides[k]). ``accumulate``: out[t] = sum of the matching values in b order
    (0 without one; the gradient of getitem, as np.add.at); otherwise the last matching value replaces
    out[t] (NumPy assignment). Values are C-contiguous of the indexed result's shape, the B block
    ``vstride_b`` apart. Cost: every output element reads all k*nb index entries, O(out.size * nb * k),
    deterministic and free of atomics; the caller uses ``setitem`` instead where entries cannot repeat."""
    launch(_index_scan, out.size, out, values, idx, nb, k, shape, start, step, count, s_v, adv_axis_strides,
           adv_strides, adv_sizes, vstride_b, accumulate)


@jit
def _index_scan(out, values, idx, nb, k, shape, start, step, count, s_v, adv_axis_strides, adv_strides,
                adv_sizes, vstride_b, accumulate):
    t = cuda.grid(1)
    if t >= out.size:
        return
    voff = 0
    aoff = 0
    on_lattice = True
    r = t
    for d in range(len(shape) - 1, -1, -1):
        c = r % shape[d]
        r //= shape[d]
        q = c - start[d]
        i = q // step[d]
        if i * step[d] != q or i < 0 or i >= count[d]:
            on_lattice = False
        voff += i * s_v[d]
        aoff += c * adv_axis_strides[d]
    acc = out.dtype.type(0)
    val = out[t]
    if on_lattice:
        for b in range(nb):
            if _adv_offset(idx, nb, k, b, adv_strides, adv_sizes) == aoff:
                if accumulate:
                    acc += values[voff + b * vstride_b]
                else:
                    val = values[voff + b * vstride_b]
    if accumulate:
        out[t] = acc
    else:
        out[t] = val


def count_true(counts, offsets, mask, chunk):
    """The first half of ``nonzero``: counts[c] = the Trues among mask[c*chunk:(c+1)*chunk] (one thread per
    chunk), then one thread writes offsets[c] = sum of counts[:c] and offsets[-1] = the total, which is
    the one scalar the host reads (it sizes nonzero's result). No atomics: the same result every run."""
    launch(_count_chunks, counts.size, counts, mask, chunk)
    launch(_exclusive_scan, 1, offsets, counts)


def nonzero(rows, mask, offsets, chunk, count, shape, lead):
    """rows[d, p] = coordinate d of the p-th True of the flat C-contiguous ``mask`` in row-major order, as
    np.nonzero: each chunk's thread writes its Trues from offsets[c] (from ``count_true``). ``shape`` is the
    mask's padded shape, ``lead`` the padding in front; rows is (mask.ndim, count) flat."""
    launch(_nonzero, offsets.size - 1, rows, mask, offsets, chunk, count, shape, lead)


@jit
def _count_chunks(counts, mask, chunk):
    c = cuda.grid(1)
    if c < counts.size:
        s = 0
        end = (c + 1) * chunk
        if end > mask.size:
            end = mask.size
        for i in range(c * chunk, end):
            if mask[i]:
                s += 1
        counts[c] = s


@jit
def _exclusive_scan(offsets, counts):
    if cuda.grid(1) == 0:
        s = 0
        for c in range(counts.size):
            offsets[c] = s
            s += counts[c]
        offsets[counts.size] = s


@jit
def _nonzero(rows, mask, offsets, chunk, count, shape, lead):
    c = cuda.grid(1)
    if c < offsets.size - 1:
        p = offsets[c]
        end = (c + 1) * chunk
        if end > mask.size:
            end = mask.size
        for i in range(c * chunk, end):
            if mask[i]:
                r = i
                for d in range(len(shape) - 1, lead - 1, -1):
                    rows[(d - lead) * count + p] = r % shape[d]
                    r //= shape[d]
                p += 1
