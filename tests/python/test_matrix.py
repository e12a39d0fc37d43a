"""Matrix family: transpose, softmax / log_softmax, layer_norm / rms_norm and sum / mean / max
over the last axis, float32 and float64, against float64 NumPy references."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err

FP64_TOL = 1e-12
DTYPES = [np.float32, np.float64]
ROW_SHAPES = [(1,), (7,), (3, 17), (5, 33), (2, 3, 65), (4, 127), (3, 1024), (2, 1031)]


def tol(dtype):
    return FP32_TOL if dtype == np.float32 else FP64_TOL


def f64(x):
    return np.asarray(x, dtype=np.float64)


def softmax_ref(x):
    x = f64(x)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def log_softmax_ref(x):
    x = f64(x)
    with np.errstate(invalid="ignore"):
        s = x - x.max(axis=-1, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def layer_norm_ref(x, w=None, b=None, eps=1e-5):
    x = f64(x)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * f64(w)
    if b is not None:
        y = y + f64(b)
    return y


def rms_norm_ref(x, w=None, eps=1e-6):
    x = f64(x)
    y = x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    return y if w is None else y * f64(w)


REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


# ---- transpose -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (33, 65), (2, 3, 127, 17), (1, 1000), (65, 1)])
def test_transpose(rng, shape, dtype):
    x = rand(rng, *shape, dtype=dtype)
    ref = np.swapaxes(x, -1, -2)
    y = lc.transpose(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, ref)
    out = poisoned(ref.shape, dtype)
    assert lc.transpose_into(x, out) is None
    np.testing.assert_array_equal(out, ref)


def test_transpose_large_and_strided(rng):
    x = rand(rng, 1100, 1001)
    np.testing.assert_array_equal(lc.transpose(x), x.T)
    np.testing.assert_array_equal(lc.transpose(x[::-3, ::2]), x[::-3, ::2].T)
    np.testing.assert_array_equal(lc.transpose(x.T), x)


def test_transpose_into_itself_is_copied_first(rng):
    x = rand(rng, 37, 37)
    ref = x.T.copy()
    lc.transpose_into(x, x)
    np.testing.assert_array_equal(x, ref)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (2, 0, 3)])
def test_transpose_zero_size(shape):
    assert lc.transpose(np.empty(shape, np.float32)).shape == shape[:-2] + (shape[-1], shape[-2])


@pytest.mark.parametrize("shape", [(), (5,)])
def test_transpose_needs_two_axes(shape):
    with pytest.raises(ValueError, match=r"^\[transpose\] expected x with at least 2 dimensions"):
        lc.transpose(np.ones(shape, np.float32))


# ---- softmax ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax(rng, shape, dtype, log):
    fn, fn_into, ref_fn = ((lc.log_softmax, lc.log_softmax_into, log_softmax_ref) if log else
                           (lc.softmax, lc.softmax_into, softmax_ref))
    x = rand(rng, *shape, dtype=dtype) * 8
    ref = ref_fn(x)
    y = fn(x)
    assert y.dtype == dtype and y.shape == shape
    assert rel_err(y, ref) <= tol(dtype)
    out = poisoned(shape, dtype)
    assert fn_into(x, out) is None
    assert rel_err(out, ref) <= tol(dtype)
    if not log:
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)


@given(st.lists(st.integers(0, 40), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_softmax_hypothesis(shape, seed):
    x = rand(np.random.default_rng(seed), *shape) * 20
    if x.size == 0:
        assert lc.softmax(x).shape == x.shape and lc.log_softmax(x).shape == x.shape
        return
    assert rel_err(lc.softmax(x), softmax_ref(x)) <= FP32_TOL
    assert rel_err(lc.log_softmax(x), log_softmax_ref(x)) <= FP32_TOL


@pytest.mark.parametrize("scale", [1e3, 1e6, 1e30])
def test_softmax_large_magnitude_rows(rng, scale):
    x = (rand(rng, 6, 37, dtype=np.float64) * scale).astype(np.float32)
    x[1] += np.float32(scale)  # a large common offset
    y = lc.softmax(x)
    assert np.isfinite(y).all()
    assert rel_err(y, softmax_ref(x)) <= FP32_TOL
    assert rel_err(lc.log_softmax(x), log_softmax_ref(x)) <= FP32_TOL


def test_softmax_threads(rng):
    x = rand(rng, 2048, 1024) * 5
    assert rel_err(lc.softmax(x), softmax_ref(x)) <= FP32_TOL
    assert rel_err(lc.log_softmax(x), log_softmax_ref(x)) <= FP32_TOL


def test_softmax_inf_and_nan_rows(rng):
    x = rand(rng, 5, 19)
    x[0, 3] = np.inf         # +inf: inf - inf is NaN, the row is NaN (IEEE, as NumPy)
    x[1, :] = -np.inf        # every entry -inf: NaN row
    x[2, 4] = np.nan         # NaN row
    x[3, [0, 7]] = -np.inf   # -inf entries: probability 0
    for fn, ref_fn in ((lc.softmax, softmax_ref), (lc.log_softmax, log_softmax_ref)):
        y, ref = fn(x), ref_fn(x)
        assert np.isnan(y[:3]).all()
        assert not np.isnan(y[3:]).any()
        np.testing.assert_allclose(y[3:], ref[3:], rtol=1e-5, atol=1e-7)  # -inf where ref is
    assert (lc.softmax(x)[3, [0, 7]] == 0).all()
    assert (lc.log_softmax(x)[3, [0, 7]] == -np.inf).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_in_place_and_strided(rng, dtype):
    x = rand(rng, 9, 65, dtype=dtype) * 4
    ref = softmax_ref(x)
    lc.softmax_into(x, x)
    assert rel_err(x, ref) <= tol(dtype)
    x = rand(rng, 9, 65, dtype=dtype)
    ref = log_softmax_ref(x)
    lc.log_softmax_into(x, x)
    assert rel_err(x, ref) <= tol(dtype)
    z = rand(rng, 20, 30, dtype=dtype)
    for v in (z[::-1], z[:, ::3], z.T):
        assert rel_err(lc.softmax(v), softmax_ref(v)) <= tol(dtype)


@pytest.mark.parametrize("shape", [(3, 0), (0, 5), (0,)])
def test_softmax_zero_size(shape):
    x = np.empty(shape, np.float32)
    assert lc.softmax(x).shape == shape
    lc.log_softmax_into(x, np.empty(shape, np.float32))


# ---- layer_norm / rms_norm -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
def test_layer_norm(rng, shape, dtype, affine):
    n = shape[-1]
    x = rand(rng, *shape, dtype=dtype) * 3 + 0.5
    w = rand(rng, n, dtype=dtype) if affine in ("weight", "both") else None
    b = rand(rng, n, dtype=dtype) if affine in ("bias", "both") else None
    ref = layer_norm_ref(x, w, b, 1e-5)
    y = lc.layer_norm(x, w, b)
    assert y.dtype == dtype and y.shape == shape
    assert rel_err(y, ref) <= tol(dtype)
    assert rel_err(lc.layer_norm(x, weight=w, bias=b, eps=1e-3), layer_norm_ref(x, w, b, 1e-3)) <= tol(dtype)
    out = poisoned(shape, dtype)
    assert lc.layer_norm_into(x, w, b, out) is None
    assert rel_err(out, ref) <= tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm(rng, shape, dtype, weighted):
    x = rand(rng, *shape, dtype=dtype) * 3
    w = rand(rng, shape[-1], dtype=dtype) if weighted else None
    ref = rms_norm_ref(x, w)
    y = lc.rms_norm(x, w)
    assert y.dtype == dtype and rel_err(y, ref) <= tol(dtype)
    assert rel_err(lc.rms_norm(x, weight=w, eps=0.1), rms_norm_ref(x, w, 0.1)) <= tol(dtype)
    out = poisoned(shape, dtype)
    assert lc.rms_norm_into(x, w, out) is None
    assert rel_err(out, ref) <= tol(dtype)


@given(st.lists(st.integers(1, 40), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_norms_hypothesis(shape, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rand(rng, *shape), rand(rng, shape[-1]), rand(rng, shape[-1])
    assert rel_err(lc.layer_norm(x, w, b), layer_norm_ref(x, w, b)) <= FP32_TOL
    assert rel_err(lc.rms_norm(x, w), rms_norm_ref(x, w)) <= FP32_TOL


def test_layer_norm_large_offset_and_long_rows(rng):
    # Mean 1e4 with unit noise: a one-pass E[x^2] - E[x]^2 in float32 would lose everything.
    x = (1e4 + rand(rng, 4, 4099, dtype=np.float64)).astype(np.float32)
    assert rel_err(lc.layer_norm(x), layer_norm_ref(x)) <= FP32_TOL
    x = rand(rng, 2, 1 << 20) + 3
    assert rel_err(lc.layer_norm(x), layer_norm_ref(x)) <= FP32_TOL
    assert rel_err(lc.rms_norm(x), rms_norm_ref(x)) <= FP32_TOL


def test_norm_threads(rng):
    x, w, b = rand(rng, 2048, 1024), rand(rng, 1024), rand(rng, 1024)
    assert rel_err(lc.layer_norm(x, w, b), layer_norm_ref(x, w, b)) <= FP32_TOL
    assert rel_err(lc.rms_norm(x, w), rms_norm_ref(x, w)) <= FP32_TOL


def test_norm_nan_inf_rows(rng):
    x = rand(rng, 4, 33)
    x[0, 5] = np.nan
    x[1, 2] = np.inf
    for y in (lc.layer_norm(x), lc.rms_norm(x)):
        assert np.isnan(y[0]).all()
        assert np.isfinite(y[2:]).all()
    assert np.isnan(lc.layer_norm(x)[1]).all()  # inf - inf
    assert rel_err(lc.layer_norm(x)[2:], layer_norm_ref(x[2:])) <= FP32_TOL


def test_norm_edge_rows(rng):
    b = rand(rng, 1)
    x = rand(rng, 5, 1)
    np.testing.assert_allclose(lc.layer_norm(x, None, b), np.broadcast_to(b, (5, 1)))  # x - mean = 0
    c = np.full((2, 8), 3.0, np.float32)
    assert (lc.layer_norm(c) == 0).all()
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(lc.layer_norm(c, eps=0.0)).all()        # 0/0, as IEEE says
        assert np.isnan(lc.rms_norm(np.zeros((2, 4), np.float32), eps=0.0)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_in_place_and_strided(rng, dtype):
    x, w, b = rand(rng, 7, 65, dtype=dtype), rand(rng, 65, dtype=dtype), rand(rng, 65, dtype=dtype)
    ref = layer_norm_ref(x, w, b)
    lc.layer_norm_into(x, w, b, x)
    assert rel_err(x, ref) <= tol(dtype)
    ref = rms_norm_ref(x, w)
    lc.rms_norm_into(x, w, x)
    assert rel_err(x, ref) <= tol(dtype)
    z = rand(rng, 30, 40, dtype=dtype)
    for v in (z[::-1], z[:, ::2], z.T):
        wv = w[: v.shape[-1]]
        assert rel_err(lc.layer_norm(v, wv[::-1]), layer_norm_ref(v, wv[::-1])) <= tol(dtype)


def test_norm_weight_overlapping_out_is_copied(rng):
    buf = rand(rng, 4, 16)
    w = buf[0]  # weight is row 0 of the output it is written into
    ref = layer_norm_ref(buf, w.copy())
    lc.layer_norm_into(buf, w, None, buf)
    assert rel_err(buf, ref) <= FP32_TOL


@pytest.mark.parametrize("shape", [(0, 5), (3, 0)])
def test_norm_zero_size(shape):
    x = np.empty(shape, np.float32)
    assert lc.layer_norm(x).shape == shape
    assert lc.rms_norm(x).shape == shape


@pytest.mark.parametrize("eps", [-1e-5, -np.inf, np.nan])
def test_norm_bad_eps(rng, eps):
    x = rand(rng, 3, 4)
    with pytest.raises(ValueError, match=r"^\[layer_norm\] expected eps >= 0"):
        lc.layer_norm(x, eps=eps)
    out = poisoned((3, 4))
    with pytest.raises(ValueError, match=r"^\[rms_norm_into\] expected eps >= 0"):
        lc.rms_norm_into(x, None, out, eps=eps)
    assert np.isnan(out).all()


def test_norm_bad_params(rng):
    x = rand(rng, 3, 4)
    for kw, exc, msg in [
        (dict(weight=rand(rng, 5)), ValueError, r"expected weight of shape \(4,\), got \(5,\)"),
        (dict(bias=rand(rng, 4, 1)), ValueError, r"expected bias of shape \(4,\), got \(4, 1\)"),
        (dict(weight=rand(rng, 4, dtype=np.float64)), TypeError, "expected weight to be float32"),
        (dict(bias=np.ones(4, np.int64)), TypeError, "expected bias to be a float32 array, got an array of int64"),
    ]:
        with pytest.raises(exc, match=r"^\[layer_norm\] " + msg):
            lc.layer_norm(x, **kw)
    with pytest.raises(ValueError, match=r"^\[rms_norm\] expected weight of shape \(4,\)"):
        lc.rms_norm(x, rand(rng, 3))
    with pytest.raises(ValueError, match=r"^\[layer_norm\] expected x with at least 1 dimension"):
        lc.layer_norm(np.float32(1.0))


# ---- reductions ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("name", REDUCE)
def test_reduce(rng, name, shape, dtype):
    x = rand(rng, *shape, dtype=dtype) + 0.25
    ref = REDUCE[name](f64(x), axis=-1)
    y = getattr(lc, name)(x)
    assert y.shape == shape[:-1] and y.dtype == dtype
    assert rel_err(y, ref) <= tol(dtype)
    out = poisoned(shape[:-1], dtype)
    assert getattr(lc, name + "_into")(x, out) is None
    assert rel_err(out, ref) <= tol(dtype)


def test_reduce_long_rows_accuracy(rng):
    x = rand(rng, 3, (1 << 20) + 3)  # cancelling sums: float32 accumulation would drift
    for name in REDUCE:
        ref = REDUCE[name](f64(x), axis=-1)
        assert np.all(np.abs(getattr(lc, name)(x) - ref) <= 1e-5 * np.abs(ref) + 1e-6)
    x = rand(rng, 4096, 300)
    for name in REDUCE:
        assert rel_err(getattr(lc, name)(x), REDUCE[name](f64(x), axis=-1)) <= FP32_TOL


def test_reduce_nan_inf():
    x = np.array([[1.0, np.nan, 3.0], [1.0, np.inf, -2.0], [-np.inf, -np.inf, -np.inf],
                  [np.inf, -np.inf, 0.0]], np.float32)
    with np.errstate(invalid="ignore"):
        for name in REDUCE:
            np.testing.assert_array_equal(getattr(lc, name)(x), REDUCE[name](x.astype(np.float64), axis=-1).astype(np.float32))
    long = np.zeros((2, 100), np.float32)
    long[0, 97] = np.nan  # in the vector body and in the tail
    long[1, 40] = np.nan
    assert np.isnan(lc.max(long)).all() and np.isnan(lc.sum(long)).all()


def test_reduce_zero_size(rng):
    assert lc.sum(np.empty((3, 0), np.float32)).tolist() == [0.0, 0.0, 0.0]
    out = poisoned((3,))
    lc.sum_into(np.empty((3, 0), np.float32), out)
    assert (out == 0).all()
    for name in ("mean", "max"):
        with pytest.raises(ValueError, match=rf"^\[{name}\] expected a non-empty last axis"):
            getattr(lc, name)(np.empty((3, 0), np.float32))
        out = poisoned((3,))
        with pytest.raises(ValueError, match=rf"^\[{name}_into\] expected a non-empty last axis"):
            getattr(lc, name + "_into")(np.empty((3, 0), np.float32), out)
        assert np.isnan(out).all()
    for name in REDUCE:
        assert getattr(lc, name)(np.empty((0, 4), np.float32)).shape == (0,)
    assert lc.sum(rand(rng, 5)).shape == ()
    with pytest.raises(ValueError, match=r"^\[sum\] expected x with at least 1 dimension"):
        lc.sum(np.float32(2.0))


def test_reduce_strided(rng):
    x = rand(rng, 20, 30)
    for v in (x[::-1], x[:, ::2], x.T):
        for name in REDUCE:
            assert rel_err(getattr(lc, name)(v), REDUCE[name](f64(v), axis=-1)) <= FP32_TOL


# ---- contract --------------------------------------------------------------------------------
def _ops(x):
    """(name, allocating call, *_into call, output shape) for every matrix op."""
    n = x.shape[-1]
    t = x.shape[:-2] + (x.shape[-1], x.shape[-2])
    return [
        ("transpose", lc.transpose, lc.transpose_into, t),
        ("softmax", lc.softmax, lc.softmax_into, x.shape),
        ("log_softmax", lc.log_softmax, lc.log_softmax_into, x.shape),
        ("layer_norm", lambda v: lc.layer_norm(v, np.ones(n, np.float32)),
         lambda v, o: lc.layer_norm_into(v, None, None, o), x.shape),
        ("rms_norm", lc.rms_norm, lambda v, o: lc.rms_norm_into(v, None, o), x.shape),
        ("sum", lc.sum, lc.sum_into, x.shape[:-1]),
        ("mean", lc.mean, lc.mean_into, x.shape[:-1]),
        ("max", lc.max, lc.max_into, x.shape[:-1]),
    ]


@pytest.mark.parametrize("bad,what", [
    (np.ones((3, 4), np.int32), "int32"),
    (np.ones((3, 4), np.float16), "float16"),
    (np.ones((3, 4), bool), "bool"),
    (np.array([[object()] * 4] * 3, dtype=object), "object"),
    (None, "None"),
])
def test_bad_input_types(rng, bad, what):
    for name, fn, fn_into, shape in _ops(rand(rng, 3, 4)):
        with pytest.raises(TypeError, match=rf"^\[{name}\] expected x to be a float32 array, got .*{what}"):
            fn(bad)
        out = poisoned(shape)
        with pytest.raises(TypeError, match=rf"^\[{name}_into\] expected x .*{what}"):
            fn_into(bad, out)
        assert np.isnan(out).all()


def test_bad_outputs(rng):
    x = rand(rng, 3, 4)
    for name, _, fn_into, shape in _ops(x):
        ro = poisoned(shape)
        ro.flags.writeable = False
        cases = [
            (poisoned(shape + (1,)), ValueError, "of shape"),
            (poisoned(shape, np.float64), TypeError, "float32"),
            (None, TypeError, "None"),
            (ro, ValueError, "writeable"),
        ]
        if len(shape) == 2:
            cases.append((poisoned(shape[::-1]).T, ValueError, "C-contiguous"))
        for out, exc, msg in cases:
            with pytest.raises(exc, match=rf"^\[{name}_into\] expected .*{msg}"):
                fn_into(x, out)
            if out is not None and out.dtype == np.float32:
                assert np.isnan(out).all()


def test_every_op_is_bound_with_docs():
    for name in ["transpose", "softmax", "log_softmax", "layer_norm", "rms_norm", "sum", "mean", "max"]:
        for fn in (getattr(lc, name), getattr(lc, name + "_into")):
            assert fn.__doc__ and name in fn.__doc__
