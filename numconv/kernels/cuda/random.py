"""Random draws, CUDA: uniform, standard normal and integer arrays filled on the device.

Counter-based, so one thread per output element and no generator state on the device: element i
of a draw with 64-bit ``seed`` is built from ``mix64(seed + (i + 1) * GAMMA)``, the output function
of SplittableRandom / splitmix64 (Steele, Lea and Flood 2014; Vigna's splitmix64.c, which also seeds
the xoroshiro128+ states of ``numba.cuda.random``). The values depend only on (seed, i): the same on
every launch configuration and every run. ``numconv.ops.math`` takes each draw's seed from the NumPy
generator it is given (numconv.random's by default), so ``numconv.manual_seed`` makes device draws
reproducible; they are a different stream from the CPU's NumPy draws for the same seed.

Uniforms take the top 53 (float64) or 24 (float32) bits, so they are exact in the output dtype and lie
in [0, 1); normals pair two uniforms by Box-Muller (u1 in (0, 1], no log of 0); integers reduce
modulo the range (bias below range / 2**64). The uint64 arithmetic wraps on purpose: the casts
keep NumPy's promotion (the CUDA simulator's) from turning it into float64.
"""
import math
import warnings

import numpy as np
from numba import cuda, float64, int64, uint32, uint64

from . import jit, launch

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * math.pi

# Under the simulator the kernels run as Python over NumPy uint64 scalars, which warn when they wrap;
# here wrapping is the arithmetic (mod 2**64), so silence exactly that warning, from this module only.
warnings.filterwarnings("ignore", message="overflow encountered in scalar", category=RuntimeWarning,
                        module=__name__)


@cuda.jit(device=True)
def _mix64(seed, i):
    """The i-th output of the splitmix64 stream that starts at ``seed``."""
    z = uint64(seed) + (uint64(i) + uint64(1)) * GAMMA
    z = (z ^ (z >> uint32(30))) * _MIX1
    z = (z ^ (z >> uint32(27))) * _MIX2
    return z ^ (z >> uint32(31))


@cuda.jit(device=True)
def _unit(seed, i, bits, scale):
    """The top ``bits`` bits of draw i as a float in [0, 1) (``scale`` = 2**-bits)."""
    return float64(_mix64(seed, i) >> uint32(64 - bits)) * scale


def uniform(out, seed, bits, scale):
    """out[i] = U[0, 1) draw i of stream ``seed``, with ``bits`` random bits (53 for float64, 24 for
    float32; ``scale`` = 2**-bits), over the flat ``out``."""
    launch(_uniform, out.size, out, seed, bits, scale)


@jit
def _uniform(out, seed, bits, scale):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = _unit(seed, t, bits, scale)


def normal(out, seed):
    """out[2p], out[2p + 1] = N(0, 1) pair p of stream ``seed`` (Box-Muller over draws 2p and 2p + 1, in
    float64, rounded once to out's dtype), over the flat ``out``; one thread per pair."""
    launch(_normal, (out.size + 1) // 2, out, seed)


@jit
def _normal(out, seed):
    t = cuda.grid(1)
    if 2 * t < out.size:
        u1 = 1.0 - _unit(seed, 2 * t, 53, 1.1102230246251565e-16)  # (0, 1]
        u2 = _unit(seed, 2 * t + 1, 53, 1.1102230246251565e-16)
        r = math.sqrt(-2.0 * math.log(u1))
        out[2 * t] = r * math.cos(_TWO_PI * u2)
        if 2 * t + 1 < out.size:
            out[2 * t + 1] = r * math.sin(_TWO_PI * u2)


def integers(out, seed, low, span):
    """out[i] = low + (draw i of stream ``seed``) mod span: integers in [low, low + span), over the flat
    ``out`` (``span`` a uint64 >= 1)."""
    launch(_integers, out.size, out, seed, low, span)


@jit
def _integers(out, seed, low, span):
    t = cuda.grid(1)
    if t < out.size:
        out[t] = low + int64(_mix64(seed, t) % uint64(span))
