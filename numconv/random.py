"""numconv's one global random generator: ``randn``, ``rand``, dropout, ``nn.init`` and data
shuffling all draw from ``generator()``; ``manual_seed(s)`` reseeds it.

As in PyTorch the default seed is fixed, so a fresh process draws the same numbers every run.
"""
from __future__ import annotations

import numbers

import numpy as np

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed
_generator = np.random.default_rng(DEFAULT_SEED)
_seed = DEFAULT_SEED


def generator() -> np.random.Generator:
    """The global ``numpy.random.Generator`` (reseeding replaces it; call this each time)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator; returns it."""
    global _generator, _seed
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed() -> int:
    """The seed last given to ``manual_seed`` (or the default)."""
    return _seed


def get_state() -> dict:
    """The generator's state (a dict of ints), for checkpoints."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a ``get_state()``; a ValueError if ``state`` is not one (a corrupt checkpoint)."""
    if not isinstance(state, dict):
        raise ValueError(f"a random generator state must be a dict, got {type(state).__name__}")
    try:
        _generator.bit_generator.state = state
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"not a {type(_generator.bit_generator).__name__} generator state ({type(e).__name__}: "
                         f"{e}): {sorted(state)}") from None
