"""CUDA attention (forward and backward) against float64 NumPy references and the CPU backend.

Every kernel variant is reached through the shapes: short sequences take the one-warp-per-row
kernel, long fp32 ones the SIMT flash tiles (split over keys when the grid is small), bf16/fp16
the tensor-core kernel. Tolerances (relative Frobenius): fp32 1e-5, bf16 2e-2, fp16 5e-3.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lightning_core as lc
from conftest import poisoned, rand, rel_err, requires_gpu

pytestmark = requires_gpu

TOL = {"fp32": 1e-5, "bf16": 2e-2, "fp16": 5e-3}
# Gradients go through one more rounding of dO and a difference of products.
GRAD_TOL = {"fp32": 1e-5, "bf16": 3e-2, "fp16": 1e-2}


def cuda(precision="fp32"):
    return lc.Policy(device="cuda", precision=precision)


def cpu(precision="fp32"):
    return lc.Policy(device="cpu", precision=precision)


def visible(sq, sk, causal):
    """(Sq, Sk) bool: query i sees key j (bottom-right aligned causal mask)."""
    if not causal:
        return np.ones((sq, sk), dtype=bool)
    return np.arange(sk)[None, :] <= np.arange(sq)[:, None] + (sk - sq)


def expand_kv(x, heads):
    return np.repeat(x, heads // x.shape[1], axis=1)


def attention_ref(q, k, v, causal=False, scale=None):
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    k, v = expand_kv(k, q.shape[1]), expand_kv(v, q.shape[1])
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
    vis = visible(q.shape[2], k.shape[2], causal)
    s = np.where(vis, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(vis, np.exp(s - m), 0.0)
    l = p.sum(-1, keepdims=True)
    p = np.divide(p, l, out=np.zeros_like(p), where=l > 0)
    return np.einsum("bhqk,bhkd->bhqd", p, v)


def attention_grads_ref(q, k, v, dout, causal=False, scale=None):
    q, k, v, dout = (np.asarray(a, dtype=np.float64) for a in (q, k, v, dout))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    heads, kvh = q.shape[1], k.shape[1]
    ke, ve = expand_kv(k, heads), expand_kv(v, heads)
    vis = visible(q.shape[2], k.shape[2], causal)
    s = np.where(vis, np.einsum("bhqd,bhkd->bhqk", q, ke) * scale, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(vis, np.exp(s - m), 0.0)
    l = p.sum(-1, keepdims=True)
    p = np.divide(p, l, out=np.zeros_like(p), where=l > 0)
    dp = np.einsum("bhqd,bhkd->bhqk", dout, ve)
    ds = p * (dp - np.sum(p * dp, axis=-1, keepdims=True))
    dq = np.einsum("bhqk,bhkd->bhqd", ds, ke) * scale
    dk = np.einsum("bhqk,bhqd->bhkd", ds, q) * scale
    dv = np.einsum("bhqk,bhqd->bhkd", p, dout)
    g = heads // kvh
    b = q.shape[0]
    dk = dk.reshape(b, kvh, g, *dk.shape[2:]).sum(2)
    dv = dv.reshape(b, kvh, g, *dv.shape[2:]).sum(2)
    return dq, dk, dv


def qkv(rng, b, h, hkv, sq, sk, d, dv=None):
    dv = d if dv is None else dv
    return rand(rng, b, h, sq, d), rand(rng, b, hkv, sk, d), rand(rng, b, hkv, sk, dv)


# (B, H, Hkv, Sq, Sk, D, Dv): not multiples of any tile; GQA; Sq != Sk both ways.
SHAPES = [
    (1, 1, 1, 8, 8, 16, 16),
    (1, 1, 1, 192, 192, 48, 48),
    (2, 4, 2, 65, 130, 64, 64),
    (1, 2, 1, 130, 65, 64, 64),
    (1, 2, 2, 127, 300, 128, 128),
    (1, 1, 1, 200, 333, 256, 256),
    (1, 3, 3, 77, 77, 16, 16),
    (1, 2, 1, 33, 257, 32, 40),
    (1, 1, 1, 300, 400, 17, 23),
    (2, 3, 1, 257, 513, 96, 96),
]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_attention_matches_float64_and_cpu(rng, shape, causal, precision):
    b, h, hkv, sq, sk, d, dv = shape
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d, dv)
    ref = attention_ref(q, k, v, causal)
    out = poisoned((b, h, sq, dv))
    lc.attention_into(q, k, v, out, causal=causal, policy=cuda(precision))
    assert rel_err(out, ref) <= TOL[precision]
    cpu_out = lc.attention(q, k, v, causal=causal, policy=cpu(precision))
    assert rel_err(out, cpu_out) <= TOL[precision]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("seq,dim,causal", [(1024, 64, False), (1024, 64, True), (2048, 128, True)])
def test_attention_long_sequences(rng, seq, dim, causal, precision):
    """The tiled (fp32, split over keys) and tensor-core (bf16/fp16) kernels."""
    q, k, v = qkv(rng, 1, 2, 1, seq, seq, dim)
    ref = attention_ref(q, k, v, causal)
    out = poisoned(ref.shape)
    lc.attention_into(q, k, v, out, causal=causal, policy=cuda(precision))
    assert rel_err(out, ref) <= TOL[precision]


def test_attention2d_is_the_single_head_case(rng):
    q, k, v = rand(rng, 4096 // 16, 64), rand(rng, 300, 64), rand(rng, 300, 64)
    out = lc.attention2d(q, k, v, True, policy=cuda())
    ref = attention_ref(q[None, None], k[None, None], v[None, None], True)[0, 0]
    assert rel_err(out, ref) <= TOL["fp32"]


def test_rows_that_see_no_key_are_zero(rng):
    # Sq > Sk with causal: query i sees keys j <= i - (Sq - Sk); the first Sq - Sk rows see none.
    q, k, v = qkv(rng, 1, 2, 2, 100, 30, 64)
    out = poisoned((1, 2, 100, 64))
    lc.attention_into(q, k, v, out, causal=True, policy=cuda())
    assert np.all(out[:, :, :70] == 0)
    assert rel_err(out, attention_ref(q, k, v, True)) <= TOL["fp32"]


def test_explicit_scale(rng):
    q, k, v = qkv(rng, 1, 2, 1, 70, 90, 64)
    out = lc.attention(q, k, v, scale=0.37, policy=cuda())
    assert rel_err(out, attention_ref(q, k, v, scale=0.37)) <= TOL["fp32"]


def test_nan_propagates(rng):
    q, k, v = qkv(rng, 1, 1, 1, 40, 40, 32)
    q[0, 0, 5, 3] = np.nan
    out = lc.attention(q, k, v, policy=cuda())
    assert np.all(np.isnan(out[0, 0, 5]))
    assert np.all(np.isfinite(np.delete(out[0, 0], 5, axis=0)))


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 2), hkv=st.integers(1, 2), g=st.integers(1, 3), sq=st.integers(1, 90),
       sk=st.integers(1, 90), d=st.integers(1, 80), causal=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_attention_hypothesis_shapes(b, hkv, g, sq, sk, d, causal, seed):
    rng = np.random.default_rng(seed)
    q, k, v = qkv(rng, b, hkv * g, hkv, sq, sk, d)
    out = lc.attention(q, k, v, causal=causal, policy=cuda())
    assert rel_err(out, attention_ref(q, k, v, causal)) <= TOL["fp32"]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("shape,causal", [
    ((1, 1, 1, 8, 8, 16, 16), False),
    ((1, 2, 1, 65, 130, 64, 64), True),
    ((1, 2, 2, 130, 65, 48, 48), True),
    ((2, 4, 2, 100, 77, 64, 64), False),
    ((1, 1, 1, 70, 70, 128, 128), True),
    ((1, 1, 1, 40, 50, 256, 256), False),
], ids=str)
def test_attention_backward_matches_float64_and_cpu(rng, shape, causal, precision):
    b, h, hkv, sq, sk, d, dv = shape
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d, dv)
    dout = rand(rng, b, h, sq, dv)
    dq, dk, dv_ = lc.attention_backward(q, k, v, dout, causal=causal, policy=cuda(precision))
    rq, rk, rv = attention_grads_ref(q, k, v, dout, causal)
    tol = GRAD_TOL[precision]
    assert rel_err(dq, rq) <= tol
    assert rel_err(dk, rk) <= tol
    assert rel_err(dv_, rv) <= tol
    cq, ck, cv = lc.attention_backward(q, k, v, dout, causal=causal, policy=cpu(precision))
    assert rel_err(dq, cq) <= tol and rel_err(dk, ck) <= tol and rel_err(dv_, cv) <= tol
