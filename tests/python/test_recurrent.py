"""lstm_cell, lstm and gru_cell against float64 NumPy versions of PyTorch's formulas."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lightning_core as lc
from conftest import gpu_devices, FP32_TOL, rand

DEVICES = ["cpu"] + gpu_devices()


@pytest.fixture(params=DEVICES)
def dev(request):
    """Every device present; host arrays in and out on each."""
    return request.param


# ---- float64 references (torch.nn.LSTMCell / LSTM / GRUCell) -------------------------------
def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _affine(x, w, b):
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T
    return y if b is None else y + np.asarray(b, np.float64)


def ref_lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    g = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    i, f, gg, o = np.split(g, 4, axis=1)
    c_new = _sigmoid(f) * np.asarray(c, np.float64) + _sigmoid(i) * np.tanh(gg)
    return _sigmoid(o) * np.tanh(c_new), c_new


def ref_lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = np.asarray(h0, np.float64), np.asarray(c0, np.float64)
    out = np.zeros((x.shape[0],) + h.shape)
    for t in range(x.shape[0]):
        h, c = ref_lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        out[t] = h
    return out, h, c


def ref_gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    gx, gh = _affine(x, w_ih, b_ih), _affine(h, w_hh, b_hh)
    xr, xz, xn = np.split(gx, 3, axis=1)
    hr, hz, hn = np.split(gh, 3, axis=1)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)  # b_hn is inside hn: n = tanh(W_in x + b_in + r*(W_hn h + b_hn))
    return (1 - z) * n + z * np.asarray(h, np.float64)


def rec_err(got, ref):
    """Relative Frobenius error with a floor: gate outputs are O(1) (|h| <= 1), and where a
    result cancels to near zero (c' = f c + i g, h' = (1-z) n + z h) float32 arithmetic holds
    1e-5 of the terms, not of the small result (B = I = H = 1 cases failed so, 1 seed in ~10^4).
    Results with RMS above 0.1 are held to 1e-5 of themselves, smaller ones to 1e-6 absolute RMS."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    floor = 0.1 * np.sqrt(max(ref.size, 1))
    return float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), floor))


def lstm_args(rng, B, I, H, bias=(True, True)):
    x, h, c = rand(rng, B, I), rand(rng, B, H), rand(rng, B, H)
    w_ih, w_hh = rand(rng, 4 * H, I), rand(rng, 4 * H, H)
    b_ih = rand(rng, 4 * H) if bias[0] else None
    b_hh = rand(rng, 4 * H) if bias[1] else None
    return [x, h, c, w_ih, w_hh, b_ih, b_hh]


def gru_args(rng, B, I, H, bias=(True, True)):
    x, h = rand(rng, B, I), rand(rng, B, H)
    w_ih, w_hh = rand(rng, 3 * H, I), rand(rng, 3 * H, H)
    b_ih = rand(rng, 3 * H) if bias[0] else None
    b_hh = rand(rng, 3 * H) if bias[1] else None
    return [x, h, w_ih, w_hh, b_ih, b_hh]


def seq_args(rng, T, B, I, H, bias=(True, True)):
    a = lstm_args(rng, B, I, H, bias)
    a[0] = rand(rng, T, B, I)
    return a


# ---- values --------------------------------------------------------------------------------
SHAPES = [(1, 1, 1), (3, 7, 17), (7, 33, 65), (17, 3, 1), (2, 127, 33), (65, 17, 7)]
BIASES = [(True, True), (False, False), (True, False), (False, True)]


@pytest.mark.parametrize("B,I,H", SHAPES)
@pytest.mark.parametrize("bias", BIASES)
def test_lstm_cell_matches_reference(dev, rng, B, I, H, bias):
    args = lstm_args(rng, B, I, H, bias)
    h, c = lc.lstm_cell(*args, device=dev)
    rh, rc = ref_lstm_cell(*args)
    assert h.shape == (B, H) and c.shape == (B, H) and h.dtype == np.float32
    assert rec_err(h, rh) <= FP32_TOL
    assert rec_err(c, rc) <= FP32_TOL


@pytest.mark.parametrize("B,I,H", SHAPES)
@pytest.mark.parametrize("bias", BIASES)
def test_gru_cell_matches_reference(dev, rng, B, I, H, bias):
    args = gru_args(rng, B, I, H, bias)
    h = lc.gru_cell(*args, device=dev)
    assert h.shape == (B, H) and h.dtype == np.float32
    assert rec_err(h, ref_gru_cell(*args)) <= FP32_TOL


