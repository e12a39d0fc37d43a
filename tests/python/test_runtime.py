"""Devices, policies, tensors, stats and the matmul2d contract."""
import numpy as np
import pytest

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err


def test_devices_and_names():
    assert lc.devices()[0] == "cpu"
    assert lc.backend_name() in ("cpu", "cuda")
    assert lc.metal_available() is False
    assert isinstance(lc.cuda_available(), bool)


def test_metal_raises_listing_devices(rng):
    a = rand(rng, 2, 2)
    with pytest.raises(lc.DeviceUnavailableError, match="cpu"):
        lc.matmul2d(a, a, "metal")


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "", "CPU"])
def test_unknown_device_is_value_error(rng, bad):
    a = rand(rng, 2, 2)
    with pytest.raises(ValueError, match=r"\[device\] expected"):
        lc.matmul2d(a, a, bad)


@pytest.mark.skipif(lc.cuda_available(), reason="a CUDA device is present")
def test_cuda_without_gpu_says_why(rng):
    a = rand(rng, 2, 2)
    with pytest.raises(lc.DeviceUnavailableError):
        lc.matmul2d(a, a, "cuda")
    assert lc.cuda_unavailable_reason()


def test_synchronize_devices():
    lc.synchronize("cpu")  # CPU ops finish before they return
    lc.synchronize()  # "auto": the best device present
    with pytest.raises(ValueError, match=r"\[device\] expected"):
        lc.synchronize("tpu")
    if not lc.cuda_available():
        with pytest.raises(lc.DeviceUnavailableError):
            lc.synchronize("cuda")


def test_fp64_precision_needs_float64_inputs(rng):
    # Never computed in lower precision than the policy allows: float32 inputs cannot run "fp64".
    a, b = rand(rng, 5, 7), rand(rng, 7, 3)
    p64 = lc.Policy(device="cpu", precision="fp64")
    for call in (lambda: lc.matmul2d(a, b, policy=p64), lambda: lc.softmax(a, policy=p64),
                 lambda: lc.attention2d(a, a, a, policy=p64)):
        with pytest.raises(lc.NotSupportedError, match=r'^\[\w+\] expected float64 inputs for precision "fp64"'):
            call()
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    c = lc.matmul2d(a64, b64, policy=p64)
    assert c.dtype == np.float64 and rel_err(c, a64 @ b64) <= 1e-12


def test_policy_object_and_scope(rng):
    p = lc.Policy(device="cpu", precision="tf32")
    assert p.precision == "tf32" and p.device == "cpu"
    with pytest.raises(ValueError):
        lc.Policy(precision="int8")
    with pytest.raises(ValueError):
        lc.Policy(device="gpu0")
    with lc.policy(device="cpu", sync=False):
        assert lc.current_policy().device == "cpu"
        assert lc.current_policy().sync is False
    assert lc.current_policy().device == "auto"
    a, b = rand(rng, 3, 4), rand(rng, 4, 5)
    assert rel_err(lc.matmul2d(a, b, policy=p), a.astype(np.float64) @ b) <= FP32_TOL


def test_tensor_roundtrip(rng):
    a = rand(rng, 3, 5)
    t = lc.Tensor(a)
    assert t.shape == (3, 5) and t.dtype == "float32" and t.device == "cpu"
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(np.asarray(t), a)
    t64 = lc.Tensor64(a.astype(np.float64))
    assert t64.dtype == "float64"
    with pytest.raises(TypeError):
        lc.Tensor(a.astype(np.int32))
    with pytest.raises(TypeError):
        lc.Tensor64(a)
    v = lc.TensorView(a[:, ::2])
    assert v.shape == (3, 3) and not v.is_contiguous
    b = rand(rng, 3, 4)
    out = lc.matmul2d(v, b)
    assert rel_err(out, a[:, ::2].astype(np.float64) @ b) <= FP32_TOL


def test_stats_count_strided_copies(rng):
    lc.reset_stats()
    a = rand(rng, 6, 4)[::2]
    b = rand(rng, 4, 3)
    lc.matmul2d(a, b)
    assert lc.stats()["contiguous_copies"] == 1


def test_matmul2d_into_contract(rng):
    a, b = rand(rng, 5, 7), rand(rng, 7, 3)
    out = poisoned((5, 3))
    assert lc.matmul2d_into(a, b, out, "cpu") is None
    assert rel_err(out, a.astype(np.float64) @ b) <= FP32_TOL
    before = poisoned((5, 3))
    for bad, exc in [
        (np.empty((3, 5), np.float32), ValueError),           # wrong shape
        (np.empty((5, 3), np.float64), TypeError),            # wrong dtype
        (np.empty((3, 5), np.float32).T, ValueError),         # not contiguous
        (None, TypeError),
    ]:
        with pytest.raises(exc, match=r"\[matmul2d_into\]"):
            lc.matmul2d_into(a, b, bad, "cpu")
    ro = poisoned((5, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        lc.matmul2d_into(a, b, ro, "cpu")
    assert np.isnan(ro).all() and np.isnan(before).all()
