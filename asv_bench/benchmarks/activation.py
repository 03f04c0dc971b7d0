"""The activations on a ResNet stage's output (32, 64, 28, 28) float32: forward, and forward +
backward through autograd (each one pass of ``kernels/cpu/elementwise.py`` per direction)."""
import numconv as nc
import numconv.functional as F

from ._suite import rand

ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "elu": F.elu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "hardtanh": F.hardtanh,
    "softplus": F.softplus,
}


class Activation:
    params = [list(ACTIVATIONS)]
    param_names = ["activation"]

    def setup(self, name):
        self.fn = ACTIVATIONS[name]
        self.x = rand((32, 64, 28, 28), scale=3.0)
        self.gy = nc.Tensor(rand(self.x.shape, 1))

    def time_forward(self, name):
        self.fn(self.x)

    def time_forward_backward(self, name):
        x = nc.Tensor(self.x, requires_grad=True)
        self.fn(x).backward(self.gy)
