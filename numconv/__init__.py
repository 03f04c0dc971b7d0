"""numconv: Numba-compiled CPU and CUDA kernels for convolutional networks.

    import numconv as nc
    y = nc.F.conv2d(x, w, padding="same")
"""
from . import functional, shapes
from . import functional as F

__version__ = "0.1.0"
__all__ = ["F", "functional", "shapes", "__version__"]
