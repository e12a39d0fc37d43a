"""The policy scope: ``with lc.policy(precision="tf32"): ...``."""
import contextlib

from . import _core


@contextlib.contextmanager
def policy(policy=None, **fields):
    """Sets the policy of this thread for the ``with`` block.

    Pass an ``lc.Policy`` or its fields as keywords (fields not given keep the value of the
    policy in effect): ``with lc.policy(device="cuda", precision="bf16"): ...``.
    """
    base = policy if policy is not None else _core.current_policy()
    p = _core.Policy(
        device=base.device, precision=base.precision, upload=base.upload,
        download=base.download, sync=base.sync, mode=base.mode, tune=base.tune,
        deterministic=base.deterministic, pin_host=base.pin_host,
    )
    for key, value in fields.items():
        if not hasattr(p, key):
            raise TypeError(f"[policy] expected a Policy field name, got {key!r}")
        setattr(p, key, value)
    _core._push_policy(p)
    try:
        yield p
    finally:
        _core._pop_policy()
