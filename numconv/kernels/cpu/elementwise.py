"""Elementwise kernels, CPU: the hottest activation, ReLU, forward and backward in one pass each
(NumPy takes two for the backward, a comparison then a product); the other activations, each
forward and backward in one pass (their formulas, written once for both backends, are in
``numconv.kernels.scalar``); erf and erfc, which NumPy lacks. Flat (P,) C-contiguous arrays; the
rest of the elementwise math runs in NumPy (``numconv.ops.math``).
"""
import math
import types

from numba import prange

from .. import scalar
from . import FASTMATH, cached, inline, kernel, part_range, plane_parts, vecmath

# The activation kernels drop 'reassoc': with it LLVM reassociated the formulas' products into
# vecmath's inlined arithmetic (gelu's gradient at x = inf came out -inf instead of NaN). These
# loops have no reductions for it to help. And they take NumPy's error model: under Python's, every
# division tests its divisor for zero (to raise ZeroDivisionError), a branch that stops LLVM from
# vectorizing the loop; here a division by zero gives inf or NaN, as the formulas expect.
_FLAGS = FASTMATH - {"reassoc"}


def _parallel(fn):
    return cached(parallel=True, fastmath=_FLAGS, error_model="numpy")(fn)


def _serial(fn):
    return cached(fastmath=_FLAGS, error_model="numpy")(fn)


# the formulas with the vectorizable exp, expm1, log1p and erfc: a loop over any activation vectorizes
_primitives = dict(exp=vecmath.exp, expm1=vecmath.expm1, log1p=vecmath.log1p, erfc=vecmath.erfc)
_primitives["sigmoid"] = inline(scalar.with_primitives(scalar.sigmoid, **_primitives))
_primitives["clip6"] = inline(scalar.clip6)
_primitives["tanh_softplus"] = inline(scalar.with_primitives(scalar.tanh_softplus, **_primitives))


@kernel
def relu_forward(out, x):
    """out = max(x, 0); NaN stays NaN."""
    for i in prange(x.size):
        v = x[i]
        out[i] = 0.0 if v <= 0.0 else v


@kernel
def relu_backward(out, g, y):
    """out = 0 where the forward's output y <= 0, else g (PyTorch's threshold_backward: a NaN output passes g)."""
    for i in prange(g.size):
        out[i] = 0.0 if y[i] <= 0.0 else g[i]


@kernel
def erf(out, x, complement):
    """out = erf(x), or erfc(x) = 1 - erf(x) without its cancellation where ``complement``."""
    for i in prange(x.size):
        out[i] = math.erfc(x[i]) if complement else math.erf(x[i])


CHUNK = 16384  # elements a thread takes at a time: enough to hide the threads' start


def activation_forward(out, x, code, p0, p1):
    """out = f(x), f the activation ``code`` of ``numconv.kernels.scalar`` with parameters p0, p1."""
    _KERNELS[code][0](out, x, p0, p1)


def activation_backward(out, g, x, code, p0, p1):
    """out = g * f'(x), f the activation ``code`` (the forward's input x, not its output)."""
    _KERNELS[code][1](out, g, x, p0, p1)


# One pair of kernels per activation, each inlining only its own formula (``scalar.FORMULAS``):
# each compiles (and is cached) alone, when first used, in well under a second. (One kernel holding
# every activation's loop took 40 s to compile a dtype's forward once their exp, erfc, ...
# vectorized; one switching on a constant code still typed every branch, 3 s a kernel.)
# Each thread runs a plain loop from 0 over its chunk, so LLVM compiles straight-line code for it
# and vectorizes it (leaky_relu, hardtanh: 30 to 50 times faster than one loop switching on
# ``code`` as the body of a prange, whose offset indices and by-reference arguments stop both).
# The chunks depend on the array's size alone, so a result is the same bit for bit run to run and
# on any number of threads; an element computed in a loop's vector body and in its remainder may
# differ in the last bit or two (the vector body's operations may be fused differently).
# The templates below read ``_f``, ``_df``, ``_forward_run`` and ``_backward_run`` as globals, bound per
# activation by ``_bind`` (a copy under its own name, so that each has its own cache file).

def _forward_run(out, x, p0, p1):
    for i in range(x.size):
        out[i] = _f(float(x[i]), p0, p1)


def _backward_run(out, g, x, p0, p1):
    for i in range(g.size):
        out[i] = _df(float(g[i]), float(x[i]), p0, p1)


def _forward(out, x, p0, p1):
    parts = plane_parts((x.size + CHUNK - 1) // CHUNK)
    for part in prange(parts):
        lo, hi = part_range(part, parts, x.size)
        _forward_run(out[lo:hi], x[lo:hi], p0, p1)


def _backward(out, g, x, p0, p1):
    parts = plane_parts((g.size + CHUNK - 1) // CHUNK)
    for part in prange(parts):
        lo, hi = part_range(part, parts, g.size)
        _backward_run(out[lo:hi], g[lo:hi], x[lo:hi], p0, p1)


def _bind(template, activation, **names):
    """``template`` with ``names`` bound as globals, named ``<template>_<activation>``."""
    fn = types.FunctionType(template.__code__, {**template.__globals__, **names},
                            f"{template.__name__}_{activation}")
    fn.__qualname__ = fn.__name__
    return fn


def _make_kernels(code):
    f, df = scalar.FORMULAS[code]
    name = f.__name__
    bound = dict(_f=inline(scalar.with_primitives(f, **_primitives)),
                 _df=inline(scalar.with_primitives(df, **_primitives)))
    bound["_forward_run"] = _serial(_bind(_forward_run, name, **bound))
    bound["_backward_run"] = _serial(_bind(_backward_run, name, **bound))
    return (_parallel(_bind(_forward, name, **bound)), _parallel(_bind(_backward, name, **bound)),
            bound["_forward_run"])


_KERNELS = tuple(_make_kernels(code) for code in range(len(scalar.ACTIVATIONS)))
