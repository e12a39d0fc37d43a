"""Vector family: unary activations, broadcasting binary ops, axpy and scale, float32 and
float64, against float64 NumPy references."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err

FP64_TOL = 1e-12
DTYPES = [np.float32, np.float64]
_erfc = np.frompyfunc(math.erfc, 1, 1)


def gelu_ref(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * np.asarray(_erfc(-x / math.sqrt(2.0)), dtype=np.float64)


UNARY = {
    "relu": lambda x: np.maximum(x, 0.0),
    "gelu": gelu_ref,
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "exp": np.exp,
    "neg": np.negative,
    "abs": np.abs,
    "sqrt": np.sqrt,
}
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
SHAPES = [(), (1,), (7,), (17,), (33, 65), (3, 7, 127), (2, 1, 3, 5)]


def tol(dtype):
    return FP32_TOL if dtype == np.float32 else FP64_TOL


def unary_input(rng, name, shape, dtype):
    x = rand(rng, *shape, dtype=np.float64) * 6.0
    if name == "sqrt":
        x = np.abs(x)
    return np.asarray(x, dtype=dtype)


def ref_unary(name, x):
    with np.errstate(all="ignore"):
        return UNARY[name](np.asarray(x, dtype=np.float64))


# ---- unary -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_matches_reference(rng, name, shape, dtype):
    x = unary_input(rng, name, shape, dtype)
    y = getattr(lc, name)(x)
    assert y.dtype == dtype and y.shape == x.shape
    assert rel_err(y, ref_unary(name, x)) <= tol(dtype)
    out = poisoned(shape, dtype)
    assert getattr(lc, name + "_into")(x, out) is None
    assert rel_err(out, ref_unary(name, x)) <= tol(dtype)


@pytest.mark.parametrize("name", ["gelu", "silu", "sigmoid", "tanh", "exp"])
def test_unary_float32_elementwise_accuracy(name):
    # Every element, not only the norm: a wrong polynomial coefficient shows here.
    x = np.linspace(-30.0, 30.0, 200_003).astype(np.float32)
    y = getattr(lc, name)(x).astype(np.float64)
    ref = ref_unary(name, x)
    big = np.abs(ref) > 1e-30
    err = np.abs(y - ref)[big] / np.abs(ref)[big]
    # gelu's far negative tail is erfc(z) with z^2 rounded to float32: a few 1e-6 relative.
    assert err.max() <= (2e-5 if name == "gelu" else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_special_values(name, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 100.0,
                  -100.0, 720.0, -750.0, 3.0, -3.0], dtype=dtype)
    y = getattr(lc, name)(x)
    with np.errstate(over="ignore"):
        ref = ref_unary(name, x).astype(dtype)  # overflow to inf is the expected result
    np.testing.assert_allclose(y, ref, rtol=5e-6 if dtype == np.float32 else 1e-12,
                               atol=np.finfo(dtype).tiny, equal_nan=True)
    assert np.array_equal(np.isnan(y), np.isnan(ref))


@pytest.mark.parametrize("name", ["relu", "gelu", "exp", "sqrt"])
def test_unary_large_array_threads(rng, name):
    x = unary_input(rng, name, ((1 << 20) + 37,), np.float32)
    assert rel_err(getattr(lc, name)(x), ref_unary(name, x)) <= FP32_TOL


@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_in_place(rng, dtype):
    x = rand(rng, 17, 33, dtype=dtype)
    ref = ref_unary("gelu", x)
    assert lc.gelu_into(x, x) is None
    assert rel_err(x, ref) <= tol(dtype)


def test_unary_partial_overlap_is_copied_first(rng):
    buf = rand(rng, 100) * 3
    x, out = buf[1:], buf[:-1]
    ref = ref_unary("exp", x.copy())
    lc.exp_into(x, out)
    assert rel_err(buf[:-1], ref) <= FP32_TOL


def test_unary_strided_inputs(rng):
    x = rand(rng, 20, 30)
    for view in (x[::-1], x[:, ::2], x.T, x[::3, ::-2]):
        assert rel_err(lc.tanh(view), np.tanh(view.astype(np.float64))) <= FP32_TOL
    out = poisoned(x.T.shape)
    lc.sigmoid_into(x.T, out)
    assert rel_err(out, ref_unary("sigmoid", x.T)) <= FP32_TOL


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 5, 2)])
def test_unary_zero_size(shape):
    x = np.empty(shape, np.float32)
    assert lc.relu(x).shape == shape
    lc.exp_into(x, np.empty(shape, np.float32))


# ---- binary ----------------------------------------------------------------------------------
BROADCAST_CASES = [
    ((7,), (7,)),
    ((33, 65), (33, 65)),
    ((5, 4), (4,)),
    ((3, 1), (1, 4)),
    ((), (3, 2)),
    ((2, 1, 3), (4, 1)),
    ((7, 1, 17), (1, 33, 1)),
    ((1,), (1,)),
    ((4, 1), (4, 1)),
    ((0, 3), (3,)),
    ((2, 3, 5, 7), (3, 1, 7)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_CASES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasting(rng, name, shapes, dtype):
    for sa, sb in (shapes, shapes[::-1]):
        a, b = rand(rng, *sa, dtype=dtype), rand(rng, *sb, dtype=dtype)
        if name == "div":
            b = b + np.where(b >= 0, 0.5, -0.5).astype(dtype)
        ref = BINARY[name](a.astype(np.float64), b.astype(np.float64))
        y = getattr(lc, name)(a, b)
        assert y.shape == ref.shape and y.dtype == dtype
        assert rel_err(y, ref) <= tol(dtype)
        out = poisoned(ref.shape, dtype)
        assert getattr(lc, name + "_into")(a, b, out) is None
        assert rel_err(out, ref) <= tol(dtype)


def test_binary_large_broadcast_threads(rng):
    a, b, c = rand(rng, 1031, 1029), rand(rng, 1029), rand(rng, 1031, 1)
    assert rel_err(lc.add(a, b), a.astype(np.float64) + b) <= FP32_TOL
    assert rel_err(lc.mul(c, a), c.astype(np.float64) * a) <= FP32_TOL
    assert rel_err(lc.sub(a, a[::-1]), a.astype(np.float64) - a[::-1]) <= FP32_TOL


@given(st.data())
@settings(max_examples=25, deadline=None)
def test_binary_broadcast_hypothesis(data):
    shape = data.draw(st.lists(st.integers(1, 9), min_size=0, max_size=4))
    keep = data.draw(st.integers(0, len(shape)))
    sb = [d if data.draw(st.booleans()) else 1 for d in shape[len(shape) - keep:]]
    sa = [d if data.draw(st.booleans()) else 1 for d in shape]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = rand(rng, *sa), rand(rng, *sb)
    for name in ("add", "mul"):
        ref = BINARY[name](a.astype(np.float64), b)
        assert rel_err(getattr(lc, name)(a, b), ref) <= FP32_TOL
        assert rel_err(getattr(lc, name)(b, a), ref) <= FP32_TOL


@pytest.mark.parametrize("sa,sb", [((2, 3), (4,)), ((3,), (2,)), ((2, 3, 4), (3, 1, 5)), ((0,), (2,))])
def test_binary_shape_mismatch(rng, sa, sb):
    a, b = rand(rng, *sa), rand(rng, *sb)
    with pytest.raises(ValueError, match=r"^\[add\] expected a and b with broadcastable shapes"):
        lc.add(a, b)
    out = poisoned((4, 4))
    with pytest.raises(ValueError, match=r"^\[sub_into\] expected a and b with broadcastable"):
        lc.sub_into(a, b, out)
    assert np.isnan(out).all()


def test_binary_ieee_special_values():
    a = np.array([1.0, 0.0, -1.0, np.inf, np.nan, np.inf], np.float32)
    b = np.array([0.0, 0.0, 0.0, np.inf, 1.0, -np.inf], np.float32)
    with np.errstate(all="ignore"):
        for name in BINARY:
            np.testing.assert_array_equal(getattr(lc, name)(a, b), BINARY[name](a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_in_place(rng, dtype):
    a, b = rand(rng, 9, 33, dtype=dtype), rand(rng, 33, dtype=dtype)
    ref = a.astype(np.float64) * b
    assert lc.mul_into(a, b, a) is None  # a *= b, b broadcast
    assert rel_err(a, ref) <= tol(dtype)
    c, d = rand(rng, 5, 7, dtype=dtype), rand(rng, 5, 7, dtype=dtype)
    ref = c.astype(np.float64) - d
    lc.sub_into(c, d, d)  # out is the second operand
    assert rel_err(d, ref) <= tol(dtype)
    e = rand(rng, 11, dtype=dtype)
    ref = e.astype(np.float64) + e
    lc.add_into(e, e, e)
    assert rel_err(e, ref) <= tol(dtype)


def test_binary_broadcast_operand_overlapping_out_is_copied(rng):
    a = rand(rng, 6, 8)
    row = a[0]  # broadcast over every row of a, and also written (row 0) by a -= row
    ref = a.astype(np.float64) - a[0].astype(np.float64)
    lc.sub_into(a, row, a)
    assert rel_err(a, ref) <= FP32_TOL


def test_binary_mixed_dtypes_rejected(rng):
    a, b = rand(rng, 3), rand(rng, 3, dtype=np.float64)
    with pytest.raises(TypeError, match=r"^\[add\] expected b to be float32 like the other inputs"):
        lc.add(a, b)


# ---- axpy / scale ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (17,), (33, 65), (3, 7, 127)])
def test_axpy_scale(rng, shape, dtype):
    x, y = rand(rng, *shape, dtype=dtype), rand(rng, *shape, dtype=dtype)
    alpha = float(rng.uniform(-3, 3))
    ref = alpha * x.astype(np.float64) + y
    assert rel_err(lc.axpy(alpha, x, y), ref) <= tol(dtype)
    assert rel_err(lc.axpy(alpha=alpha, x=x, y=y), ref) <= tol(dtype)
    out = poisoned(shape, dtype)
    lc.axpy_into(alpha, x, y, out)
    assert rel_err(out, ref) <= tol(dtype)
    sref = alpha * x.astype(np.float64)
    assert rel_err(lc.scale(x, alpha), sref) <= tol(dtype)
    assert rel_err(lc.scale(x=x, alpha=alpha), sref) <= tol(dtype)
    out = poisoned(shape, dtype)
    lc.scale_into(x, alpha, out)
    assert rel_err(out, sref) <= tol(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpy_scale_in_place(rng, dtype):
    x, y = rand(rng, 65, dtype=dtype), rand(rng, 65, dtype=dtype)
    ref = 2.5 * x.astype(np.float64) + y
    lc.axpy_into(2.5, x, y, y)
    assert rel_err(y, ref) <= tol(dtype)
    ref = -0.5 * x.astype(np.float64)
    lc.scale_into(x, -0.5, x)
    assert rel_err(x, ref) <= tol(dtype)


def test_axpy_large_threads(rng):
    x, y = rand(rng, (1 << 20) + 5), rand(rng, (1 << 20) + 5)
    assert rel_err(lc.axpy(-1.5, x, y), -1.5 * x.astype(np.float64) + y) <= FP32_TOL
    assert rel_err(lc.scale(x, 3.0), 3.0 * x.astype(np.float64)) <= FP32_TOL


def test_axpy_shape_mismatch(rng):
    with pytest.raises(ValueError, match=r"^\[axpy\] expected x and y of the same shape"):
        lc.axpy(1.0, rand(rng, 3, 4), rand(rng, 4))
    out = poisoned((3, 4))
    with pytest.raises(ValueError, match=r"^\[axpy_into\] expected x and y of the same shape"):
        lc.axpy_into(1.0, rand(rng, 3, 4), rand(rng, 3, 5), out)
    assert np.isnan(out).all()


def test_scale_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(lc.scale(x, 0.0), x * np.float32(0.0))
        np.testing.assert_array_equal(lc.scale(x, -2.0), x * np.float32(-2.0))


# ---- contract: bad inputs and outputs --------------------------------------------------------
def _calls(x, out):
    """(op name, allocating call, *_into call) for one op of each kind."""
    return [
        ("relu", lambda v: lc.relu(v), lambda v, o: lc.relu_into(v, o)),
        ("sqrt", lambda v: lc.sqrt(v), lambda v, o: lc.sqrt_into(v, o)),
        ("add", lambda v: lc.add(v, x), lambda v, o: lc.add_into(v, x, o)),
        ("div", lambda v: lc.div(x, v), lambda v, o: lc.div_into(x, v, o)),
        ("axpy", lambda v: lc.axpy(2.0, v, x), lambda v, o: lc.axpy_into(2.0, x, v, o)),
        ("scale", lambda v: lc.scale(v, 2.0), lambda v, o: lc.scale_into(v, 2.0, o)),
    ]


BAD_INPUTS = [
    (np.ones((3, 4), np.int32), "int32"),
    (np.ones((3, 4), np.float16), "float16"),
    (np.ones((3, 4), bool), "bool"),
    (np.array([[object()] * 4] * 3, dtype=object), "object"),
    (None, "None"),
    ([[1.0] * 4] * 3, "list"),
]


@pytest.mark.parametrize("bad,what", BAD_INPUTS)
def test_bad_input_types(rng, bad, what):
    x = rand(rng, 3, 4)
    for name, call, call_into in _calls(x, None):
        with pytest.raises(TypeError, match=rf"^\[{name}\] expected .*{what}"):
            call(bad)
        out = poisoned((3, 4))
        with pytest.raises(TypeError, match=rf"^\[{name}_into\] expected .*{what}"):
            call_into(bad, out)
        assert np.isnan(out).all()


def test_bad_outputs(rng):
    x = rand(rng, 3, 4)
    ro = poisoned((3, 4))
    ro.flags.writeable = False
    cases = [
        (poisoned((4, 3)), ValueError, "of shape"),
        (poisoned((3, 4), np.float64), TypeError, "float32"),
        (poisoned((4, 3)).T, ValueError, "C-contiguous"),
        (ro, ValueError, "writeable"),
        (None, TypeError, "None"),
        (np.zeros((3, 4), np.int32), TypeError, "int32"),
    ]
    for name, _, call_into in _calls(x, None):
        for out, exc, msg in cases:
            with pytest.raises(exc, match=rf"^\[{name}_into\] expected .*{msg}"):
                call_into(x, out)
            if out is not None and out.dtype == np.float32:
                assert np.isnan(out).all()


def test_every_op_is_bound_with_docs():
    for name in list(UNARY) + list(BINARY) + ["axpy", "scale"]:
        for fn in (getattr(lc, name), getattr(lc, name + "_into")):
            assert fn.__doc__ and name in fn.__doc__


def test_device_and_policy_arguments(rng):
    x = rand(rng, 5)
    assert rel_err(lc.exp(x, device="cpu"), np.exp(x.astype(np.float64))) <= FP32_TOL
    assert rel_err(lc.add(x, x, policy=lc.Policy(device="cpu")), 2.0 * x) <= FP32_TOL
    with pytest.raises(ValueError, match=r"^\[device\]"):
        lc.relu(x, device="tpu")
