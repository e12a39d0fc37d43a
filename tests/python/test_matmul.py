"""matmul family: matmul2d, matmul (batched, broadcast), gemm, linear; float32 and float64,
against float64 NumPy references."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import FP32_TOL, mm_err, poisoned, rand, rel_err

FP64_TOL = 1e-12
DTYPES = [np.float32, np.float64]
DIMS = [1, 3, 7, 17, 33, 65, 127]
_erf = np.frompyfunc(math.erf, 1, 1)


def tol(dtype):
    return FP32_TOL if dtype == np.float32 else FP64_TOL


def f64(x):
    return np.asarray(x, dtype=np.float64)


def act_ref(y, activation):
    y = f64(y)
    if activation == "relu":
        return np.where(y < 0, 0.0, y)
    if activation == "gelu":
        return 0.5 * y * (1.0 + np.asarray(_erf(y / math.sqrt(2.0)), dtype=np.float64))
    return y


def linear_ref(x, w, b=None, activation="none"):
    y = f64(x) @ f64(w).T
    if b is not None:
        y = y + f64(b)
    return act_ref(y, activation)


def assert_same_specials(out, ref):
    """NaN where the reference has NaN, the same infinities, the rest close."""
    out, ref = f64(out), f64(ref)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(ref))
    fin = np.isfinite(ref)
    assert rel_err(out[fin], ref[fin]) <= FP32_TOL


# ---- matmul2d ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", DIMS)
@pytest.mark.parametrize("k", [1, 17, 65])
@pytest.mark.parametrize("n", [1, 7, 33, 127])
def test_matmul2d_shapes(rng, m, k, n, dtype):
    a, b = rand(rng, m, k, dtype=dtype), rand(rng, k, n, dtype=dtype)
    y = lc.matmul2d(a, b)
    assert y.dtype == dtype and y.shape == (m, n)
    assert mm_err(y, a, b) <= tol(dtype)
    out = poisoned((m, n), dtype)
    assert lc.matmul2d_into(a, b, out) is None
    assert mm_err(out, a, b) <= tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(8, 8, 8), (64, 64, 64), (256, 256, 256), (300, 257, 513),
                                 (129, 1000, 70), (1030, 33, 700), (5, 2000, 300)])
def test_matmul2d_blocked_sizes(rng, mnk, dtype):
    m, n, k = mnk
    a, b = rand(rng, m, k, dtype=dtype), rand(rng, k, n, dtype=dtype)
    assert rel_err(lc.matmul2d(a, b, device="cpu"), f64(a) @ f64(b)) <= tol(dtype)


def test_matmul2d_seed_positional_device(rng):
    a, b = rand(rng, 3, 4), rand(rng, 4, 5)
    assert rel_err(lc.matmul2d(a, b, "cpu"), f64(a) @ f64(b)) <= FP32_TOL
    out = poisoned((3, 5))
    lc.matmul2d_into(a, b, out, "cpu")
    assert rel_err(out, f64(a) @ f64(b)) <= FP32_TOL


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(0, 40), n=st.integers(1, 70),
       seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(DTYPES))
def test_matmul2d_hypothesis(m, k, n, seed, dtype):
    r = np.random.default_rng(seed)
    a, b = rand(r, m, k, dtype=dtype), rand(r, k, n, dtype=dtype)
    assert mm_err(lc.matmul2d(a, b), a, b) <= tol(dtype)


# ---- strided inputs and aliasing ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["transposed", "step", "negative", "both_transposed"])
def test_matmul2d_strided_inputs(rng, layout, dtype):
    m, k, n = 33, 65, 17
    if layout == "transposed":  # F-contiguous: read as the transpose, no copy
        a, b = rand(rng, k, m, dtype=dtype).T, rand(rng, k, n, dtype=dtype)
    elif layout == "step":
        a, b = rand(rng, m, 2 * k, dtype=dtype)[:, ::2], rand(rng, 3 * k, n, dtype=dtype)[::3]
    elif layout == "negative":
        a, b = rand(rng, m, k, dtype=dtype)[::-1], rand(rng, k, n, dtype=dtype)[:, ::-1]
    else:
        a, b = rand(rng, k, m, dtype=dtype).T, rand(rng, n, k, dtype=dtype).T
    assert not (a.flags.c_contiguous and b.flags.c_contiguous)
    assert mm_err(lc.matmul2d(a, b), a, b) <= tol(dtype)
    assert mm_err(lc.matmul(a, b), a, b) <= tol(dtype)
    assert mm_err(lc.gemm(a, b), a, b) <= tol(dtype)


def test_matmul2d_into_output_aliasing_input(rng):
    a, b = rand(rng, 17, 17), rand(rng, 17, 17)
    ref = f64(a) @ f64(b)
    lc.matmul2d_into(a, b, a)  # out is a: the op reads a copy of a
    assert rel_err(a, ref) <= FP32_TOL
    a = rand(rng, 17, 17)
    ref = f64(a) @ f64(b)
    lc.matmul2d_into(a, b, b)
    assert rel_err(b, ref) <= FP32_TOL


def test_gemm_into_alias_with_beta(rng):
    a, b = rand(rng, 33, 33), rand(rng, 33, 33)
    ref = 2.0 * (f64(a) @ f64(b)) + 0.5 * f64(a)
    lc.gemm_into(a, b, a, alpha=2.0, beta=0.5)
    assert rel_err(a, ref) <= FP32_TOL


def test_matmul_into_alias_partial_overlap(rng):
    big = rand(rng, 16, 8)
    a, out = big[0:8], big[4:12]  # out shares rows 4..7 with a
    b = rand(rng, 8, 8)
    ref = f64(a) @ f64(b)
    lc.matmul_into(a, b, out)
    assert rel_err(out, ref) <= FP32_TOL


# ---- matmul (batched, broadcast) ----------------------------------------------------------------
BATCH_CASES = [
    ((5, 7), (7, 3)),
    ((4, 5, 7), (4, 7, 3)),
    ((4, 5, 7), (7, 3)),            # b shared: folded into one (20, 7) product
    ((5, 7), (4, 7, 3)),            # a shared
    ((2, 1, 5, 7), (3, 7, 3)),      # broadcast both ways
    ((2, 3, 1, 5, 7), (1, 3, 4, 7, 3)),  # no single stride: several backend calls
    ((1, 1, 5, 7), (1, 7, 3)),
    ((7,), (7, 3)),
    ((5, 7), (7,)),
    ((7,), (7,)),
    ((2, 3, 7), (7,)),
    ((7,), (4, 7, 3)),
    ((0, 5, 7), (7, 3)),
    ((3, 0, 7), (3, 7, 4)),
    ((3, 5, 0), (3, 0, 4)),
    ((2, 65, 33), (2, 33, 129)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BATCH_CASES)
def test_matmul_broadcast(rng, shapes, dtype):
    a, b = rand(rng, *shapes[0], dtype=dtype), rand(rng, *shapes[1], dtype=dtype)
    ref = np.matmul(f64(a), f64(b))
    y = lc.matmul(a, b)
    assert isinstance(y, np.ndarray) and y.dtype == dtype and y.shape == ref.shape
    assert mm_err(y, a, b) <= tol(dtype)
    out = poisoned(ref.shape, dtype)
    assert lc.matmul_into(a, b, out) is None
    assert mm_err(out, a, b) <= tol(dtype)
    assert mm_err(lc.api.matmul(a, b, device="cpu"), a, b) <= tol(dtype)


def test_matmul_many_small_items(rng):
    # Enough work to run items on several threads, each too small to split.
    a, b = rand(rng, 96, 48, 48), rand(rng, 96, 48, 48)
    assert rel_err(lc.matmul(a, b), np.matmul(f64(a), f64(b))) <= FP32_TOL


def test_concurrent_callers(rng):
    # The GIL is released during the op: several Python threads share the pool and scratch.
    import concurrent.futures as cf
    pairs = [(rand(rng, 300, 200), rand(rng, 200, 310)) for _ in range(8)]
    with cf.ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda ab: lc.matmul2d(*ab), pairs))
    for (a, b), y in zip(pairs, outs):
        assert rel_err(y, f64(a) @ f64(b)) <= FP32_TOL


@settings(max_examples=25, deadline=None)
@given(batch_a=st.lists(st.integers(1, 3), max_size=3), batch_b=st.lists(st.integers(1, 3), max_size=3),
       m=st.integers(1, 9), k=st.integers(0, 9), n=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_matmul_hypothesis(batch_a, batch_b, m, k, n, seed):
    r = np.random.default_rng(seed)
    # Make the batch shapes broadcastable: where both have an axis and differ, set one to 1.
    la, lb = batch_a[::-1], batch_b[::-1]
    for i in range(min(len(la), len(lb))):
        if la[i] != lb[i]:
            lb[i] = 1
    a, b = rand(r, *la[::-1], m, k), rand(r, *lb[::-1], k, n)
    assert mm_err(lc.matmul(a, b), a, b) <= FP32_TOL


# ---- gemm -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("mnk", [(7, 17, 3), (33, 65, 127), (300, 70, 700), (1, 600, 300)])
def test_gemm_transposes(rng, mnk, trans_a, trans_b, dtype):
    m, n, k = mnk
    a = rand(rng, *((k, m) if trans_a else (m, k)), dtype=dtype)
    b = rand(rng, *((n, k) if trans_b else (k, n)), dtype=dtype)
    opa, opb = (f64(a).T if trans_a else f64(a)), (f64(b).T if trans_b else f64(b))
    ref = -1.5 * (opa @ opb)
    y = lc.gemm(a, b, trans_a, trans_b, -1.5)
    assert y.dtype == dtype and y.shape == (m, n)
    assert rel_err(y, ref) <= tol(dtype)
    out = poisoned((m, n), dtype)
    lc.gemm_into(a, b, out, trans_a=trans_a, trans_b=trans_b, alpha=-1.5)  # beta 0: out not read
    assert rel_err(out, ref) <= tol(dtype)
    c0 = rand(rng, m, n, dtype=dtype)
    out = c0.copy()
    lc.gemm_into(a, b, out, trans_a, trans_b, 0.5, 2.0)
    assert rel_err(out, 0.5 * (opa @ opb) + 2.0 * f64(c0)) <= tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("n,k", [(64, 4), (100, 5), (1000, 300), (1041, 1024), (4096, 7)])
def test_few_rows_streamed_path(rng, m, n, k, dtype):
    # A few rows against a row-major B take the streamed kernel (gemm_stream.h): chunk edges,
    # odd K (the 4- and 2-row passes and the tail), alpha/beta and the epilogues.
    a, b = rand(rng, m, k, dtype=dtype), rand(rng, k, n, dtype=dtype)
    ref = f64(a) @ f64(b)
    assert rel_err(lc.matmul2d(a, b), ref) <= tol(dtype)
    c0 = rand(rng, m, n, dtype=dtype)
    out = c0.copy()
    lc.gemm_into(a, b, out, False, False, -0.5, 2.0)
    assert rel_err(out, -0.5 * ref + 2.0 * f64(c0)) <= tol(dtype)
    out = poisoned((m, n), dtype)
    lc.gemm_into(a, b, out, alpha=3.0)  # beta 0: the poisoned output is not read
    assert rel_err(out, 3.0 * ref) <= tol(dtype)


def test_gemm_into_beta_accumulates_repeatedly(rng):
    a, b = rand(rng, 65, 33), rand(rng, 33, 17)
    out = np.zeros((65, 17), np.float32)
    for _ in range(3):
        lc.gemm_into(a, b, out, beta=1.0)
    assert rel_err(out, 3.0 * (f64(a) @ f64(b))) <= FP32_TOL


def test_gemm_keywords_and_api(rng):
    a, b = rand(rng, 5, 4), rand(rng, 6, 5)
    ref = f64(a).T @ f64(b).T
    assert rel_err(lc.api.gemm(a, b, trans_a=True, trans_b=True, device="cpu"), ref) <= FP32_TOL
    assert rel_err(lc.gemm(a, b, alpha=2.0, trans_b=True, trans_a=True), 2 * ref) <= FP32_TOL


# ---- linear -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("x_shape", [(7,), (3, 17), (2, 5, 33), (129, 65)])
def test_linear(rng, x_shape, with_bias, activation, dtype):
    n_out = 65
    x = rand(rng, *x_shape, dtype=dtype) * 3
    w = rand(rng, n_out, x_shape[-1], dtype=dtype)
    b = rand(rng, n_out, dtype=dtype) if with_bias else None
    ref = linear_ref(x, w, b, activation)
    y = lc.linear(x, w, b, activation)
    assert y.dtype == dtype and y.shape == x_shape[:-1] + (n_out,)
    assert rel_err(y, ref) <= tol(dtype)
    out = poisoned(ref.shape, dtype)
    assert lc.linear_into(x, w, b, out, activation) is None
    assert rel_err(out, ref) <= tol(dtype)
    y = lc.api.linear(x, weight=w, bias=b, activation=activation, device="cpu")
    assert rel_err(y, ref) <= tol(dtype)


@pytest.mark.parametrize("mnk", [(1, 1000, 300), (600, 300, 500), (40, 4096, 64)])
def test_linear_large_gelu(rng, mnk):
    m, n, k = mnk
    x, w, b = rand(rng, m, k) * 2, rand(rng, n, k), rand(rng, n)
    assert rel_err(lc.linear(x, w, b, activation="gelu"), linear_ref(x, w, b, "gelu")) <= FP32_TOL
    assert rel_err(lc.linear(x, w, b, activation="relu"), linear_ref(x, w, b, "relu")) <= FP32_TOL


def test_linear_gelu_is_exact_erf_form():
    # Inputs straight through (identity weight): checks the epilogue element by element.
    x = np.linspace(-8, 8, 4001).astype(np.float32).reshape(-1, 1)
    w = np.ones((1, 1), np.float32)
    y = lc.linear(x, w, activation="gelu")
    ref = act_ref(x, "gelu")
    assert np.max(np.abs(f64(y) - ref)) <= 1e-6
    y64 = lc.linear(f64(x), f64(w), activation="gelu")
    assert np.max(np.abs(y64 - ref)) <= 1e-14


def test_linear_strided_weight_and_x(rng):
    x = rand(rng, 9, 40)[:, ::2]
    w_t = rand(rng, 20, 13)  # weight.T stored contiguous: read without a copy
    b = rand(rng, 26)[::2]
    ref = linear_ref(x, w_t.T, b, "relu")
    assert rel_err(lc.linear(x, w_t.T, b, "relu"), ref) <= FP32_TOL
    assert rel_err(lc.linear(x[::-1], w_t.T[::-1], b[::-1]), linear_ref(x[::-1], w_t.T[::-1], b[::-1])) <= FP32_TOL


# ---- zero-size dimensions -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_gives_zeros_and_bias(rng, dtype):
    a, b = np.zeros((4, 0), dtype), np.zeros((0, 5), dtype)
    np.testing.assert_array_equal(lc.matmul2d(a, b), np.zeros((4, 5)))
    out = poisoned((4, 5), dtype)
    lc.matmul2d_into(a, b, out)
    np.testing.assert_array_equal(out, np.zeros((4, 5)))
    np.testing.assert_array_equal(lc.gemm(a.T, b.T, True, True), np.zeros((4, 5)))
    c0 = rand(rng, 4, 5, dtype=dtype)
    out = c0.copy()
    lc.gemm_into(a, b, out, beta=0.5)
    np.testing.assert_allclose(out, 0.5 * c0)
    bias = rand(rng, 5, dtype=dtype)
    for act in ["none", "relu", "gelu"]:
        y = lc.linear(np.zeros((3, 0), dtype), np.zeros((5, 0), dtype), bias, act)
        np.testing.assert_allclose(y, np.broadcast_to(act_ref(bias, act), (3, 5)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shapes", [((0, 4), (4, 5)), ((4, 5), (5, 0)), ((0, 0), (0, 0))])
def test_m_or_n_zero_gives_empty(shapes):
    a, b = np.ones(shapes[0], np.float32), np.ones(shapes[1], np.float32)
    y = lc.matmul2d(a, b)
    assert y.shape == (shapes[0][0], shapes[1][1])
    lc.matmul2d_into(a, b, np.empty(y.shape, np.float32))
    assert lc.gemm(a, b).shape == y.shape
    assert lc.linear(a, b.T.copy()).shape == y.shape


# ---- NaN / Inf ----------------------------------------------------------------------------------
def test_nan_inf_propagate(rng):
    a, b = rand(rng, 20, 33), rand(rng, 33, 40)
    a[3, 5] = np.nan
    a[7, 2] = np.inf
    b[1, 30] = -np.inf
    with np.errstate(invalid="ignore"):
        ref = f64(a) @ f64(b)
    assert_same_specials(lc.matmul2d(a, b), ref)
    assert_same_specials(lc.gemm(a.T.copy(), b.T.copy(), True, True), ref)
    w = b.T.copy()
    with np.errstate(invalid="ignore"):
        assert_same_specials(lc.linear(a, w, activation="relu"), act_ref(ref, "relu"))
        # gelu(-inf) = -inf * 0 = NaN, as the IEEE formula gives
        assert_same_specials(lc.linear(a, w, activation="gelu"), act_ref(ref, "gelu"))


# ---- bad inputs -------------------------------------------------------------------------------
def _expect(exc, prefix, fn, *args, out=None, **kwargs):
    before = None if out is None else out.copy()
    with pytest.raises(exc, match=r"^\[" + prefix + r"\] expected"):
        fn(*args, **kwargs)
    if out is not None:
        np.testing.assert_array_equal(out, before)


BAD_DTYPES = [np.int32, np.int64, np.float16, np.bool_, object]


@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_bad_dtypes(dtype):
    good = np.ones((3, 3), np.float32)
    bad = np.ones((3, 3), dtype=dtype)
    out = np.full((3, 3), 7.0, np.float32)
    _expect(TypeError, "matmul2d", lc.matmul2d, bad, good)
    _expect(TypeError, "matmul2d_into", lc.matmul2d_into, good, bad, out, out=out)
    _expect(TypeError, "matmul", lc.matmul, good, bad)
    _expect(TypeError, "matmul_into", lc.matmul_into, bad, good, out, out=out)
    _expect(TypeError, "gemm", lc.gemm, bad, good)
    _expect(TypeError, "gemm_into", lc.gemm_into, good, good, bad)
    _expect(TypeError, "linear", lc.linear, bad, good)
    _expect(TypeError, "linear", lc.linear, good, good, np.ones(3, dtype=dtype))
    _expect(TypeError, "linear_into", lc.linear_into, good, bad, None, out, out=out)


def test_none_and_non_arrays():
    good = np.ones((3, 3), np.float32)
    out = np.full((3, 3), 7.0, np.float32)
    for bad in [None, 3.0, "abc", [[1.0]]]:
        _expect(TypeError, "matmul2d", lc.matmul2d, bad, good)
        _expect(TypeError, "matmul", lc.matmul, good, bad)
        _expect(TypeError, "gemm_into", lc.gemm_into, good, bad, out, out=out)
        _expect(TypeError, "linear", lc.linear, bad, good)
        _expect(TypeError, "linear_into", lc.linear_into, good, good, None, bad)
    _expect(TypeError, "matmul2d_into", lc.matmul2d_into, good, good, None)


def test_mixed_dtypes():
    a32, a64 = np.ones((3, 3), np.float32), np.ones((3, 3), np.float64)
    out = np.full((3, 3), 7.0, np.float32)
    _expect(TypeError, "matmul2d", lc.matmul2d, a32, a64)
    _expect(TypeError, "matmul_into", lc.matmul_into, a32, a32, np.zeros((3, 3), np.float64))
    _expect(TypeError, "gemm_into", lc.gemm_into, a64, a64, out, out=out)
    _expect(TypeError, "linear", lc.linear, a32, a32, np.ones(3, np.float64))


def test_wrong_ranks_and_dims():
    f = np.float32
    out = np.full((3, 4), 7.0, f)
    _expect(ValueError, "matmul2d", lc.matmul2d, np.ones((3,), f), np.ones((3, 4), f))
    _expect(ValueError, "matmul2d", lc.matmul2d, np.ones((2, 3, 4), f), np.ones((4, 4), f))
    _expect(ValueError, "matmul2d", lc.matmul2d, np.ones((3, 5), f), np.ones((4, 4), f))
    _expect(ValueError, "matmul2d_into", lc.matmul2d_into, np.ones((3, 5), f), np.ones((4, 4), f), out, out=out)
    _expect(ValueError, "matmul", lc.matmul, np.ones((), f), np.ones((3,), f))
    _expect(ValueError, "matmul", lc.matmul, np.ones((3,), f), np.ones((4,), f))
    _expect(ValueError, "matmul", lc.matmul, np.ones((2, 3, 4), f), np.ones((3, 4, 5), f))
    _expect(ValueError, "gemm", lc.gemm, np.ones((3, 4), f), np.ones((3, 4), f))
    _expect(ValueError, "gemm", lc.gemm, np.ones((3, 4), f), np.ones((3, 4), f), True, True)
    _expect(ValueError, "gemm", lc.gemm, np.ones((3, 4, 1), f), np.ones((4, 4), f))
    _expect(ValueError, "gemm_into", lc.gemm_into, np.ones((3, 4), f), np.ones((4, 4), f), out, True, out=out)
    _expect(ValueError, "linear", lc.linear, np.ones((3, 4), f), np.ones((5, 3), f))
    _expect(ValueError, "linear", lc.linear, np.ones((3, 4), f), np.ones((4,), f))
    _expect(ValueError, "linear", lc.linear, np.ones((3, 4), f), np.ones((5, 4), f), np.ones(4, f))
    _expect(ValueError, "linear", lc.linear, np.ones((3, 4), f), np.ones((5, 4), f), np.ones((1, 5), f))
    _expect(ValueError, "linear", lc.linear, np.ones((), f), np.ones((5, 1), f))
    _expect(ValueError, "linear_into", lc.linear_into, np.ones((3, 4), f), np.ones((5, 4), f), None, out, out=out)


def test_bad_activation():
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    out = np.full((2, 4), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"^\[linear\] expected activation 'none', 'relu' or 'gelu', got 'tanh'"):
        lc.linear(x, w, None, "tanh")
    _expect(ValueError, "linear", lc.linear, x, w, activation="GELU")
    _expect(ValueError, "linear_into", lc.linear_into, x, w, None, out, "sigmoid", out=out)
    for bad in (1, None, 1.5):  # not a string: the same [op] message, naming the type
        with pytest.raises(ValueError, match=rf"^\[linear\] expected activation .* got '<{type(bad).__name__}>'"):
            lc.linear(x, w, activation=bad)
        with pytest.raises(ValueError, match=r"^\[linear_into\] expected activation"):
            lc.linear_into(x, w, None, out, bad)
    assert np.all(out == 7.0)  # nothing written


def test_bad_outputs():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    cases = [
        (ValueError, np.full((3, 4), 7.0, np.float32)),  # wrong shape
        (ValueError, np.full((5, 3), 7.0, np.float32)),
        (TypeError, np.full((3, 5), 7.0, np.float64)),  # wrong dtype
        (TypeError, np.full((3, 5), 7, np.int32)),
        (ValueError, np.full((5, 3), 7.0, np.float32).T),  # not C-contiguous
        (ValueError, np.full((3, 10), 7.0, np.float32)[:, ::2]),
    ]
    ro = np.full((3, 5), 7.0, np.float32)
    ro.flags.writeable = False
    cases.append((ValueError, ro))
    for exc, out in cases:
        _expect(exc, "matmul2d_into", lc.matmul2d_into, a, b, out, out=out)
        _expect(exc, "matmul_into", lc.matmul_into, a, b, out, out=out)
        _expect(exc, "gemm_into", lc.gemm_into, a, b, out, out=out)
        _expect(exc, "linear_into", lc.linear_into, a, b.T.copy(), None, out, out=out)
    # Broadcast result shape, not the inputs' shape.
    out = np.full((3, 5), 7.0, np.float32)
    _expect(ValueError, "matmul_into", lc.matmul_into, np.ones((2, 3, 4), np.float32), b, out, out=out)


def test_bad_device_leaves_output():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    out = np.full((3, 5), 7.0, np.float32)
    before = out.copy()
    with pytest.raises(ValueError, match=r"\[device\] expected"):
        lc.gemm_into(a, b, out, device="tpu")
    np.testing.assert_array_equal(out, before)