@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (5, 3, 7, 17), (17, 2, 33, 7), (3, 7, 1, 65)])
@pytest.mark.parametrize("bias", [(True, True), (False, False)])
def test_lstm_sequence_matches_loop_of_cells(dev, rng, T, B, I, H, bias):
    args = seq_args(rng, T, B, I, H, bias)
    out, h, c = lc.lstm(*args, device=dev)
    r_out, r_h, r_c = ref_lstm(*args)
    assert out.shape == (T, B, H) and h.shape == (B, H) and c.shape == (B, H)
    assert rec_err(out, r_out) <= FP32_TOL
    assert rec_err(h, r_h) <= FP32_TOL
    assert rec_err(c, r_c) <= FP32_TOL
    np.testing.assert_array_equal(h, out[-1])


def test_lstm_sequence_agrees_with_lstm_cell_steps(dev, rng):
    x, h, c, w_ih, w_hh, b_ih, b_hh = seq_args(rng, 6, 3, 5, 9)
    out, h_n, c_n = lc.lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, device=dev)
    for t in range(x.shape[0]):
        h, c = lc.lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh, device=dev)
        assert rec_err(out[t], h.astype(np.float64)) <= FP32_TOL
    assert rec_err(c_n, c.astype(np.float64)) <= FP32_TOL


def test_large_cell_uses_threads_and_stays_exact(dev, rng):
    # Big enough (B*H >= 32768) for the row-parallel path of the CPU kernels.
    args = lstm_args(rng, 130, 8, 257)
    rh, rc = ref_lstm_cell(*args)
    h, c = lc.lstm_cell(*args, device=dev)
    assert rec_err(h, rh) <= FP32_TOL and rec_err(c, rc) <= FP32_TOL
    gargs = gru_args(rng, 130, 8, 257)
    assert rec_err(lc.gru_cell(*gargs, device=dev), ref_gru_cell(*gargs)) <= FP32_TOL


@settings(max_examples=25, deadline=None)
@given(T=st.integers(0, 5), B=st.integers(0, 9), I=st.integers(0, 20), H=st.integers(0, 20),
       seed=st.integers(0, 2**32 - 1))
def test_hypothesis_shapes(T, B, I, H, seed):
    for dev in DEVICES:
        rng = np.random.default_rng(seed)
        args = seq_args(rng, T, B, I, H)
        out, h, c = lc.lstm(*args, device=dev)
        r_out, r_h, r_c = ref_lstm(*args)
        for got, ref in ((out, r_out), (h, r_h), (c, r_c)):
            assert got.shape == ref.shape
            assert rec_err(got, ref) <= FP32_TOL
        cell = lstm_args(rng, B, I, H)
        for got, ref in zip(lc.lstm_cell(*cell, device=dev), ref_lstm_cell(*cell)):
            assert rec_err(got, ref) <= FP32_TOL
        g = gru_args(rng, B, I, H)
        assert rec_err(lc.gru_cell(*g, device=dev), ref_gru_cell(*g)) <= FP32_TOL


def test_keywords_and_policy(rng):
    x, h, c, w_ih, w_hh, b_ih, b_hh = lstm_args(rng, 2, 3, 4)
    h1, c1 = lc.lstm_cell(x=x, h=h, c=c, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
                          policy=lc.Policy(device="cpu"))
    h2, c2 = lc.api.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(c1, c2)


# ---- input forms ---------------------------------------------------------------------------
def test_non_contiguous_and_negative_stride_inputs(dev, rng):
    B, I, H = 3, 6, 5
    x = rand(rng, I, B).T                    # transposed
    h = rand(rng, B, 2 * H)[:, ::2]          # strided
    c = rand(rng, B, H)[::-1]                # negative stride
    w_ih = rand(rng, 4 * H, 2 * I)[:, ::2]
    w_hh = rand(rng, H, 4 * H).T
    b_ih, b_hh = rand(rng, 8 * H)[::2], rand(rng, 4 * H)[::-1]
    args = [x, h, c, w_ih, w_hh, b_ih, b_hh]
    for got, ref in zip(lc.lstm_cell(*args, device=dev), ref_lstm_cell(*args)):
        assert rec_err(got, ref) <= FP32_TOL
    xs = rand(rng, B, 4, I).transpose(1, 0, 2)  # (T,B,I), not contiguous
    for got, ref in zip(lc.lstm(xs, *args[1:], device=dev), ref_lstm(xs, *args[1:])):
        assert rec_err(got, ref) <= FP32_TOL
    g = [x, h, rand(rng, 3 * H, 2 * I)[:, ::2], rand(rng, H, 3 * H).T, None, rand(rng, 3 * H)[::-1]]
    assert rec_err(lc.gru_cell(*g, device=dev), ref_gru_cell(*g)) <= FP32_TOL


