"""numconv: Numba-compiled CPU and CUDA kernels for convolutional networks.

    import numconv as nc
    y = nc.F.conv2d(x, w, padding="same")                 # arrays in, arrays out
    x = nc.Tensor(x, requires_grad=True)                  # or Tensors, with autograd
    model = nc.models.lenet5(); opt = nc.optim.Adam(model.parameters())
"""
from . import autograd, functional, random, shapes
from . import functional as F
from .autograd import Function, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import (
    Tensor, arange, as_tensor, bool_, cat, empty, empty_like, eye, float32, float64, from_numpy, full, full_like, int32,
    int64, linspace, manual_seed, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, split, chunk,
    stack, tensor, where, zeros, zeros_like,
)
from . import autograd_functional
from . import cuda, data, models, nn, optim, transforms
from . import methods
from .methods import *  # noqa: F401,F403 - nc.add(x, y), nc.sin(x), ...: each Tensor method as a function, as PyTorch's
from . import composite
from .composite import *  # noqa: F401,F403 - einsum, tensordot, cdist, meshgrid, ...: compositions of Tensor ops
from .conv_matrix import conv_matrix
from .receptive_field import receptive_field
from .summary import summary

autograd.functional = autograd_functional  # nc.autograd.functional.jacobian, as torch.autograd.functional

__version__ = "0.1.0"
__all__ = [
    "F", "Function", "Tensor", "arange", "autograd", "cat", "enable_grad", "float32", "float64", "full", "full_like",
    "functional", "inference_mode", "int64", "is_grad_enabled", "manual_seed", "no_grad", "set_grad_enabled", "ones", "ones_like", "rand", "randint", "randn", "randperm",
    "random", "shapes", "split", "chunk", "stack", "where", "tensor", "zeros", "zeros_like", "__version__",
    "conv_matrix", "cuda", "data", "models", "nn", "optim", "receptive_field", "summary",
    "as_tensor", "bool_", "empty", "empty_like", "from_numpy", "int32", "linspace", "rand_like", "randn_like",
    "methods", *methods.__all__, "eye", "composite", *composite.__all__,
]
