"""PyTorch's functions that are compositions of Tensor ops: ``einsum``, ``tensordot``, ``cdist``,
``meshgrid``, ``broadcast_tensors``, ``take_along_dim``, ``tensor_split``, the ``*stack`` and
``atleast_*d`` families. Each is written with the Tensor's own ops (reshape, permute, expand,
matmul, gather, ...), so autograd, both devices and double backward come from those ops; there is
no kernel here.

    import numconv as nc
    nc.einsum("bij,bjk->bik", a, b)           # a @ b
    nc.einsum("ii", m)                        # the trace
    xs, ys = nc.meshgrid(nc.arange(3), nc.arange(2), indexing="xy")
    nc.cdist(points, centers)                 # (P, R) Euclidean distances
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import shapes
from .tensor import Tensor, _axis, cat, where


def _tensor(x, where):
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return Tensor(x)
    raise TypeError(f"{where} must be a Tensor or an array, got {type(x).__name__}")


def _tensors(args, where):
    """``f(a, b)`` and ``f([a, b])`` alike, as Tensors."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    return [_tensor(t, f"{where}: argument {i}") for i, t in enumerate(args)]


# ============================================================================= broadcasting


def broadcast_shapes(*shapes_):
    """The shape the given shapes broadcast to, as ``torch.broadcast_shapes``; a ValueError naming
    them when they do not."""
    given = [shapes.sizes(s, "broadcast_shapes: shape") for s in shapes_]
    try:
        return tuple(np.broadcast_shapes(*given))
    except ValueError:
        raise ValueError(f"broadcast_shapes: shapes {', '.join(map(str, given))} do not broadcast together") \
            from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape (views), as ``torch.broadcast_tensors``."""
    tensors = _tensors(tensors, "broadcast_tensors")
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t if t.shape == shape else t.expand(*shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-d tensors (0-d ones count as one element), as ``torch.meshgrid``:
    with ``indexing='ij'`` grid k varies along dimension k; with ``'xy'`` the first two dimensions
    are swapped (x along the columns), as NumPy's default."""
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = _tensors(tensors, "meshgrid")
    if not tensors:
        raise ValueError("meshgrid needs at least one tensor")
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise ValueError(f"meshgrid: tensor {i} must be 0-d or 1-d, got shape {t.shape}")
    tensors = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    shape = tuple(t.shape[0] for t in tensors)
    grids = [t.reshape(*(n if d == k else 1 for d, n in enumerate(shape))).expand(*shape)
             for k, t in enumerate(tensors)]
    if swap:  # the grids back in the order of their tensors
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# ============================================================================= stacking and splitting


def _at_least(ndim, where):
    def at_least(*tensors):
        single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
        out = []
        for t in _tensors(tensors, where):
            if t.ndim < ndim:
                # PyTorch's placement: a vector is a row (1, n), a matrix gains a last axis (m, n, 1)
                shape = {0: (1,) * ndim, 1: (1, t.numel()) + (1,) * (ndim - 2)}.get(t.ndim, t.shape + (1,))
                t = t.reshape(*shape)
            out.append(t)
        return out[0] if single else tuple(out)

    at_least.__name__ = at_least.__qualname__ = where
    at_least.__doc__ = (f"Each tensor with at least {ndim} dimension{'s' if ndim > 1 else ''} "
                        f"(0-d and 1-d ones gain ones as ``torch.{where}`` places them); one tensor in, one out.")
    return at_least


atleast_1d = _at_least(1, "atleast_1d")
atleast_2d = _at_least(2, "atleast_2d")
atleast_3d = _at_least(3, "atleast_3d")