def test_nan_and_inf_propagate(dev, rng):
    args = lstm_args(rng, 4, 5, 6)
    args[0][1, 2] = np.nan           # row 1 of x: every gate of that row is NaN
    args[1][2, 0] = np.inf           # row 2 of h: inf * mixed-sign weights -> NaN gates
    args[2][3, 1] = -np.inf          # c = -inf in row 3, column 1 only
    h, c = lc.lstm_cell(*args, device=dev)
    rh, rc = ref_lstm_cell(*args)
    assert np.isnan(h[1]).all() and np.isnan(c[1]).all()
    np.testing.assert_array_equal(np.isnan(h), np.isnan(rh))
    np.testing.assert_array_equal(np.isnan(c), np.isnan(rc))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(rc))
    assert np.isinf(rc[3, 1]) and c[3, 1] == -np.inf  # c' = f*(-inf) + ...
    ok = np.isfinite(rh)
    assert rec_err(h[ok], rh[ok]) <= FP32_TOL
    # Saturated gates: huge pre-activations give sigmoid 0/1 and tanh +-1 exactly, not NaN.
    x, hh, cc, w_ih, w_hh, _, _ = lstm_args(rng, 2, 3, 4)
    b = np.full(16, 1e30, np.float32)
    b[4:8] = -1e30
    h, c = lc.lstm_cell(x, hh, cc, w_ih, w_hh, b, None, device=dev)
    rh, rc = ref_lstm_cell(x, hh, cc, w_ih, w_hh, b, None)
    assert np.isfinite(h).all() and np.isfinite(c).all()
    assert rec_err(c, rc) <= FP32_TOL and rec_err(h, rh) <= FP32_TOL
    g = gru_args(rng, 3, 4, 5)
    g[1][0, 0] = np.nan
    out = lc.gru_cell(*g, device=dev)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref_gru_cell(*g)))
    assert np.isnan(out[0]).all() and not np.isnan(out[1:]).any()


# ---- zero-size dimensions ------------------------------------------------------------------
@pytest.mark.parametrize("B,I,H", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)])
def test_zero_size_dims(dev, rng, B, I, H):
    args = lstm_args(rng, B, I, H)
    for got, ref in zip(lc.lstm_cell(*args, device=dev), ref_lstm_cell(*args)):
        assert got.shape == (B, H) and rec_err(got, ref) <= FP32_TOL
    g = gru_args(rng, B, I, H)
    out = lc.gru_cell(*g, device=dev)
    assert out.shape == (B, H) and rec_err(out, ref_gru_cell(*g)) <= FP32_TOL
    for T in (0, 2):
        s = seq_args(rng, T, B, I, H)
        for got, ref in zip(lc.lstm(*s, device=dev), ref_lstm(*s)):
            assert got.shape == ref.shape and rec_err(got, ref) <= FP32_TOL


def test_zero_steps_returns_the_initial_state(dev, rng):
    x, h0, c0, *w = seq_args(rng, 0, 3, 4, 5)
    out, h, c = lc.lstm(x, h0, c0, *w, device=dev)
    assert out.shape == (0, 3, 5)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(c, c0)
    assert not np.shares_memory(h, h0) and not np.shares_memory(c, c0)


# ---- bad inputs ----------------------------------------------------------------------------
BAD_VALUES = [
    ("int32", lambda a: a.astype(np.int32), TypeError),
    ("float16", lambda a: a.astype(np.float16), TypeError),
    ("bool", lambda a: a > 0, TypeError),
    ("object", lambda a: a.astype(object), TypeError),
    ("float64", lambda a: a.astype(np.float64), TypeError),
    ("list", lambda a: a.tolist(), TypeError),
]

LSTM_NAMES = ["x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"]
GRU_NAMES = ["x", "h", "w_ih", "w_hh", "b_ih", "b_hh"]
SEQ_NAMES = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]

OPS = [
    ("lstm_cell", lambda rng: lstm_args(rng, 3, 4, 5), LSTM_NAMES),
    ("gru_cell", lambda rng: gru_args(rng, 3, 4, 5), GRU_NAMES),
    ("lstm", lambda rng: seq_args(rng, 2, 3, 4, 5), SEQ_NAMES),
]


