"""unfold (im2col) with fold (col2im) as its backward, and pad, over the suite's conv rows' inputs."""
import numconv.functional as F

from ._suite import CONV, CONV_ROWS, rand


class Unfold:
    """unfold with the row's kernel, dilation, padding and stride; backward is fold."""

    params = [CONV_ROWS]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        r = CONV[row]
        self.x = rand((r["N"], r["C"], r["H"], r["W"]))
        self.kw = dict(kernel_size=r["k"], dilation=r["d"], padding=r["p"], stride=r["s"])
        cols = F.unfold(self.x[:1], **self.kw)
        self.gy = rand((self.x.shape[0],) + cols.shape[1:], 2)

    def time_forward(self, row):
        F.unfold(self.x, **self.kw)

    def time_forward_backward(self, row):
        F.unfold(self.x, **self.kw)
        F.unfold_backward(self.gy, self.x, **self.kw)

    def peakmem_forward(self, row):
        F.unfold(self.x, **self.kw)


class Pad:
    """pad by the row's convolution padding (1 where it has none) on H and W, in each mode."""

    params = [CONV_ROWS, ["constant", "reflect", "replicate", "circular"]]
    param_names = ["row", "mode"]

    def setup(self, row, mode):
        r = CONV[row]
        self.x = rand((r["N"], r["C"], r["H"], r["W"]))
        p = max(r["p"], 1)
        self.pad = (p, p, p, p)
        self.gy = rand((r["N"], r["C"], r["H"] + 2 * p, r["W"] + 2 * p), 2)
        F.pad(self.x[:1], self.pad, mode)

    def time_forward(self, row, mode):
        F.pad(self.x, self.pad, mode)

    def time_forward_backward(self, row, mode):
        F.pad(self.x, self.pad, mode)
        F.pad_backward(self.gy, self.x, self.pad, mode)

    def peakmem_forward(self, row, mode):
        F.pad(self.x, self.pad, mode)