def hstack(tensors):
    """Concatenated along dimension 1 (along 0 for 1-d tensors), as ``torch.hstack``."""
    tensors = atleast_1d(*_tensors((tensors,), "hstack"))
    tensors = tensors if isinstance(tensors, tuple) else (tensors,)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenated along dimension 0 after ``atleast_2d``, as ``torch.vstack``."""
    tensors = atleast_2d(*_tensors((tensors,), "vstack"))
    return cat(tensors if isinstance(tensors, tuple) else (tensors,), 0)


row_stack = vstack


def dstack(tensors):
    """Concatenated along dimension 2 after ``atleast_3d``, as ``torch.dstack``."""
    tensors = atleast_3d(*_tensors((tensors,), "dstack"))
    return cat(tensors if isinstance(tensors, tuple) else (tensors,), 2)


def column_stack(tensors):
    """0-d and 1-d tensors as columns (n, 1), then concatenated along dimension 1, as ``torch.column_stack``."""
    tensors = [t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in _tensors((tensors,), "column_stack")]
    return cat(tensors, 1)


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002 (PyTorch's name)
    """Views of ``input`` along ``dim``, as ``torch.tensor_split``: ``n`` (an int) pieces as equal as
    can be, the first ``size % n`` one longer; or pieces cut before each of the given indices (a list,
    tuple or 1-d integer tensor; indices past the end give empty pieces)."""
    input = _tensor(input, "tensor_split: input")  # noqa: A001
    if input.ndim == 0:
        raise ValueError("tensor_split: the input must have at least one dimension")
    axis = _axis(dim, input.ndim)
    n = input.shape[axis]
    cuts = indices_or_sections
    if isinstance(cuts, Tensor):
        if cuts.dtype.kind not in "iu" or cuts.ndim > 1:
            raise TypeError(f"tensor_split: a tensor of indices_or_sections must be 0-d or 1-d integers, got dtype "
                            f"{cuts.dtype} and shape {cuts.shape}")
        cuts = cuts.tolist()
    if shapes._is_int(cuts):
        sections = shapes.integer(cuts, "tensor_split: sections", 1)
        size, extra = divmod(n, sections)
        bounds = np.cumsum([0] + [size + (k < extra) for k in range(sections)]).tolist()
    elif isinstance(cuts, (list, tuple)):
        cuts = [shapes.integer(c, "tensor_split: indices") for c in cuts]
        bounds = [0] + [min(max(c + n if c < 0 else c, 0), n) for c in cuts] + [n]
    else:
        raise TypeError(f"tensor_split: indices_or_sections must be an int, a list of ints or an integer tensor, "
                        f"got {type(indices_or_sections).__name__}")
    return tuple(input.narrow(axis, lo, max(hi, lo) - lo) for lo, hi in zip(bounds, bounds[1:]))


def take_along_dim(input, indices, dim=None):  # noqa: A002 (PyTorch's name)
    """The values at ``indices`` along ``dim``, as ``torch.take_along_dim``: ``input`` and ``indices``
    broadcast in every other dimension, then ``gather``; without ``dim``, both flattened."""
    input = _tensor(input, "take_along_dim: input")  # noqa: A001
    indices = _tensor(indices, "take_along_dim: indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take_along_dim: indices must be integers, got dtype {indices.dtype}")
    if dim is None:
        return input.reshape(-1).gather(0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise ValueError(f"take_along_dim: input and indices must have the same number of dimensions, got shapes "
                         f"{input.shape} and {indices.shape}")
    axis = _axis(dim, input.ndim, "take_along_dim: dim")
    try:
        common = broadcast_shapes(*(tuple(s[:axis]) + (1,) + tuple(s[axis + 1:]) for s in (input.shape,
                                                                                             indices.shape)))
    except ValueError:
        raise ValueError(f"take_along_dim: input {input.shape} and indices {indices.shape} do not broadcast "
                         f"outside dim {dim}") from None
    grow = lambda t: t.expand(*(t.shape[d] if d == axis else n for d, n in enumerate(common)))  # noqa: E731
    return grow(input).gather(axis, grow(indices))


# ============================================================================= contractions


def tensordot(a, b, dims=2):
    """Sum over pairs of dimensions of ``a`` and ``b``, as ``torch.tensordot``: ``dims`` an int (the last
    ``dims`` of ``a`` with the first of ``b``) or two lists of dimensions. The result has ``a``'s
    remaining dimensions, then ``b``'s."""
    a, b = _tensor(a, "tensordot: a"), _tensor(b, "tensordot: b")
    if shapes._is_int(dims):
        k = shapes.integer(dims, "tensordot: dims", 0)
        if k > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={k} exceeds the dimensions of a {a.shape} or b {b.shape}")
        da, db = list(range(a.ndim - k, a.ndim)), list(range(k))
    else:
        if isinstance(dims, Tensor):
            dims = dims.tolist()
        if not (isinstance(dims, (list, tuple)) and len(dims) == 2):
            raise TypeError(f"tensordot: dims must be an int or two lists of dimensions, got {dims!r}")
        da, db = ([d] if shapes._is_int(d) else list(d) for d in dims)
        if len(da) != len(db):
            raise ValueError(f"tensordot: dims lists have different lengths, {da} and {db}")
        da = [_dim(d, a.ndim, "tensordot: dims of a") for d in da]
        db = [_dim(d, b.ndim, "tensordot: dims of b") for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: a's dim {i} (size {a.shape[i]}) and b's dim {j} (size {b.shape[j]}) "
                             f"differ")
    keep_a = [d for d in range(a.ndim) if d not in da]
    keep_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(*keep_a, *da).reshape(-1, k)
    right = b.permute(*db, *keep_b).reshape(k, -1)
    return left.matmul(right).reshape(*(a.shape[d] for d in keep_a), *(b.shape[d] for d in keep_b))


