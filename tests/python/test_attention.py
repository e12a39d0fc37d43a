"""Attention family: attention2d, attention (causal, scale, GQA) and attention_backward, float32
and float64, against float64 NumPy references (plain softmax(q k^T * scale) v with the mask)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err

FP64_TOL = 1e-12


def f64(x):
    return np.asarray(x, dtype=np.float64)


def visible(sq, sk, causal):
    """(Sq, Sk) bool: query i sees key j <= i + (Sk - Sq) when causal (bottom-right aligned)."""
    i = np.arange(sq)[:, None]
    j = np.arange(sk)[None, :]
    return (j <= i + (sk - sq)) if causal else np.ones((sq, sk), dtype=bool)


def probs_ref(q, k, causal, scale):
    """Softmax probabilities (B, H, Sq, Sk) in float64; rows that see no key are zero."""
    q, k = f64(q), f64(k)
    k = np.repeat(k, q.shape[1] // k.shape[1], axis=1)
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.where(visible(q.shape[2], k.shape[2], causal), q @ k.swapaxes(-1, -2) * scale, -np.inf)
    m = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    p = np.exp(s - np.where(np.isneginf(m), 0.0, m))
    total = p.sum(axis=-1, keepdims=True)
    return p / np.where(total == 0, 1.0, total), scale


def attention_ref(q, k, v, causal=False, scale=None):
    p, _ = probs_ref(q, k, causal, scale)
    return p @ np.repeat(f64(v), q.shape[1] // v.shape[1], axis=1)


def attention2d_ref(q, k, v, causal=False):
    return attention_ref(q[None, None], k[None, None], v[None, None], causal)[0, 0]


def attention_loop_ref(q, k, v, causal=False, scale=None):
    """Row by row over the visible keys only: the spec's answer with inf/NaN inputs."""
    q, k, v = f64(q), f64(k), f64(v)
    B, H, Sq, D = q.shape
    Sk, g = k.shape[2], H // k.shape[1]
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    mask = visible(Sq, Sk, causal)
    out = np.zeros((B, H, Sq, v.shape[3]))
    with np.errstate(invalid="ignore", over="ignore"):
        for b in range(B):
            for h in range(H):
                for i in range(Sq):
                    keys = mask[i]
                    if not keys.any():
                        continue
                    s = k[b, h // g][keys] @ q[b, h, i] * scale
                    p = np.exp(s - s.max())
                    out[b, h, i] = (p / p.sum()) @ v[b, h // g][keys]
    return out


def assert_matches_with_nonfinite(out, ref):
    """Same NaN and +-inf positions; the finite entries within the fp32 tolerance."""
    out = f64(out)
    for pred in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(pred(out), pred(ref))
    finite = np.isfinite(ref)
    assert rel_err(out[finite], ref[finite]) <= FP32_TOL


def backward_ref(q, k, v, dout, causal=False, scale=None):
    """Analytic gradients of sum(attention * dout) in float64; GQA sums dk/dv over the group."""
    p, scale = probs_ref(q, k, causal, scale)
    B, H = q.shape[:2]
    hkv = k.shape[1]
    g = H // hkv
    kk = np.repeat(f64(k), g, axis=1)
    vv = np.repeat(f64(v), g, axis=1)
    do = f64(dout)
    o = p @ vv
    dv = p.swapaxes(-1, -2) @ do
    ds = p * (do @ vv.swapaxes(-1, -2) - (do * o).sum(axis=-1, keepdims=True))
    dq = ds @ kk * scale
    dk = ds.swapaxes(-1, -2) @ f64(q) * scale

    def group_sum(x):
        return x.reshape(B, hkv, g, *x.shape[2:]).sum(axis=2)

    return dq, group_sum(dk), group_sum(dv)


def qkv(rng, b, h, hkv, sq, sk, d, dv, dtype=np.float32):
    return (rand(rng, b, h, sq, d, dtype=dtype), rand(rng, b, hkv, sk, d, dtype=dtype),
            rand(rng, b, hkv, sk, dv, dtype=dtype))


def tol(dtype):
    return FP32_TOL if dtype == np.float32 else FP64_TOL


# ---- the seed's section 21 and the flat positional API ---------------------------------------
def test_seed_section_21_example_on_cpu():
    q = np.random.rand(8, 16).astype(np.float32)
    k = np.random.rand(8, 16).astype(np.float32)
    v = np.random.rand(8, 16).astype(np.float32)
    out = lc.attention2d(q, k, v, False, "cpu")
    assert out.shape == (8, 16) and out.dtype == np.float32
    assert rel_err(out, attention2d_ref(q, k, v)) <= FP32_TOL
    out_into = np.empty_like(q)
    out_into[...] = np.nan
    assert lc.attention2d_into(q, k, v, out_into, False, "cpu") is None
    assert rel_err(out_into, attention2d_ref(q, k, v)) <= FP32_TOL
    np.testing.assert_array_equal(out_into, out)


def test_keyword_and_positional_forms(rng):
    q, k, v = rand(rng, 5, 8), rand(rng, 7, 8), rand(rng, 7, 3)
    ref = attention2d_ref(q, k, v, causal=True)
    assert rel_err(lc.attention2d(q, k, v, True, "cpu"), ref) <= FP32_TOL
    assert rel_err(lc.attention2d(q=q, k=k, v=v, causal=True, device="cpu"), ref) <= FP32_TOL
    assert rel_err(lc.attention2d(q, k, v, causal=True, policy=lc.Policy(device="cpu")), ref) <= FP32_TOL
    q4, k4, v4 = qkv(rng, 1, 2, 1, 5, 7, 8, 3)
    ref4 = attention_ref(q4, k4, v4, True, 0.5)
    assert rel_err(lc.attention(q4, k4, v4, True, 0.5, "cpu"), ref4) <= FP32_TOL
    assert rel_err(lc.attention(q4, k4, v4, causal=True, scale=0.5, device="cpu"), ref4) <= FP32_TOL
    out = poisoned((1, 2, 5, 3))
    lc.attention_into(q4, k4, v4, out, True, 0.5, "cpu")
    assert rel_err(out, ref4) <= FP32_TOL


# ---- forward against the reference -----------------------------------------------------------
SHAPES_2D = [(1, 1, 1, 1), (3, 7, 5, 9), (8, 8, 16, 16), (7, 17, 33, 1), (17, 3, 7, 33),
             (16, 64, 64, 64), (17, 65, 65, 17), (33, 127, 16, 8), (65, 33, 17, 127),
             (127, 130, 64, 33), (130, 127, 3, 65), (1, 130, 129, 7)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq,sk,d,dv", SHAPES_2D)
def test_attention2d(rng, sq, sk, d, dv, causal, dtype):
    q, k, v = rand(rng, sq, d, dtype=dtype), rand(rng, sk, d, dtype=dtype), rand(rng, sk, dv, dtype=dtype)
    out = lc.attention2d(q, k, v, causal, "cpu")
    assert out.shape == (sq, dv) and out.dtype == dtype
    assert rel_err(out, attention2d_ref(q, k, v, causal)) <= tol(dtype)
    into = poisoned((sq, dv), dtype)
    lc.attention2d_into(q, k, v, into, causal, "cpu")
    np.testing.assert_array_equal(into, out)


@pytest.mark.parametrize("sq,sk", [(5, 12), (12, 5), (1, 70), (70, 1), (40, 200), (200, 40)])
def test_causal_is_bottom_right_aligned(rng, sq, sk):
    q, k, v = rand(rng, sq, 16), rand(rng, sk, 16), rand(rng, sk, 8)
    out = lc.attention2d(q, k, v, True, "cpu")
    assert rel_err(out, attention2d_ref(q, k, v, True)) <= FP32_TOL
    # The last query sees every key, as in the non-causal case.
    full = lc.attention2d(q, k, v, False, "cpu")
    assert rel_err(out[-1], full[-1]) <= FP32_TOL
    if sq > sk:  # queries i < Sq - Sk see no key and are exactly zero
        assert not out[: sq - sk].any()
        assert np.all(np.abs(out[sq - sk:]).sum(axis=1) > 0)
    else:  # query 0 sees Sk - Sq + 1 keys
        n0 = sk - sq + 1
        assert rel_err(out[0], attention2d_ref(q[:1], k[:n0], v[:n0])[0]) <= FP32_TOL


def test_causal_equal_lengths_matches_lower_triangle(rng):
    q, k, v = rand(rng, 9, 4), rand(rng, 9, 4), rand(rng, 9, 4)
    out = lc.attention2d(q, k, v, True, "cpu")
    # Query 0 sees key 0 only: its output is v[0].
    assert rel_err(out[0], v[0]) <= FP32_TOL
    assert rel_err(out, attention2d_ref(q, k, v, True)) <= FP32_TOL


@pytest.mark.parametrize("b,h,hkv", [(1, 1, 1), (2, 3, 3), (2, 6, 2), (1, 8, 1), (3, 4, 2)])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_gqa(rng, b, h, hkv, causal):
    q, k, v = qkv(rng, b, h, hkv, 19, 23, 17, 9)
    out = lc.attention(q, k, v, causal, None, "cpu")
    assert out.shape == (b, h, 19, 9)
    assert rel_err(out, attention_ref(q, k, v, causal)) <= FP32_TOL
    # Head h reads kv head h // (H // Hkv).
    g = h // hkv
    for head in range(h):
        ref_head = attention_ref(q[:, head:head + 1], k[:, head // g:head // g + 1],
                                 v[:, head // g:head // g + 1], causal)
        assert rel_err(out[:, head:head + 1], ref_head) <= FP32_TOL


@pytest.mark.parametrize("scale", [1e-3, 0.3, 1.0, 2.5, 40.0])
@pytest.mark.parametrize("causal", [False, True])
def test_custom_scale(rng, scale, causal):
    q, k, v = qkv(rng, 2, 2, 1, 33, 65, 16, 16)
    out = lc.attention(q, k, v, causal, scale, "cpu")
    assert rel_err(out, attention_ref(q, k, v, causal, scale)) <= FP32_TOL
    default = lc.attention(q, k, v, causal, None, "cpu")
    explicit = lc.attention(q, k, v, causal, 1.0 / np.sqrt(16), "cpu")
    np.testing.assert_array_equal(default, explicit)


def test_large_scores_stay_stable(rng):
    # Scores near +-300 overflow a naive exp; the running max keeps them finite.
    q, k, v = qkv(rng, 1, 2, 2, 50, 300, 32, 8)
    out = lc.attention(q * 30, k * 30, v, False, None, "cpu")
    assert np.isfinite(out).all()
    # Logits this large are ill-conditioned in float32: rounding a score s moves its weight by
    # |s| * 2^-24 relative, so the bound scales with the largest score (1e-5 failed 1 run in ~50).
    scores = np.abs(np.einsum("bhqd,bhkd->bhqk", (q * 30).astype(np.float64), (k * 30).astype(np.float64)))
    tol = max(FP32_TOL, 4 * 2.0**-24 * scores.max() / np.sqrt(32))
    assert rel_err(out, attention_ref(q * 30, k * 30, v)) <= tol


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq,sk,d", [(1000, 1000, 64), (1, 1000, 64), (1000, 7, 32), (300, 1030, 128)])
def test_long_sequences_blocked_path(rng, sq, sk, d, causal):
    q, k, v = rand(rng, sq, d), rand(rng, sk, d), rand(rng, sk, d)
    out = lc.attention2d(q, k, v, causal, "cpu")
    assert rel_err(out, attention2d_ref(q, k, v, causal)) <= FP32_TOL


def test_threads_many_heads(rng):
    q, k, v = qkv(rng, 2, 8, 4, 257, 250, 64, 48)
    for causal in (False, True):
        out = lc.attention(q, k, v, causal, None, "cpu")
        assert rel_err(out, attention_ref(q, k, v, causal)) <= FP32_TOL
        np.testing.assert_array_equal(out, lc.attention(q, k, v, causal, None, "cpu"))


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 2), hkv=st.integers(1, 3), group=st.integers(1, 3), sq=st.integers(1, 80),
       sk=st.integers(1, 80), d=st.integers(1, 40), dv=st.integers(1, 40), causal=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_attention_hypothesis(b, hkv, group, sq, sk, d, dv, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = qkv(rng, b, hkv * group, hkv, sq, sk, d, dv)
    assert rel_err(lc.attention(q, k, v, causal, None, "cpu"), attention_ref(q, k, v, causal)) <= FP32_TOL


def test_strided_and_negative_stride_inputs(rng):
    base = rand(rng, 2, 40, 4, 32)  # (B, S, H, D), the layout a projection produces
    q = base.transpose(0, 2, 1, 3)  # (B, H, S, D) without a copy
    k = rand(rng, 2, 2, 60, 64)[:, :, ::-1, ::2]
    v = rand(rng, 2, 2, 60, 8)[..., ::-1]
    out = lc.attention(q, k, v, True, None, "cpu")
    assert rel_err(out, attention_ref(q, k, v, True)) <= FP32_TOL
    q2, k2, v2 = rand(rng, 9, 10)[:, ::2], rand(rng, 12, 5)[::-1], rand(rng, 24, 3)[::2]
    assert rel_err(lc.attention2d(q2, k2, v2, False, "cpu"), attention2d_ref(q2, k2, v2)) <= FP32_TOL
    tv = lc.TensorView(q2)
    assert rel_err(lc.attention2d(tv, k2, v2, False, "cpu"), attention2d_ref(q2, k2, v2)) <= FP32_TOL


def test_into_aliasing_input_is_copied_first(rng):
    q, k, v = rand(rng, 6, 4), rand(rng, 6, 4), rand(rng, 6, 4)
    ref = attention2d_ref(q, k, v, True)
    lc.attention2d_into(q, k, v, q, True, "cpu")  # out is q itself
    assert rel_err(q, ref) <= FP32_TOL


# ---- zero-size and rows that see no key ------------------------------------------------------
def test_rows_with_no_visible_key_are_zero(rng):
    q, k, v = qkv(rng, 1, 2, 1, 40, 3, 8, 5)  # causal: queries 0..36 see nothing
    out = lc.attention(q, k, v, True, None, "cpu")
    assert not out[:, :, :37].any()
    assert rel_err(out, attention_ref(q, k, v, True)) <= FP32_TOL
    dq, dk, dv = lc.attention_backward(q, k, v, rand(rng, 1, 2, 40, 5), True)
    assert not dq[:, :, :37].any()


@pytest.mark.parametrize("causal", [False, True])
def test_zero_size(rng, causal):
    # Sq = 0: an empty result; Sk = 0: zeros; Dv = 0: (Sq, 0).
    assert lc.attention2d(rand(rng, 0, 4), rand(rng, 3, 4), rand(rng, 3, 2), causal, "cpu").shape == (0, 2)
    out = lc.attention2d(rand(rng, 5, 4), rand(rng, 0, 4), rand(rng, 0, 2), causal, "cpu")
    assert out.shape == (5, 2) and not out.any()
    into = poisoned((5, 2))
    lc.attention2d_into(rand(rng, 5, 4), rand(rng, 0, 4), rand(rng, 0, 2), into, causal, "cpu")
    assert not into.any()
    assert lc.attention2d(rand(rng, 5, 4), rand(rng, 3, 4), rand(rng, 3, 0), causal, "cpu").shape == (5, 0)
    assert lc.attention(*qkv(rng, 0, 2, 1, 3, 3, 4, 4), causal).shape == (0, 2, 3, 4)
    assert lc.attention(*qkv(rng, 2, 0, 1, 3, 3, 4, 4), causal).shape == (2, 0, 3, 4)
    out = lc.attention(*qkv(rng, 2, 4, 2, 3, 0, 4, 6), causal)
    assert out.shape == (2, 4, 3, 6) and not out.any()


def test_zero_size_backward(rng):
    q, k, v = qkv(rng, 1, 2, 1, 0, 5, 4, 3)
    dq, dk, dv = lc.attention_backward(q, k, v, rand(rng, 1, 2, 0, 3))
    assert dq.shape == (1, 2, 0, 4) and dk.shape == (1, 1, 5, 4) and dv.shape == (1, 1, 5, 3)
    assert not dk.any() and not dv.any()
    q, k, v = qkv(rng, 1, 2, 1, 4, 0, 4, 3)
    dq, dk, dv = lc.attention_backward(q, k, v, rand(rng, 1, 2, 4, 3), True)
    assert dq.shape == (1, 2, 4, 4) and not dq.any()
    assert dk.shape == (1, 1, 0, 4) and dv.shape == (1, 1, 0, 3)


def test_zero_head_dim_is_value_error(rng):
    with pytest.raises(ValueError, match=r"^\[attention2d\] expected a head dim D >= 1"):
        lc.attention2d(rand(rng, 3, 0), rand(rng, 3, 0), rand(rng, 3, 2), False, "cpu")
    with pytest.raises(ValueError, match=r"^\[attention\] expected a head dim D >= 1"):
        lc.attention(*qkv(rng, 1, 1, 1, 3, 3, 0, 2))


# ---- NaN / inf -------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq,sk", [(8, 8), (40, 100), (100, 40)])
def test_nan_inf_propagate(rng, which, bad, causal, sq, sk):
    q, k, v = qkv(rng, 1, 1, 1, sq, sk, 16, 8)
    x = {"q": q, "k": k, "v": v}[which]
    x[0, 0, x.shape[2] // 2, 3] = bad
    out = lc.attention(q, k, v, causal, None, "cpu")
    ref = attention_loop_ref(q, k, v, causal)
    assert_matches_with_nonfinite(out, ref)
    if which == "v" and np.isnan(bad) and causal:
        # A NaN value reaches exactly the queries that see its key.
        j = sk // 2
        sees = visible(sq, sk, True)[:, j]
        assert np.isnan(out[0, 0, sees]).any(axis=1).all()
        assert not np.isnan(out[0, 0, ~sees]).any()


def test_nan_in_a_masked_key_does_not_reach_earlier_queries(rng):
    q, k, v = qkv(rng, 1, 1, 1, 70, 70, 8, 8)
    k[0, 0, 69] = np.nan
    v[0, 0, 68] = np.inf
    out = lc.attention(q, k, v, True, None, "cpu")
    assert np.isfinite(out[0, 0, :68]).all()
    assert np.isposinf(out[0, 0, 68]).all()  # sees the inf value with a positive weight
    assert np.isnan(out[0, 0, 69]).all()  # sees the NaN key
    dq, dk, dv = lc.attention_backward(q, k, v, rand(rng, 1, 1, 70, 8), True)
    assert np.isfinite(dq[0, 0, :68]).all()


# ---- backward --------------------------------------------------------------------------------
BACKWARD_SHAPES = [(1, 1, 1, 1, 1, 1, 1), (1, 1, 1, 8, 8, 16, 16), (2, 3, 3, 7, 17, 5, 9),
                   (1, 4, 2, 33, 65, 17, 33), (2, 6, 3, 65, 33, 16, 7), (1, 2, 1, 130, 127, 64, 64),
                   (1, 1, 1, 5, 40, 3, 2), (1, 1, 1, 40, 5, 3, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("b,h,hkv,sq,sk,d,dv", BACKWARD_SHAPES)
def test_backward_against_analytic_reference(rng, b, h, hkv, sq, sk, d, dv, causal, dtype):
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d, dv, dtype)
    dout = rand(rng, b, h, sq, dv, dtype=dtype)
    grads = lc.attention_backward(q, k, v, dout, causal, None, "cpu")
    assert isinstance(grads, tuple) and len(grads) == 3
    for got, ref, x in zip(grads, backward_ref(q, k, v, dout, causal), (q, k, v)):
        assert got.shape == x.shape and got.dtype == dtype
        assert rel_err(got, ref) <= tol(dtype)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_long_and_scaled(rng, causal):
    q, k, v = qkv(rng, 1, 4, 2, 300, 333, 64, 32)
    dout = rand(rng, 1, 4, 300, 32)
    got = lc.attention_backward(q, k, v, dout, causal, 0.37, "cpu")
    for g, r in zip(got, backward_ref(q, k, v, dout, causal, 0.37)):
        assert rel_err(g, r) <= FP32_TOL


@pytest.mark.parametrize("causal", [False, True])
def test_backward_finite_differences_float64(rng, causal):
    # d/dx sum(attention(q, k, v) * dout) by central differences through lc's own float64 path.
    q, k, v = qkv(rng, 1, 2, 1, 4, 5, 3, 2, np.float64)
    dout = rand(rng, 1, 2, 4, 2, dtype=np.float64)
    grads = lc.attention_backward(q, k, v, dout, causal, 0.8)
    h = 1e-6
    for x, g in zip((q, k, v), grads):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            keep = x[idx]
            x[idx] = keep + h
            plus = np.sum(lc.attention(q, k, v, causal, 0.8) * dout)
            x[idx] = keep - h
            minus = np.sum(lc.attention(q, k, v, causal, 0.8) * dout)
            x[idx] = keep
            fd[idx] = (plus - minus) / (2 * h)
        assert rel_err(g, fd) <= 1e-7
    # The NumPy reference's formula agrees with the same differences.
    for g, r in zip(grads, backward_ref(q, k, v, dout, causal, 0.8)):
        assert rel_err(g, r) <= FP64_TOL


def test_backward_gqa_sums_the_sharing_heads(rng):
    q, k, v = qkv(rng, 1, 4, 1, 6, 7, 5, 3)
    dout = rand(rng, 1, 4, 6, 3)
    _, dk, dv = lc.attention_backward(q, k, v, dout)
    parts = [lc.attention_backward(q[:, h:h + 1], k, v, dout[:, h:h + 1]) for h in range(4)]
    assert rel_err(dk, sum(f64(p[1]) for p in parts)) <= FP32_TOL
    assert rel_err(dv, sum(f64(p[2]) for p in parts)) <= FP32_TOL


def test_backward_nan_propagates(rng):
    q, k, v = qkv(rng, 1, 1, 1, 6, 6, 4, 4)
    dout = rand(rng, 1, 1, 6, 4)
    dout[0, 0, 2, 1] = np.nan
    dq, dk, dv = lc.attention_backward(q, k, v, dout, True)
    assert np.isnan(dq[0, 0, 2]).all() and not np.isnan(dq[0, 0, [0, 1, 3, 4, 5]]).any()
    assert np.isnan(dv[0, 0, :3, 1]).all() and not np.isnan(dv[0, 0, 3:]).any()


# ---- bad inputs ------------------------------------------------------------------------------
BAD_ARRAYS = [(lambda a: a.astype(np.int32), TypeError, "int32"),
              (lambda a: a.astype(np.float16), TypeError, "float16"),
              (lambda a: a.astype(bool), TypeError, "bool"),
              (lambda a: a.astype(object), TypeError, "object"),
              (lambda a: None, TypeError, "None"),
              (lambda a: "q", TypeError, "str")]


@pytest.mark.parametrize("make,exc,what", BAD_ARRAYS)
@pytest.mark.parametrize("pos", [0, 1, 2])
def test_bad_input_types(rng, make, exc, what, pos):
    args = [rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 5, 3)]
    args[pos] = make(args[pos])
    name = "qkv"[pos]
    with pytest.raises(exc, match=rf"^\[attention2d\] expected {name} .*{what}"):
        lc.attention2d(*args, False, "cpu")
    out = poisoned((4, 3))
    with pytest.raises(exc, match=rf"^\[attention2d_into\] expected {name} .*{what}"):
        lc.attention2d_into(*args, out, False, "cpu")
    assert np.isnan(out).all()
    args4 = [a[None, None] if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(exc, match=rf"^\[attention\] expected {name} .*{what}"):
        lc.attention(*args4)
    with pytest.raises(exc, match=rf"^\[attention_backward\] expected {name} .*{what}"):
        lc.attention_backward(*args4, rand(rng, 1, 1, 4, 3))


def test_mixed_float_dtypes_are_type_errors(rng):
    q, k, v = rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 5, 3)
    with pytest.raises(TypeError, match=r"^\[attention2d\] expected k to be float32"):
        lc.attention2d(q, k.astype(np.float64), v, False, "cpu")
    out = poisoned((4, 3), np.float64)
    with pytest.raises(TypeError, match=r"^\[attention2d_into\] expected out to be float32"):
        lc.attention2d_into(q, k, v, out, False, "cpu")
    assert np.isnan(out).all()
    with pytest.raises(TypeError, match=r"^\[attention_backward\] expected dout to be float32"):
        lc.attention_backward(q[None, None], k[None, None], v[None, None], rand(rng, 1, 1, 4, 3, dtype=np.float64))


def shape_errors_2d(rng):
    return [
        ((rand(rng, 4, 8, 1), rand(rng, 5, 8), rand(rng, 5, 3)), "expected q with 2 dimensions"),
        ((rand(rng, 4, 8), rand(rng, 5), rand(rng, 5, 3)), "expected k with 2 dimensions"),
        ((rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 1, 5, 3)), "expected v with 2 dimensions"),
        ((rand(rng, 4, 8), rand(rng, 5, 7), rand(rng, 5, 3)), "expected q and k with the same head dim D"),
        ((rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 6, 3)), "expected k and v with the same number of keys"),
        ((rand(rng, 4, 0), rand(rng, 5, 0), rand(rng, 5, 3)), "expected a head dim D >= 1"),
    ]


def test_bad_shapes_2d(rng):
    for args, msg in shape_errors_2d(rng):
        with pytest.raises(ValueError, match=rf"^\[attention2d\] {msg}"):
            lc.attention2d(*args, False, "cpu")
        out = poisoned((4, 3))
        with pytest.raises(ValueError, match=rf"^\[attention2d_into\] {msg}"):
            lc.attention2d_into(*args, out, False, "cpu")
        assert np.isnan(out).all()


def shape_errors_4d(rng):
    r = lambda *s: rand(rng, *s)  # noqa: E731
    return [
        ((r(4, 8), r(1, 1, 5, 8), r(1, 1, 5, 3)), "expected q with 4 dimensions"),
        ((r(1, 2, 4, 8), r(1, 1, 5, 7), r(1, 1, 5, 3)), "expected q and k with the same head dim D"),
        ((r(1, 2, 4, 8), r(1, 1, 5, 8), r(1, 1, 6, 3)), "expected k and v with the same number of keys"),
        ((r(2, 2, 4, 8), r(1, 1, 5, 8), r(1, 1, 5, 3)), "expected q, k and v with the same batch B"),
        ((r(1, 2, 4, 8), r(1, 1, 5, 8), r(2, 1, 5, 3)), "expected q, k and v with the same batch B"),
        ((r(1, 4, 4, 8), r(1, 2, 5, 8), r(1, 1, 5, 3)), "expected k and v with the same number of heads"),
        ((r(1, 6, 4, 8), r(1, 4, 5, 8), r(1, 4, 5, 3)), r"expected q's heads to be a multiple of k's heads \(GQA\), got H = 6 and Hkv = 4"),
        ((r(1, 2, 4, 8), r(1, 0, 5, 8), r(1, 0, 5, 3)), "expected k and v with at least one head"),
        ((r(1, 2, 4, 0), r(1, 1, 5, 0), r(1, 1, 5, 3)), "expected a head dim D >= 1"),
    ]


def test_bad_shapes_4d(rng):
    dout = rand(rng, 1, 2, 4, 3)
    for args, msg in shape_errors_4d(rng):
        with pytest.raises(ValueError, match=rf"^\[attention\] {msg}"):
            lc.attention(*args)
        out = poisoned((1, 2, 4, 3))
        with pytest.raises(ValueError, match=rf"^\[attention_into\] {msg}"):
            lc.attention_into(*args, out)
        assert np.isnan(out).all()
        with pytest.raises(ValueError, match=rf"^\[attention_backward\] {msg}"):
            lc.attention_backward(*args, dout)


@pytest.mark.parametrize("scale", [0.0, -1.0, np.nan, np.inf, -np.inf])
def test_bad_scale(rng, scale):
    q, k, v = qkv(rng, 1, 1, 1, 3, 3, 4, 4)
    with pytest.raises(ValueError, match=r"^\[attention\] expected scale finite and > 0"):
        lc.attention(q, k, v, False, scale)
    out = poisoned((1, 1, 3, 4))
    with pytest.raises(ValueError, match=r"^\[attention_into\] expected scale finite and > 0"):
        lc.attention_into(q, k, v, out, False, scale)
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match=r"^\[attention_backward\] expected scale finite and > 0"):
        lc.attention_backward(q, k, v, rand(rng, 1, 1, 3, 4), False, scale)


def test_bad_outputs(rng):
    q, k, v = rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 5, 3)
    cases = [
        (poisoned((4, 4)), ValueError, r"expected out of shape \(4, 3\), got \(4, 4\)"),
        (poisoned((3, 4)).T, ValueError, "expected out to be C-contiguous"),
        (poisoned((4, 3, 1)), ValueError, r"expected out of shape \(4, 3\)"),
        (poisoned((4, 3), np.float64), TypeError, "expected out to be float32"),
        (np.zeros((4, 3), np.int32), TypeError, "expected out to be a writeable float32 array"),
        (None, TypeError, "expected out to be a writeable float32 array, got None"),
    ]
    for out, exc, msg in cases:
        with pytest.raises(exc, match=rf"^\[attention2d_into\] {msg}"):
            lc.attention2d_into(q, k, v, out, False, "cpu")
        if isinstance(out, np.ndarray) and out.dtype.kind == "f":
            assert np.isnan(out).all()
    ro = poisoned((4, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^\[attention2d_into\] expected out to be writeable"):
        lc.attention2d_into(q, k, v, ro, False, "cpu")
    assert np.isnan(ro).all()
    q4, k4, v4 = q[None, None], k[None, None], v[None, None]
    out = poisoned((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"^\[attention_into\] expected out of shape \(1, 1, 4, 3\)"):
        lc.attention_into(q4, k4, v4, out)
    assert np.isnan(out).all()


def test_bad_dout(rng):
    q, k, v = qkv(rng, 1, 2, 1, 4, 5, 8, 3)
    for dout in (rand(rng, 1, 2, 4, 8), rand(rng, 1, 1, 4, 3), rand(rng, 2, 4, 3)):
        with pytest.raises(ValueError, match=r"^\[attention_backward\] expected dout"):
            lc.attention_backward(q, k, v, dout)
    with pytest.raises(TypeError, match=r"^\[attention_backward\] expected dout .*None"):
        lc.attention_backward(q, k, v, None)


def test_bad_flags_and_devices(rng):
    q, k, v = rand(rng, 4, 8), rand(rng, 5, 8), rand(rng, 5, 3)
    with pytest.raises(TypeError):
        lc.attention2d(q, k, v, "yes", "cpu")
    with pytest.raises(TypeError):
        lc.attention(q[None, None], k[None, None], v[None, None], False, "big")
    with pytest.raises(ValueError, match=r"\[device\] expected"):
        lc.attention2d(q, k, v, False, "tpu")
    with pytest.raises(lc.DeviceUnavailableError):
        lc.attention2d(q, k, v, False, "metal")


def test_every_op_is_bound_with_docs():
    for name in ("attention2d", "attention2d_into", "attention", "attention_into", "attention_backward"):
        fn = getattr(lc, name)
        assert fn.__doc__ and name in fn.__doc__
