"""Walks along one line of an (outer, n, inner) array, written once in plain Python and wrapped per
target (``njit(inline="always")`` in ``cpu/scan.py``, ``cuda.jit(device=True)`` in ``cuda/scan.py``),
so both backends add and multiply in the same order and agree bit for bit. A line is ``a[o, :, i]``:
the axis an op runs along, with everything before it folded into ``o`` and everything after into ``i``.
"""

SUM, PROD = 0, 1  # the operations of ``cumulative``


def cumulative_line(out, a, o, i, op, reverse, exclusive):
    """out[o, j, i] = a[o, 0, i] + ... + a[o, j, i] (``op`` SUM) or their product (PROD), in a's dtype,
    left to right; ``reverse``: a[o, j, i] + ... + a[o, n-1, i], right to left; ``exclusive``: without
    a[o, j, i] itself (the identity, 0 or 1, where nothing is left)."""
    n = a.shape[1]
    if n == 0:
        return
    j = n - 1 if reverse else 0
    acc = a[o, j, i]
    if exclusive:
        out[o, j, i] = 1 if op == PROD else 0
    else:
        out[o, j, i] = acc
    for k in range(1, n):
        j = n - 1 - k if reverse else k
        x = a[o, j, i]
        if exclusive:
            out[o, j, i] = acc
        acc = acc * x if op == PROD else acc + x
        if not exclusive:
            out[o, j, i] = acc


def cumprod_grad_line(gx, g, x, o, i):
    """The gradient of y = cumprod(x) along the line: gx[j] = sum over k >= j of g[k] * (the product of
    x[0..k] but x[j]) = (x[0] ... x[j-1]) * s[j], with s[n-1] = g[n-1] and s[j] = g[j] + x[j+1] * s[j+1].
    No division, so exact where x holds zeros (PyTorch's formula divides by x where it can)."""
    n = x.shape[1]
    if n == 0:
        return
    s = g[o, n - 1, i]
    gx[o, n - 1, i] = s
    for k in range(n - 2, -1, -1):
        s = g[o, k, i] + x[o, k + 1, i] * s
        gx[o, k, i] = s
    p = x[o, 0, i]
    for k in range(1, n):
        gx[o, k, i] = gx[o, k, i] * p
        p = p * x[o, k, i]


def precedes(y, k, x, j, descending):
    """Whether element ``k`` (value ``y``) of a line comes before element ``j`` (value ``x``) in its
    stable sort: ascending with NaN after every number, or ``descending`` with NaN before every
    number (PyTorch's order); equal values (NaNs among themselves) keep their order."""
    if k == j:
        return False
    x_nan, y_nan = x != x, y != y
    if x_nan or y_nan:
        if x_nan and y_nan:
            return k < j
        return x_nan != descending  # ascending: a number precedes a NaN; descending: a NaN precedes a number
    if y == x:
        return k < j
    return y > x if descending else y < x


def sorted_position_in_run(a, o, j, i, start, stop, descending):
    """Where a[o, j, i] lands in the stable sort of its run, the line's elements start..stop-1."""
    x = a[o, j, i]
    r = 0
    for k in range(start, stop):
        if precedes(a[o, k, i], k, x, j, descending):
            r += 1
    return r


def preceding_count(values, indices, o, i, lo, hi, x, j, descending):
    """How many of the sorted run values[o, lo:hi, i] (original positions in ``indices``) precede the
    element x (original position j): the length of the run's prefix that precedes it, by bisection."""
    while lo < hi:
        mid = (lo + hi) // 2
        if precedes(values[o, mid, i], indices[o, mid, i], x, j, descending):
            lo = mid + 1
        else:
            hi = mid
    return lo
