"""Import + first conv2d forward+backward in a fresh interpreter, with a cold and a warm Numba cache."""
import os
import shutil
import subprocess
import sys
import tempfile

_FIRST_CONV = """
import numpy as np
import numconv.functional as F
x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
b = np.zeros(4, np.float32)
y = F.conv2d(x, w, b, padding=1)
F.conv2d_backward(np.ones_like(y), x, w, b, padding=1)
"""


class Compile:
    params = [["cold", "warm"]]
    param_names = ["cache"]
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, cache):
        self.root = tempfile.mkdtemp(prefix="numconv-asv-cache-")
        if cache == "warm":  # fill one cache dir once; every timed run then reads it
            self.warm_dir = os.path.join(self.root, "warm")
            subprocess.run([sys.executable, "-c", _FIRST_CONV], check=True,
                           env=dict(os.environ, NUMBA_CACHE_DIR=self.warm_dir))

    def teardown(self, cache):
        shutil.rmtree(self.root, ignore_errors=True)

    def timeraw_import_and_first_conv2d(self, cache):
        # The (untimed) setup string points NUMBA_CACHE_DIR at a fresh directory (cold) or the
        # filled one (warm) before numba is imported; the timed code is the import and first call.
        if cache == "cold":
            setup = f"import os, tempfile; os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(dir={self.root!r})"
        else:
            setup = f"import os; os.environ['NUMBA_CACHE_DIR'] = {self.warm_dir!r}"
        return _FIRST_CONV, setup