@pytest.mark.parametrize("op,make,names", OPS, ids=[o[0] for o in OPS])
@pytest.mark.parametrize("kind,convert,exc", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_dtypes(dev, rng, op, make, names, kind, convert, exc):
    for i, name in enumerate(names):
        args = make(rng)
        args[i] = convert(args[i])
        with pytest.raises(exc, match=rf"^\[{op}\] expected {name} to be"):
            getattr(lc, op)(*args, device=dev)


@pytest.mark.parametrize("op,make,names", OPS, ids=[o[0] for o in OPS])
def test_none_for_a_required_input(dev, rng, op, make, names):
    for i, name in enumerate(names):
        if name.startswith("b_"):
            continue
        args = make(rng)
        args[i] = None
        with pytest.raises(TypeError, match=rf"^\[{op}\] expected {name} to be .*got None"):
            getattr(lc, op)(*args, device=dev)


@pytest.mark.parametrize("op,make,names", OPS, ids=[o[0] for o in OPS])
def test_wrong_rank(dev, rng, op, make, names):
    for i, name in enumerate(names):
        args = make(rng)
        args[i] = args[i][..., None]
        with pytest.raises(ValueError, match=rf"^\[{op}\] expected {name} with \d dimensions"):
            getattr(lc, op)(*args, device=dev)


def _grow(a, axis):
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, 1)
    return np.pad(a, pad)


# (argument index, axis grown by one, message fragment) per op.
MISMATCH = {
    "lstm_cell": [(1, 0, r"h of shape \(B, H\) with B = 3 like x"), (2, 0, r"c of shape \(3, 5\) like h"),
                  (2, 1, r"c of shape \(3, 5\) like h"), (3, 0, r"w_ih of shape \(4H, I\) = \(20, 4\)"),
                  (3, 1, r"w_ih of shape \(4H, I\) = \(20, 4\)"), (4, 0, r"w_hh of shape \(4H, H\) = \(20, 5\)"),
                  (4, 1, r"w_hh of shape \(4H, H\) = \(20, 5\)"), (5, 0, r"b_ih of shape \(4H,\) = \(20,\)"),
                  (6, 0, r"b_hh of shape \(4H,\) = \(20,\)"),
                  (1, 1, r"c of shape \(3, 6\) like h")],  # a wider h changes H
    "gru_cell": [(1, 0, r"h of shape \(B, H\) with B = 3 like x"), (2, 0, r"w_ih of shape \(3H, I\) = \(15, 4\)"),
                 (2, 1, r"w_ih of shape \(3H, I\)"), (3, 0, r"w_hh of shape \(3H, H\) = \(15, 5\)"),
                 (3, 1, r"w_hh of shape \(3H, H\)"), (4, 0, r"b_ih of shape \(3H,\) = \(15,\)"),
                 (5, 0, r"b_hh of shape \(3H,\)")],
    "lstm": [(0, 1, r"h0 of shape \(B, H\) with B = 4 like x"), (0, 2, r"w_ih of shape \(4H, I\) = \(20, 5\)"),
             (1, 0, r"h0 of shape \(B, H\) with B = 3 like x"), (2, 1, r"c0 of shape \(3, 5\) like h0"),
             (3, 1, r"w_ih of shape"), (4, 0, r"w_hh of shape"), (5, 0, r"b_ih of shape"),
             (6, 0, r"b_hh of shape")],
}


@pytest.mark.parametrize("op,make,names", OPS, ids=[o[0] for o in OPS])
def test_mismatched_dims(dev, rng, op, make, names):
    for i, axis, fragment in MISMATCH[op]:
        args = make(rng)
        args[i] = _grow(args[i], axis)
        with pytest.raises(ValueError, match=rf"^\[{op}\] expected {fragment}"):
            getattr(lc, op)(*args, device=dev)


def test_lstm_time_axis_can_be_anything(dev, rng):
    # Growing T is not an error: it is just a longer sequence.
    args = seq_args(rng, 2, 3, 4, 5)
    args[0] = _grow(args[0], 0)
    out, _, _ = lc.lstm(*args, device=dev)
    assert out.shape == (3, 3, 5)


def test_unavailable_device(rng):
    with pytest.raises(lc.DeviceUnavailableError):
        lc.lstm_cell(*lstm_args(rng, 2, 2, 2), device="metal")
    with pytest.raises(ValueError, match=r"\[device\]"):
        lc.gru_cell(*gru_args(rng, 2, 2, 2), device="tpu")
