"""Lightning Core with clean names and keyword arguments.

Every op takes ``device=None`` and ``policy=None`` keywords; the other keyword names follow
the original ones (``stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups,
causal, scale, eps``).
"""
from . import _core

for _name in dir(_core):
    if not _name.startswith("_"):
        globals()[_name] = getattr(_core, _name)
del _name
