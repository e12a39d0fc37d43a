"""Lightning Core: matmul, convolution, attention, normalisation and fused pipelines over
NumPy arrays, on the CPU and on CUDA GPUs, with explicit control of where data lives.

    import numpy as np, lightning_core as lc
    y = lc.matmul2d(a, b, "cpu")          # the original flat names, positional arguments
    z = lc.api.layer_norm(x, w, b, eps=1e-5, device="cuda")   # clean keyword names
"""
from . import _core
from ._core import __version__  # noqa: F401

# The native module's public names are the flat API (matmul2d, attention2d, conv2d_nchw, ...).
for _name in dir(_core):
    if not _name.startswith("_"):
        globals()[_name] = getattr(_core, _name)
del _name

from ._policy import policy  # noqa: E402
from . import api  # noqa: E402
