"""numconv: Numba-compiled CPU and CUDA kernels for convolutional networks.

    import numconv as nc
    y = nc.F.conv2d(x, w, padding="same")
"""
from . import autograd, functional, shapes
from . import functional as F
from .autograd import Function, enable_grad, no_grad
from .tensor import Tensor

__version__ = "0.1.0"
__all__ = ["F", "Function", "Tensor", "autograd", "enable_grad", "functional", "no_grad", "shapes", "__version__"]