def _dim(d, ndim, where):
    d = shapes.integer(d, where)
    if not -ndim <= d < ndim:
        raise IndexError(f"{where}: dimension {d} out of range for {ndim} dimensions")
    return d % ndim


def _einsum_terms(equation, operands):
    """The labels of each operand and of the output, as lists: letters, and ('...', k) for the k-th
    dimension of the broadcast ellipsis (right-aligned, as NumPy and PyTorch align it)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand term(s), got {len(operands)} "
                         f"operands")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.")
    for term in terms + ([rhs] if arrow else []):
        bad = set(term) - allowed
        if bad or term.count("...") > 1 or term.replace("...", "").count("."):
            raise ValueError(f"einsum: {term!r} in {equation!r} must be letters with at most one '...'")
    ellipsis = 0
    labels = []
    for i, (term, t) in enumerate(zip(terms, operands)):
        named = len(term.replace("...", ""))
        if ("..." in term and t.ndim < named) or ("..." not in term and t.ndim != named):
            raise ValueError(f"einsum: operand {i} has {t.ndim} dimensions, but its term {term!r} names {named}")
        labels.append(term)
        if "..." in term:
            ellipsis = max(ellipsis, t.ndim - named)
    expand = lambda k: [("...", j) for j in range(ellipsis - k, ellipsis)]  # noqa: E731
    out = []
    for term, t in zip(labels, operands):
        head, _, tail = term.partition("...")
        k = t.ndim - len(head) - len(tail)
        out.append(list(head) + (expand(k) if "..." in term else []) + list(tail))
    if arrow:
        head, dots, tail = rhs.partition("...")
        result = list(head) + (expand(ellipsis) if dots else []) + list(tail)
        seen = set(x for term in out for x in term)
        for x in result:
            if result.count(x) > 1:
                raise ValueError(f"einsum: output label {x!r} appears more than once in {equation!r}")
            if x not in seen and not isinstance(x, tuple):
                raise ValueError(f"einsum: output label {x!r} of {equation!r} is in no operand")
    else:  # implicit: the broadcast dimensions, then the labels used once, in alphabetical order
        counts = {}
        for term in out:
            for x in term:
                counts[x] = counts.get(x, 0) + 1
        result = expand(ellipsis) + sorted(x for x, c in counts.items() if c == 1 and not isinstance(x, tuple))
    return out, result


def _einsum_prepare(t, labels, keep):
    """``t`` with each repeated label taken along its diagonal and each label not in ``keep`` summed."""
    labels = list(labels)
    while True:
        repeated = next((x for x in labels if labels.count(x) > 1), None)
        if repeated is None:
            break
        i = labels.index(repeated)
        j = labels.index(repeated, i + 1)
        if t.shape[i] != t.shape[j]:
            raise ValueError(f"einsum: label {repeated!r} has sizes {t.shape[i]} and {t.shape[j]} in one operand")
        t = t.diagonal(0, i, j)  # the diagonal becomes the last dimension
        labels = [x for d, x in enumerate(labels) if d not in (i, j)] + [repeated]
    gone = [d for d, x in enumerate(labels) if x not in keep]
    if gone:
        t = t.sum(dim=tuple(gone))
        labels = [x for d, x in enumerate(labels) if d not in gone]
    return t, labels


def _einsum_pair(a, la, b, lb, keep):
    """The contraction of two prepared operands over their shared labels not in ``keep``, by one
    batched matmul: (batch, a's own, shared) @ (batch, shared, b's own)."""
    size = {}
    for t, labels in ((a, la), (b, lb)):
        for x, n in zip(labels, t.shape):
            if size.get(x, 1) != 1 and n != 1 and size[x] != n:
                raise ValueError(f"einsum: label {x!r} has sizes {size[x]} and {n} in different operands")
            size[x] = max(size.get(x, 1), n)
    batch = [x for x in la if x in lb and x in keep]
    summed = [x for x in la if x in lb and x not in keep]
    own_a = [x for x in la if x not in lb]
    own_b = [x for x in lb if x not in la]

    def arrange(t, labels, order):  # permuted to ``order``, size-1 labels broadcast to the common size
        t = t.permute(*(labels.index(x) for x in order))
        full = tuple(size[x] for x in order)
        return t if t.shape == full else t.expand(*full)

    nb, na, nk, nbb = (math.prod(size[x] for x in xs) for xs in (batch, own_a, summed, own_b))
    left = arrange(a, la, batch + own_a + summed).reshape(nb, na, nk)
    right = arrange(b, lb, batch + summed + own_b).reshape(nb, nk, nbb)
    out = left.matmul(right).reshape(*(size[x] for x in batch + own_a + own_b))
    return out, batch + own_a + own_b


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``equation`` names each operand's dimensions with
    letters (``'...'`` for broadcast ones), ``->`` the output's (implicit: the letters used once, in
    alphabetical order). A letter repeated in one operand takes its diagonal; a letter missing from
    the output is summed. Operands are contracted left to right, each pair by one batched matmul.
    Size-1 dimensions broadcast against their label's size elsewhere."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {type(equation).__name__}")
    operands = _tensors(operands, "einsum")
    if not operands:
        raise ValueError("einsum needs at least one operand")
    terms, result = _einsum_terms(equation, operands)

    def needed(k):  # the labels the output or an operand after the k-th still names
        return set(result).union(*(terms[j] for j in range(k + 1, len(terms))))

    t, labels = _einsum_prepare(operands[0], terms[0], needed(0))
    for k in range(1, len(operands)):
        later = needed(k)
        b, lb = _einsum_prepare(operands[k], terms[k], later | set(labels))
        t, labels = _einsum_pair(t, labels, b, lb, later)
    t, labels = _einsum_prepare(t, labels, set(result))
    missing = [x for x in result if x not in labels]  # broadcast dimensions no operand had
    if missing:
        t = t.reshape(*t.shape, *(1 for _ in missing))
        labels = labels + missing
    return t.permute(*(labels.index(x) for x in result)) if labels != result else t


# ============================================================================= distances


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2`` (..., R, M):
    (..., P, R), as ``torch.cdist``. For p = 2 with more than 25 rows on either side (or
    ``compute_mode='use_mm_for_euclid_dist'``) the distances come from one matmul,
    sqrt(|a|^2 + |b|^2 - 2 a.b), as PyTorch computes them; else from the differences themselves. The
    gradient is 0 where a distance is 0."""
    x1, x2 = _tensor(x1, "cdist: x1"), _tensor(x2, "cdist: x2")
    for name, t in (("x1", x1), ("x2", x2)):
        if t.ndim < 2:
            raise ValueError(f"cdist: {name} must have at least 2 dimensions (..., rows, features), got shape "
                             f"{t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"cdist: {name} must be floating-point, got dtype {t.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of features (last dimension), got shapes "
                         f"{x1.shape} and {x2.shape}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not p >= 0:  # NaN fails p >= 0
        raise ValueError(f"cdist: p must be a number >= 0 (inf allowed), got {p!r}")
    p = float(p)
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"cdist: compute_mode must be one of {modes}, got {compute_mode!r}")
    try:
        batch = broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dimensions of x1 {x1.shape} and x2 {x2.shape} do not broadcast") \
            from None
    x1 = x1.expand(*batch, *x1.shape[-2:]) if x1.shape[:-2] != batch else x1
    x2 = x2.expand(*batch, *x2.shape[-2:]) if x2.shape[:-2] != batch else x2
    rows, cols = x1.shape[-2], x2.shape[-2]
    if p == 2 and (compute_mode == modes[1] or (compute_mode == modes[0] and (rows > 25 or cols > 25))):
        square1 = (x1 * x1).sum(-1, keepdim=True)  # (..., P, 1)
        square2 = (x2 * x2).sum(-1, keepdim=True).transpose(-2, -1)  # (..., 1, R)
        squared = square1 + square2 - 2 * x1.matmul(x2.transpose(-2, -1))
        apart = squared > 0  # rounding can make it negative; those distances are 0, with a zero gradient
        return where(apart, where(apart, squared, 1.0).sqrt(), 0.0)
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, dim=-1)


def is_tensor(obj):
    """Whether ``obj`` is a numconv Tensor, as ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cdist", "column_stack",
    "dstack", "einsum", "hstack", "is_tensor", "meshgrid", "row_stack", "take_along_dim", "tensor_split",
    "tensordot", "vstack",
]
