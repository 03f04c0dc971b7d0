"""Which kernel runs: the backend comes from where the arrays live.

NumPy arrays run on the CPU kernels (``numconv.kernels.cpu``); Numba device arrays and any
object exposing ``__cuda_array_interface__`` (CuPy, PyTorch CUDA tensors) run on the CUDA
kernels (``numconv.kernels.cuda``), whose launchers have the same names and signatures.
This is the only module that knows both backends exist.
"""
from __future__ import annotations

import importlib

import numpy as np

CPU, CUDA = "cpu", "cuda"


def device_of(x) -> str:
    if isinstance(x, np.ndarray):
        return CPU
    if hasattr(x, "__cuda_array_interface__"):
        return CUDA
    return CPU


def backend(**arrays) -> str:
    """The one backend all named arrays live on; mixing devices is a ValueError naming them."""
    where = {name: device_of(a) for name, a in arrays.items() if a is not None}
    devices = set(where.values())
    if len(devices) > 1:
        listing = ", ".join(f"{name} on {dev}" for name, dev in where.items())
        raise ValueError(f"arrays are on different devices ({listing}); move them to one device first")
    return devices.pop() if devices else CPU


def kernels(family: str, device: str):
    """The kernel module ``numconv.kernels.<device>.<family>``."""
    if device == CUDA:
        from . import cuda

        cuda.require()
    return importlib.import_module(f"numconv.kernels.{device}.{family}")


def empty(shape, dtype, device: str):
    if device == CUDA:
        from numba import cuda as nbcuda

        return nbcuda.device_array(shape, dtype=dtype)
    return np.empty(shape, dtype=dtype)


def to_device(array: np.ndarray, device: str):
    """A small host table (pooling windows, pad indices) on the device the kernels run on."""
    if device == CUDA:
        from numba import cuda as nbcuda

        return nbcuda.to_device(array)
    return array


def contiguous(x, device: str):
    """C-contiguous ``x`` (copied once if it is not); the kernels index raw memory."""
    if device == CPU:
        return np.ascontiguousarray(x)
    if getattr(x, "is_c_contiguous", lambda: True)():
        return x
    raise ValueError("CUDA arrays must be C-contiguous; make a contiguous copy first")
