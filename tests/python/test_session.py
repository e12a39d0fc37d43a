"""lc.matmul2d_resident_session: each step on its own, shapes checked on every call."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lightning_core as lc
from conftest import gpu_devices, FP32_TOL, mm_err, poisoned, rand, rel_err

DEVICES = ["cpu"] + gpu_devices()


@pytest.fixture(params=DEVICES)
def dev(request):
    """Every device present; host arrays in and out on each."""
    return request.param
PREFIX = r"^\[matmul2d_resident_session\] expected"


def ref(a, b):
    return np.asarray(a, np.float64) @ np.asarray(b, np.float64)


def operands(rng, m=7, k=17, n=33, dtype=np.float32):
    return rand(rng, m, k, dtype=dtype), rand(rng, k, n, dtype=dtype)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 7, 17), (33, 65, 1), (127, 3, 65)])
def test_start_into_gives_the_product(dev, rng, m, k, n):
    a, b = operands(rng, m, k, n)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    assert isinstance(s, lc.MatmulResidentSession)
    assert s.device.startswith(dev) and s.dtype == "float32"
    assert (s.a_shape, s.b_shape, s.out_shape) == ((m, k), (k, n), (m, n))
    out = poisoned((m, n))
    assert s.start_into(a, b, out) is None
    assert rel_err(out, ref(a, b)) <= FP32_TOL
    # start_into uploads: new values of the same shapes give their own product.
    a2, b2 = operands(rng, m, k, n)
    s.start_into(a2, b2, out)
    assert rel_err(out, ref(a2, b2)) <= FP32_TOL


def test_run_into_leaves_out_untouched_until_finish(dev, rng):
    a, b = operands(rng)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((7, 33))
    s.run_into(a, b, out)
    assert np.isnan(out).all()  # no download
    s.finish_into(out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL


def test_run_into_reads_the_resident_inputs_not_its_arguments(dev, rng):
    a, b = operands(rng)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    other_a, other_b = operands(rng)
    out = poisoned((7, 33))
    s.run_into(other_a, other_b, out)  # no upload: the arguments are only checked
    s.finish_into(out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL
    # upload, then run: the new inputs are used.
    s.upload(other_a, other_b)
    s.run_into(other_a, other_b, out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL  # still the old download
    s.sync()
    s.download_into(out)
    assert rel_err(out, ref(other_a, other_b)) <= FP32_TOL


def test_upload_alone_does_not_launch(dev, rng):
    a, b = operands(rng)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((7, 33))
    s.start_into(a, b, out)
    a2, b2 = operands(rng)
    s.upload(a2, b2)
    s.download_into(out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL  # the product of the last launch


def test_run_batch_sync_no_download(dev, rng):
    a, b = operands(rng, 17, 65, 3)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((17, 3))
    s.run_batch_sync_no_download_into(a, b, out, 8)
    assert np.isnan(out).all()
    s.download_into(out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL
    # n = 0 launches nothing: after a new upload the resident product is still the old one.
    a2, b2 = operands(rng, 17, 65, 3)
    s.upload(a2, b2)
    s.run_batch_sync_no_download_into(a2, b2, out, 0)
    s.download_into(out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL
    s.run_batch_sync_no_download_into(a2, b2, out, 1)
    s.finish_into(out)
    assert rel_err(out, ref(a2, b2)) <= FP32_TOL


def test_float64_session(dev, rng):
    a, b = operands(rng, 5, 9, 4, dtype=np.float64)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    assert s.dtype == "float64"
    out = np.full((5, 4), np.nan)
    s.start_into(a, b, out)
    assert rel_err(out, ref(a, b)) <= 1e-12
    with pytest.raises(TypeError, match=PREFIX + r" a and b to be float64"):
        s.upload(a.astype(np.float32), b.astype(np.float32))
    out32 = poisoned((5, 4))
    with pytest.raises(TypeError, match=PREFIX + r" out to be float64"):
        s.finish_into(out32)
    assert np.isnan(out32).all()


def test_non_contiguous_and_negative_stride_inputs(dev, rng):
    a = rand(rng, 9, 6).T            # (6, 9), transposed
    b = rand(rng, 9, 10)[::-1, ::2]  # (9, 5), negative and doubled strides
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((6, 5))
    s.start_into(a, b, out)
    assert rel_err(out, ref(a, b)) <= FP32_TOL


@pytest.mark.parametrize("m,k,n", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)])
def test_zero_size_dims(dev, rng, m, k, n):
    a, b = operands(rng, m, k, n)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((m, n))
    s.start_into(a, b, out)
    s.run_batch_sync_no_download_into(a, b, out, 3)
    s.finish_into(out)
    np.testing.assert_array_equal(out, np.zeros((m, n), np.float32))  # K = 0: zeros


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_hypothesis_shapes(m, k, n, seed):
    for dev in DEVICES:
        rng = np.random.default_rng(seed)
        a, b = operands(rng, m, k, n)
        s = lc.matmul2d_resident_session(a, b, device=dev)
        out = poisoned((m, n))
        s.run_into(a, b, out)
        assert np.isnan(out).all()
        s.finish_into(out)
        assert mm_err(out, a, b) <= FP32_TOL


def test_nan_inf_propagate(dev, rng):
    a, b = operands(rng, 4, 5, 6)
    a[1, 2] = np.nan
    b[0, 3] = np.inf
    s = lc.matmul2d_resident_session(a, b, device=dev)
    out = poisoned((4, 6))
    s.start_into(a, b, out)
    r = ref(a, b)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(r))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(r))


def test_policy_and_devices(rng):
    a, b = operands(rng)
    s = lc.matmul2d_resident_session(a, b, policy=lc.Policy(device="cpu"))
    assert s.device == "cpu" and "MatmulResidentSession" in repr(s)
    with pytest.raises(lc.DeviceUnavailableError):
        lc.matmul2d_resident_session(a, b, device="metal")
    with pytest.raises(ValueError, match=r"\[device\]"):
        lc.matmul2d_resident_session(a, b, device="tpu")


# ---- bad arguments -------------------------------------------------------------------------
BAD_DTYPES = [np.int32, np.float16, np.bool_, object]


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_constructor_rejects_bad_dtypes(dev, rng, dtype):
    a, b = operands(rng)
    with pytest.raises(TypeError, match=PREFIX + " a to be"):
        lc.matmul2d_resident_session(a.astype(dtype), b, device=dev)
    with pytest.raises(TypeError, match=PREFIX + " b to be"):
        lc.matmul2d_resident_session(a, b.astype(dtype), device=dev)


def test_constructor_rejects_bad_shapes(dev, rng):
    a, b = operands(rng)
    with pytest.raises(TypeError, match=PREFIX + " a to be .*got None"):
        lc.matmul2d_resident_session(None, b, device=dev)
    with pytest.raises(ValueError, match=PREFIX + r" a with 2 dimensions"):
        lc.matmul2d_resident_session(a[None], b, device=dev)
    with pytest.raises(ValueError, match=PREFIX + r" a \(M, K\) and b \(K, N\) with matching K"):
        lc.matmul2d_resident_session(a, b[1:], device=dev)
    with pytest.raises(TypeError, match=PREFIX + " b to be float32 like the other inputs"):
        lc.matmul2d_resident_session(a, b.astype(np.float64), device=dev)


def _session(dev, rng):
    a, b = operands(rng)
    s = lc.matmul2d_resident_session(a, b, device=dev)
    return s, a, b


CALLS = {
    "start_into": lambda s, a, b, out: s.start_into(a, b, out),
    "run_into": lambda s, a, b, out: s.run_into(a, b, out),
    "run_batch": lambda s, a, b, out: s.run_batch_sync_no_download_into(a, b, out, 2),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_every_call_checks_input_shapes(dev, rng, call):
    s, a, b = _session(dev, rng)
    out = poisoned((7, 33))
    bad = [
        (rand(rng, 8, 17), b, ValueError, r" a of shape \(7, 17\) like the session's, got \(8, 17\)"),
        (a, rand(rng, 17, 32), ValueError, r" b of shape \(17, 33\) like the session's, got \(17, 32\)"),
        (a[None], b, ValueError, r" a with 2 dimensions"),
        (None, b, TypeError, r" a to be .*got None"),
        (a, b.astype(np.int64), TypeError, r" b to be"),
        (a.astype(np.float64), b.astype(np.float64), TypeError, r" a and b to be float32"),
    ]
    for ba, bb, exc, msg in bad:
        with pytest.raises(exc, match=PREFIX + msg):
            CALLS[call](s, ba, bb, out)
        assert np.isnan(out).all()
    with pytest.raises(ValueError, match=PREFIX + r" a of shape"):
        s.upload(rand(rng, 7, 18), b)


@pytest.mark.parametrize("call", list(CALLS) + ["download_into", "finish_into"])
def test_every_call_checks_out(dev, rng, call):
    s, a, b = _session(dev, rng)
    run = CALLS.get(call) or (lambda s, a, b, out: getattr(s, call)(out))
    cases = [
        (poisoned((7, 32)), ValueError, r" out of shape \(7, 33\), got \(7, 32\)"),
        (poisoned((7, 33), np.float64), TypeError, r" out to be float32, got float64"),
        (poisoned((33, 7)).T, ValueError, r" out to be C-contiguous"),
        (None, TypeError, r" out to be a writeable float32 array, got None"),
        (np.zeros((7, 33), np.int32), TypeError, r" out to be a writeable float32 array"),
    ]
    for out, exc, msg in cases:
        before = None if out is None else out.copy()
        with pytest.raises(exc, match=PREFIX + msg):
            run(s, a, b, out)
        if before is not None:
            np.testing.assert_array_equal(out, before)
    ro = poisoned((7, 33))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=PREFIX + " out to be writeable"):
        run(s, a, b, ro)
    assert np.isnan(ro).all()


def test_negative_batch_count(dev, rng):
    s, a, b = _session(dev, rng)
    out = poisoned((7, 33))
    with pytest.raises(ValueError, match=PREFIX + r" n >= 0 launches, got -1"):
        s.run_batch_sync_no_download_into(a, b, out, -1)
    with pytest.raises(TypeError):
        s.run_batch_sync_no_download_into(a, b, out, 1.5)
    assert np.isnan(out).all()


def test_session_is_not_constructible_directly():
    with pytest.raises(TypeError):
        lc.MatmulResidentSession()
