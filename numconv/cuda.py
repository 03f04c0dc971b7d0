"""``numconv.cuda``: is a CUDA GPU usable from here?"""
from __future__ import annotations

import os


def is_available() -> bool:
    """True when numba-cuda is installed and finds a GPU (or runs the CUDA simulator)."""
    try:
        from numba import cuda
    except Exception:
        return False
    try:
        return bool(cuda.is_available()) or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    except Exception:
        return False


def require() -> None:
    if not is_available():
        raise RuntimeError(
            "CUDA was asked for but is not available: install the 'cuda' extra (pip install numconv[cuda]) "
            "on a machine with an NVIDIA GPU and driver, or keep the arrays on the CPU"
        )
