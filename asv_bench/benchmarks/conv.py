"""conv2d and conv_transpose2d over the suite's conv rows: forward, and forward + input and weight gradients."""
import numconv.functional as F

from ._suite import CONV, CONV_ROWS, TRANSPOSED_ROWS, adjoint_transpose_args, conv_args


class Conv2d:
    params = [CONV_ROWS]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        self.x, self.w, self.gy, self.kw = conv_args(CONV[row])
        F.conv2d(self.x[:2], self.w, None, **self.kw)  # load the compiled kernels outside the timing

    def time_forward(self, row):
        F.conv2d(self.x, self.w, None, **self.kw)

    def time_forward_backward(self, row):
        F.conv2d(self.x, self.w, None, **self.kw)
        F.conv2d_backward(self.gy, self.x, self.w, None, output_mask=(True, True, False), **self.kw)

    def peakmem_forward(self, row):
        F.conv2d(self.x, self.w, None, **self.kw)

    def peakmem_forward_backward(self, row):
        self.time_forward_backward(row)


class ConvTranspose2d:
    """The suite's transposed rows, and the transpose (adjoint) of every conv2d row."""

    params = [TRANSPOSED_ROWS + [f"adjoint_{n}" for n in CONV_ROWS]]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        if row.startswith("adjoint_"):
            self.x, self.w, self.gy, self.kw = adjoint_transpose_args(CONV[row[len("adjoint_"):]])
        else:
            self.x, self.w, self.gy, self.kw = conv_args(CONV[row])
        F.conv_transpose2d(self.x[:2], self.w, None, **self.kw)

    def time_forward(self, row):
        F.conv_transpose2d(self.x, self.w, None, **self.kw)

    def time_forward_backward(self, row):
        F.conv_transpose2d(self.x, self.w, None, **self.kw)
        F.conv_transpose2d_backward(self.gy, self.x, self.w, None, output_mask=(True, True, False), **self.kw)

    def peakmem_forward(self, row):
        F.conv_transpose2d(self.x, self.w, None, **self.kw)

    def peakmem_forward_backward(self, row):
        self.time_forward_backward(row)

