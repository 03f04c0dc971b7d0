"""Scans and sorts along one axis, CUDA: cumulative sums and products and ``cumprod``'s gradient,
one thread per line ``a[o, :, i]`` of the (outer, n, inner) view, each walking its line in order
with the helpers of ``numconv.kernels.lines`` (the CPU kernels' own), so the two backends agree bit
for bit; and the stable sort (the CPU sorts with NumPy's stable argsort).

The sort is a merge sort in which every element finds its own place, one thread per element, so
no two threads write one slot, there are no atomics and every run gives the same result. First
each run of SORT_RUN elements is sorted by counting: an element's place in its run is the number
of the run's elements that precede it. Then runs are merged in pairs, widths doubling, until one
run is the line: an element's place in a merged pair is its place in its own run plus the number
of elements of the other run that precede it, found by bisection (the order is total: equal
values are ordered by their original positions, carried along in the indices). The work is
n SORT_RUN for the first pass and n log n for the merges, with log2(n / SORT_RUN) launches.
"""
from numba import cuda

from .. import lines, scalar
from . import device_empty, jit, launch

_cumulative_line = cuda.jit(device=True)(lines.cumulative_line)
_cumprod_grad_line = cuda.jit(device=True)(lines.cumprod_grad_line)
_precedes = cuda.jit(device=True)(lines.precedes)
_in_run = cuda.jit(device=True)(scalar.with_primitives(lines.sorted_position_in_run, precedes=_precedes))
_preceding = cuda.jit(device=True)(scalar.with_primitives(lines.preceding_count, precedes=_precedes))

SORT_RUN = 32  # elements per run sorted by counting before the merges (the simulator's tests use fewer)


def cumulative(out, a, op, reverse, exclusive):
    """out[o, j, i] = a[o, 0, i] + ... + a[o, j, i] (``op`` lines.SUM) or their product (lines.PROD), in
    a's dtype; ``reverse`` from the line's end, ``exclusive`` without a[o, j, i] itself. out, a (outer, n, inner)."""
    outer, n, inner = a.shape
    launch(_cumulative, outer * inner, out, a, op, reverse, exclusive)


@jit
def _cumulative(out, a, op, reverse, exclusive):
    t = cuda.grid(1)
    inner = a.shape[2]
    if t < a.shape[0] * inner:
        _cumulative_line(out, a, t // inner, t % inner, op, reverse, exclusive)


def cumprod_backward(gx, g, x):
    """gx = the gradient of cumprod(x) along axis 1 given g, the output's gradient. gx, g, x (outer, n, inner)."""
    outer, n, inner = x.shape
    launch(_cumprod_backward, outer * inner, gx, g, x)


@jit
def _cumprod_backward(gx, g, x):
    t = cuda.grid(1)
    inner = x.shape[2]
    if t < x.shape[0] * inner:
        _cumprod_grad_line(gx, g, x, t // inner, t % inner)


def sort(values, indices, a, descending):
    """values[o, r, i] = a[o, j, i] and indices[o, r, i] = j, r the position of element j in the stable
    sort of its line (``lines.precedes``: NaN last ascending, first descending). All (outer, n, inner)."""
    outer, n, inner = a.shape
    merges, width = 0, SORT_RUN
    while width < n:
        merges, width = merges + 1, width * 2
    spare = (device_empty(tuple(a.shape), values.dtype), device_empty(tuple(a.shape), indices.dtype)) if merges else ()
    # the passes alternate between the outputs and the spare pair, so that the last one writes the outputs
    pairs = [(values, indices), spare] if merges % 2 == 0 else [spare, (values, indices)]
    launch(_sort_runs, a.size, pairs[0][0], pairs[0][1], a, SORT_RUN, descending)
    width = SORT_RUN
    for m in range(merges):
        src, dst = pairs[m % 2], pairs[(m + 1) % 2]
        launch(_merge_runs, a.size, dst[0], dst[1], src[0], src[1], width, descending)
        width *= 2


@jit
def _sort_runs(values, indices, a, run, descending):
    t = cuda.grid(1)
    n, inner = a.shape[1], a.shape[2]
    if t < a.shape[0] * n * inner:
        o, j, i = t // (n * inner), (t // inner) % n, t % inner
        start = (j // run) * run
        r = start + _in_run(a, o, j, i, start, min(start + run, n), descending)
        values[o, r, i] = a[o, j, i]
        indices[o, r, i] = j


@jit
def _merge_runs(values, indices, src_values, src_indices, width, descending):
    t = cuda.grid(1)
    n, inner = src_values.shape[1], src_values.shape[2]
    if t < src_values.shape[0] * n * inner:
        o, p, i = t // (n * inner), (t // inner) % n, t % inner
        start = (p // (2 * width)) * 2 * width
        mid = min(start + width, n)
        stop = min(start + 2 * width, n)
        x, j = src_values[o, p, i], src_indices[o, p, i]
        if p < mid:  # in the left run: after the right run's elements that precede it
            r = p + _preceding(src_values, src_indices, o, i, mid, stop, x, j, descending) - mid
        else:
            r = p - mid + _preceding(src_values, src_indices, o, i, start, mid, x, j, descending)
        values[o, r, i] = x
        indices[o, r, i] = j
