"""The CUDA backend's core from Python: availability, device tensors, memory errors, GEMM in
every precision, elementwise, row-wise and transpose ops, and DLPack / __cuda_array_interface__
interop with torch and CuPy. GPU tests compare against float64 NumPy AND the CPU backend on the
same inputs; they skip, with the reason, when no CUDA device is usable."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import FP32_TOL, mm_err, poisoned, rand, rel_err, requires_gpu

PREC_TOL = {"fp32": 1e-5, "tf32": 2e-3, "fp16": 5e-3, "bf16": 2e-2}
ODD_SHAPES = [(1, 1, 1), (7, 33, 17), (65, 127, 3), (128, 256, 64), (257, 129, 511)]
ROW_WIDTHS = [1, 3, 7, 33, 127, 128, 1000, 1024, 1025, 4096, 5000, 8192, 8193, 40000]


def f64(x):
    return np.asarray(x, dtype=np.float64)


def on_gpu(x):
    return lc.Tensor(x).to("cuda") if x.dtype == np.float32 else lc.Tensor64(x).to("cuda")


def host(t):
    return t.numpy() if isinstance(t, lc.Tensor) else np.asarray(t)


def nan_device(shape):
    return lc.Tensor(poisoned(shape)).to("cuda")


# ---- without a GPU -------------------------------------------------------------------------

@pytest.mark.skipif(lc.cuda_available(), reason="a CUDA device is present")
def test_no_gpu_is_explained_and_import_works(rng):
    assert lc.cuda_available() is False
    assert lc.cuda_unavailable_reason()
    assert lc.devices() == ["cpu"]
    with pytest.raises(lc.DeviceUnavailableError, match=r"\[device\] expected"):
        lc.Tensor(rand(rng, 3)).to("cuda")


def test_dlpack_host_tensor_is_zero_copy_both_ways(rng):
    x = rand(rng, 3, 5)
    t = lc.Tensor(x)
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert a.__array_interface__["data"][0] == t.numpy().__array_interface__["data"][0]
    np.testing.assert_array_equal(a, x)
    src = rand(rng, 4, 6)
    u = lc.from_dlpack(src)
    assert isinstance(u, lc.Tensor) and u.shape == (4, 6)
    src[2, 3] = 42.0  # shared memory: the change shows through
    assert u.numpy()[2, 3] == 42.0
    v = lc.from_dlpack(rng.standard_normal((2, 3)))
    assert isinstance(v, lc.Tensor64)
    with pytest.raises(AttributeError, match=r"\[__cuda_array_interface__\] expected"):
        t.__cuda_array_interface__  # noqa: B018


def test_from_dlpack_rejects_what_it_cannot_hold(rng):
    with pytest.raises(TypeError, match=r"\[from_dlpack\] expected a float32 or float64"):
        lc.from_dlpack(np.arange(6))
    with pytest.raises(TypeError, match=r"\[from_dlpack\] expected an object with __dlpack__"):
        lc.from_dlpack([1.0, 2.0])
    strided = rand(rng, 6, 4)[:, ::2]  # a host copy, not a view
    np.testing.assert_array_equal(lc.from_dlpack(strided).numpy(), strided)


# ---- device tensors, memory, errors ------------------------------------------------------------

@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("shape", [(0,), (1,), (7, 3), (1000003,), (3, 5 * 1024 * 1024 // 3 + 7)])
def test_device_round_trip(rng, shape):
    x = rand(rng, *shape)
    t = lc.Tensor(x).to("cuda")
    assert t.device == "cuda:0" and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal(t.to("cpu").numpy(), x)


@pytest.mark.gpu
@requires_gpu
def test_out_of_memory_then_keeps_working(rng):
    with pytest.raises(lc.OutOfMemoryError, match=r"\[cuda\] expected"):
        lc.Tensor.empty([1 << 42], "cuda")
    with pytest.raises(MemoryError):  # OutOfMemoryError is a MemoryError
        lc.Tensor.empty([1 << 42], "cuda")
    a, b = rand(rng, 33, 17), rand(rng, 17, 9)
    assert mm_err(host(lc.matmul2d(on_gpu(a), on_gpu(b))), a, b) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_device_results_stay_on_device(rng):
    a, b = rand(rng, 8, 4), rand(rng, 4, 5)
    c = lc.matmul2d(on_gpu(a), on_gpu(b))
    assert isinstance(c, lc.Tensor) and c.device == "cuda:0"
    c2 = lc.matmul2d(a, b, "cuda")  # host in, host out, computed on the GPU
    assert isinstance(c2, np.ndarray)
    assert rel_err(c2, f64(a) @ b) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_synchronize_waits_for_queued_work(rng):
    torch = pytest.importorskip("torch")
    import time
    a, b = on_gpu(rand(rng, 64, 64)), on_gpu(rand(rng, 64, 64))
    lc.synchronize("cuda")
    torch.cuda._sleep(1000)  # torch's context exists before the clock starts
    torch.cuda.synchronize()
    # Our stream is ordered after the legacy stream: a GPU sleep there holds our next op back.
    t0 = time.perf_counter()
    torch.cuda._sleep(200_000_000)  # ~0.1 s at the H100's clock
    syncs = lc.stats()["syncs"]
    c = lc.matmul2d(a, b, policy=lc.Policy(device="cuda", sync=False))
    queued_s = time.perf_counter() - t0
    lc.synchronize("cuda")
    waited_s = time.perf_counter() - t0
    assert lc.stats()["syncs"] == syncs + 1
    assert queued_s < 0.05 < waited_s, (queued_s, waited_s)
    assert rel_err(c.numpy(), f64(a.numpy()) @ b.numpy()) <= FP32_TOL


# ---- GEMM ----------------------------------------------------------------------------------

@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16", "fp16"])
@pytest.mark.parametrize("mkn", ODD_SHAPES)
def test_matmul_precisions(rng, precision, mkn):
    m, k, n = mkn
    a, b = rand(rng, m, k), rand(rng, k, n)
    out = nan_device((m, n))
    lc.matmul2d_into(on_gpu(a), on_gpu(b), out, policy=lc.Policy(precision=precision))
    got = out.numpy()
    assert rel_err(got, f64(a) @ b) <= PREC_TOL[precision]
    cpu = lc.matmul2d(a, b, "cpu")
    assert rel_err(got, cpu) <= PREC_TOL[precision]


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_transposes_alpha_beta(rng, trans_a, trans_b):
    m, k, n = 19, 37, 23
    a = rand(rng, *((k, m) if trans_a else (m, k)))
    b = rand(rng, *((n, k) if trans_b else (k, n)))
    c0 = rand(rng, m, n)
    out = lc.Tensor(c0).to("cuda")
    lc.gemm_into(on_gpu(a), on_gpu(b), out, trans_a, trans_b, 0.5, 0.25)
    ref = 0.5 * (f64(a).T if trans_a else f64(a)) @ (f64(b).T if trans_b else f64(b)) + 0.25 * c0
    assert rel_err(out.numpy(), ref) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
def test_linear_bias_activation(rng, activation):
    x, w, bias = rand(rng, 3, 41, 65), rand(rng, 33, 65), rand(rng, 33)
    y = host(lc.linear(on_gpu(x), on_gpu(w), on_gpu(bias), activation))
    assert rel_err(y, lc.linear(f64(x), f64(w), f64(bias), activation, device="cpu")) <= FP32_TOL
    assert rel_err(y, lc.linear(x, w, bias, activation, device="cpu")) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_batched_broadcast_matmul_and_float64(rng):
    a, b = rand(rng, 4, 1, 9, 13), rand(rng, 3, 13, 6)
    assert rel_err(host(lc.matmul(on_gpu(a), on_gpu(b))), np.matmul(f64(a), f64(b))) <= FP32_TOL
    a64, b64 = rng.standard_normal((37, 19)), rng.standard_normal((19, 45))
    c = lc.matmul2d(on_gpu(a64), on_gpu(b64))
    assert c.dtype == "float64" and c.device == "cuda:0"
    assert rel_err(c.numpy(), a64 @ b64) <= 1e-12


@pytest.mark.gpu
@requires_gpu
@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 70), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_matmul_hypothesis(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, m, k), rand(rng, k, n)
    assert mm_err(host(lc.matmul2d(on_gpu(a), on_gpu(b))), a, b) <= FP32_TOL


# ---- elementwise ---------------------------------------------------------------------------

UNARY = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(__import__("math").erf)(x / np.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "exp": np.exp,
    "neg": np.negative,
    "abs": np.abs,
    "sqrt": lambda x: np.sqrt(np.abs(x)),
}


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("n", [1, 3, 17, 1027, 100003])
def test_unary(rng, name, n):
    x = rand(rng, n) * 3
    if name == "sqrt":
        x = np.abs(x)
    out = nan_device((n,))
    getattr(lc, name + "_into")(on_gpu(x), out)
    ref = UNARY[name](f64(x))
    assert rel_err(out.numpy(), ref) <= 1e-6
    assert rel_err(out.numpy(), getattr(lc, name)(x, device="cpu")) <= 1e-6


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("b_shape", [(37, 129), (129,), (37, 1), (), (1, 129)])
def test_binary_broadcast(rng, op, b_shape):
    a, b = rand(rng, 37, 129), rand(rng, *b_shape) + (2.0 if op == "div" else 0.0)
    got = host(getattr(lc, op)(on_gpu(a), on_gpu(b)))
    ref = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}[op])(f64(a), f64(b))
    assert rel_err(got, ref) <= 1e-6
    assert rel_err(got, getattr(lc, op)(a, b, device="cpu")) <= 1e-6


@pytest.mark.gpu
@requires_gpu
def test_axpy_scale_and_nan_propagation(rng):
    x, y = rand(rng, 1001), rand(rng, 1001)
    assert rel_err(host(lc.axpy(0.75, on_gpu(x), on_gpu(y))), 0.75 * f64(x) + y) <= 1e-6
    assert rel_err(host(lc.scale(on_gpu(x), -2.5)), -2.5 * f64(x)) <= 1e-6
    z = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(host(lc.relu(on_gpu(z))), np.array([np.nan, np.inf, 0, 0, 0, 2], np.float32))
    np.testing.assert_array_equal(host(lc.exp(on_gpu(z)))[:3], np.array([np.nan, np.inf, 0], np.float32))


# ---- row-wise and transpose ------------------------------------------------------------------

def row_refs(x, w, b):
    x = f64(x)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    e = np.exp(x - x.max(-1, keepdims=True))
    s = x - x.max(-1, keepdims=True)
    return {
        "softmax": e / e.sum(-1, keepdims=True),
        "log_softmax": s - np.log(np.exp(s).sum(-1, keepdims=True)),
        "layer_norm": (x - mean) / np.sqrt(var + 1e-5) * w + b,
        "rms_norm": x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * w,
        "sum": x.sum(-1),
        "mean": x.mean(-1),
        "max": x.max(-1),
    }


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("cols", ROW_WIDTHS)
def test_rowwise_ops_across_kernel_widths(rng, cols):
    rows = 5 if cols > 4096 else 37
    x, w, b = rand(rng, rows, cols) * 4, rand(rng, cols), rand(rng, cols)
    refs = row_refs(x, w, b)
    X, W, B = on_gpu(x), on_gpu(w), on_gpu(b)
    gpu_calls = {
        "softmax": lambda d: lc.softmax(d["x"], device=d["dev"]),
        "log_softmax": lambda d: lc.log_softmax(d["x"], device=d["dev"]),
        "layer_norm": lambda d: lc.layer_norm(d["x"], d["w"], d["b"], 1e-5, device=d["dev"]),
        "rms_norm": lambda d: lc.rms_norm(d["x"], d["w"], 1e-6, device=d["dev"]),
        "sum": lambda d: lc.sum(d["x"], device=d["dev"]),
        "mean": lambda d: lc.mean(d["x"], device=d["dev"]),
        "max": lambda d: lc.max(d["x"], device=d["dev"]),
    }
    for name, call in gpu_calls.items():
        got = host(call({"x": X, "w": W, "b": B, "dev": None}))
        assert rel_err(got, refs[name]) <= FP32_TOL, name
        assert rel_err(got, call({"x": x, "w": w, "b": b, "dev": "cpu"})) <= FP32_TOL, name
        got64 = host(call({"x": on_gpu(f64(x)), "w": on_gpu(f64(w)), "b": on_gpu(f64(b)), "dev": None}))
        assert rel_err(got64, refs[name]) <= 1e-12, name


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "layer_norm", "rms_norm"])
def test_rowwise_into_poisoned_and_in_place(rng, name):
    x = rand(rng, 33, 1000)
    ref = row_refs(x, np.ones(1000), np.zeros(1000))[name]
    no_params = {"layer_norm": (None, None), "rms_norm": (None,)}.get(name, ())  # weight, bias
    out = nan_device(x.shape)
    getattr(lc, name + "_into")(on_gpu(x), *no_params, out)
    assert rel_err(out.numpy(), ref) <= FP32_TOL
    t = on_gpu(x)
    getattr(lc, name + "_into")(t, *no_params, t)  # in place
    assert rel_err(t.numpy(), ref) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_rowwise_nan_and_inf_rows(rng):
    x = rand(rng, 4, 300)
    x[1, 7] = np.nan
    x[2, 9] = np.inf
    got = host(lc.softmax(on_gpu(x)))
    assert np.isnan(got[1]).all() and np.isnan(got[2]).all() and np.isfinite(got[[0, 3]]).all()
    mx = host(lc.max(on_gpu(x)))
    assert np.isnan(mx[1]) and mx[2] == np.inf


@pytest.mark.gpu
@requires_gpu
def test_reduce_few_long_rows(rng):
    x = rand(rng, 3, 1 << 20)
    for name, ref in (("sum", f64(x).sum(-1)), ("mean", f64(x).mean(-1)), ("max", f64(x).max(-1))):
        assert rel_err(host(getattr(lc, name)(on_gpu(x))), ref) <= FP32_TOL, name


@pytest.mark.gpu
@requires_gpu
@given(st.lists(st.integers(1, 40), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_softmax_layer_norm_hypothesis(shape, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, *shape)
    refs = row_refs(x, 1.0, 0.0)
    assert rel_err(host(lc.softmax(on_gpu(x))), refs["softmax"]) <= FP32_TOL
    assert rel_err(host(lc.layer_norm(on_gpu(x))), refs["layer_norm"]) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("shape", [(1, 5), (33, 65), (3, 100, 31), (2, 2, 1000, 7)])
def test_transpose_exact(rng, shape):
    x = rand(rng, *shape)
    np.testing.assert_array_equal(host(lc.transpose(on_gpu(x))), np.swapaxes(x, -1, -2))
    x64 = f64(x)
    np.testing.assert_array_equal(host(lc.transpose(on_gpu(x64))), np.swapaxes(x64, -1, -2))


# ---- interop: torch and CuPy -------------------------------------------------------------

def cuda_ptr(t):
    return t.__cuda_array_interface__["data"][0]


@pytest.mark.gpu
@requires_gpu
def test_torch_dlpack_both_ways_zero_copy(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    tt = torch.randn(37, 129, device="cuda")
    x = lc.from_dlpack(tt)  # torch -> lc: same memory
    assert x.device == "cuda:0" and cuda_ptr(x) == tt.data_ptr()
    got = host(lc.softmax(x))
    assert rel_err(got, torch.softmax(tt.double(), -1).cpu().numpy()) <= FP32_TOL
    del tt  # x keeps torch's buffer alive
    torch.cuda.empty_cache()
    np.testing.assert_array_equal(host(lc.softmax(x)), got)

    y = lc.layer_norm(x)  # lc -> torch: same memory
    ty = torch.from_dlpack(y)
    assert ty.data_ptr() == cuda_ptr(y) and ty.device.type == "cuda"
    np.testing.assert_array_equal(ty.cpu().numpy(), y.numpy())
    tz = torch.as_tensor(y, device="cuda")  # through __cuda_array_interface__
    assert tz.data_ptr() == cuda_ptr(y)

    s = torch.cuda.Stream()  # a non-default consumer stream: the producer synchronises
    with torch.cuda.stream(s):
        w = lc.matmul2d(x, lc.transpose(x))
        tw = torch.from_dlpack(w)
        ref = torch.from_dlpack(x).double() @ torch.from_dlpack(x).double().T
        assert rel_err(tw.cpu().numpy(), ref.cpu().numpy()) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_torch_tensor_as_op_argument(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    ta, tb = torch.randn(65, 33, device="cuda"), torch.randn(33, 17, device="cuda")
    c = lc.matmul2d(ta, tb)
    assert isinstance(c, lc.Tensor) and c.device == "cuda:0"
    assert rel_err(c.numpy(), (ta.double() @ tb.double()).cpu().numpy()) <= FP32_TOL


@pytest.mark.gpu
@requires_gpu
def test_cupy_both_ways(rng):
    cp = pytest.importorskip("cupy")
    a = cp.asarray(rand(rng, 17, 33))
    x = lc.from_dlpack(a)
    assert cuda_ptr(x) == a.data.ptr
    y = lc.relu(x)
    cy = cp.from_dlpack(y)
    assert cy.data.ptr == cuda_ptr(y)
    np.testing.assert_array_equal(cp.asnumpy(cy), np.maximum(cp.asnumpy(a), 0))
    cz = cp.asarray(y)  # __cuda_array_interface__
    assert cz.data.ptr == cuda_ptr(y)
