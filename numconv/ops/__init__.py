"""Array-level operations: forward and backward math over arrays, backend-agnostic.

Each function takes arrays (NumPy or CUDA) plus a spec from ``numconv.shapes``, allocates its
outputs on the arrays' device through ``numconv.dispatch``, and runs one kernel. Autograd and
the functional API are built on these; they never import Numba.
"""
from .conv import (
    add_channel_bias,
    conv_bias_grad,
    conv_forward,
    conv_input_grad,
    conv_transpose_forward,
    conv_weight_grad,
)
from .norm import (GROUP_NORM_ROW, GROUP_NORM_TASKS, batch_norm_backward, batch_norm_forward, batch_norm_update_running,
                   channel_affine, group_norm_backward, group_norm_forward, layer_norm_backward, layer_norm_forward)
from .pad import pad_backward, pad_forward
from .pool import (
    avg_pool_backward,
    avg_pool_forward,
    check_indices,
    fractional_max_pool_backward,
    fractional_max_pool_forward,
    max_pool_backward,
    max_pool_forward,
    max_unpool_backward,
    max_unpool_forward,
)
from .resample import resample_axes
from .unfold import fold_forward, unfold_forward
from . import ctc, grid_sample, math
