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

pytestmark = [pytest.mark.gpu, requires_gpu]

TOL = {"fp32": 1e-5, "bf16": 2e-2, "fp16": 5e-3}
# Gradients: the same bounds as every other op (issue 3), though they go through one more
# rounding (dO, and P and dS inside the tensor-core kernels) and a difference of products.
GRAD_TOL = TOL


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


def round16(x, precision):
    """float32 x rounded to bf16 / fp16 (nearest even), as float64."""
    if precision == "fp16":
        return x.astype(np.float16).astype(np.float64)
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return u.view(np.float32).astype(np.float64)


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


@settings(max_examples=25, deadline=None)
@given(hkv=st.integers(1, 2), g=st.integers(1, 3), sq=st.integers(1, 150), sk=st.integers(1, 150),
       d=st.integers(1, 128), dv=st.integers(1, 128), causal=st.booleans(),
       precision=st.sampled_from(["bf16", "fp16"]), seed=st.integers(0, 2**32 - 1))
def test_attention_backward_own_kernels_hypothesis_shapes(hkv, g, sq, sk, d, dv, causal, precision, seed):
    # Our tensor-core backward on any shape (LC_CUDA_ATTN=own keeps cuDNN out of it), against
    # float64 on the 16-bit-rounded inputs: what is left is the kernel's own rounding of P and dS
    # (a tiny output whose terms cancel would otherwise fail on the input rounding alone).
    rng = np.random.default_rng(seed)
    q, k, v = qkv(rng, 1, hkv * g, hkv, sq, sk, d, dv)
    dout = rand(rng, 1, hkv * g, sq, dv)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LC_CUDA_ATTN", "own")
        dq, dk, dv_ = lc.attention_backward(q, k, v, dout, causal=causal, policy=cuda(precision))
    rq, rk, rv = attention_grads_ref(*(round16(x, precision) for x in (q, k, v, dout)), causal)
    assert rel_err(dv_, rv) <= GRAD_TOL[precision]
    if sk == 1:  # one key: softmax is constant, dQ and dK are exactly zero mathematically
        assert np.abs(dq).max() <= 1e-4 and np.abs(dk).max() <= 1e-4
    else:
        assert rel_err(dq, rq) <= GRAD_TOL[precision] and rel_err(dk, rk) <= GRAD_TOL[precision]


@pytest.mark.parametrize("precision,variant", [("fp32", "auto"), ("bf16", "auto"), ("fp16", "auto"),
                                               ("bf16", "own"), ("fp16", "own")])
@pytest.mark.parametrize("shape,causal", [
    ((1, 1, 1, 8, 8, 16, 16), False),
    ((1, 2, 1, 65, 130, 64, 64), True),
    ((1, 2, 2, 130, 65, 48, 48), True),
    ((2, 4, 2, 100, 77, 64, 64), False),
    ((1, 1, 1, 70, 70, 128, 128), True),
    ((1, 1, 1, 40, 50, 256, 256), False),
    ((1, 4, 1, 300, 257, 64, 32), True),   # GQA group of 4, dv != d (tensor-core backward)
    ((2, 2, 2, 129, 129, 128, 128), False),
    ((1, 2, 1, 33, 200, 96, 96), False),   # head dim 96 in the 128 bucket
], ids=str)
def test_attention_backward_matches_float64_and_cpu(rng, monkeypatch, shape, causal, precision, variant):
    if variant == "own":  # our tensor-core kernels even where cuDNN's would be chosen
        monkeypatch.setenv("LC_CUDA_ATTN", "own")
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


# ---- cuDNN fused attention (the second bf16/fp16 forward variant) ----------------------------
# LC_CUDA_ATTN=cudnn forces it wherever cuDNN has a kernel (16-bit, head dims multiples of 8 up to
# 128, no causal rows without keys); a refusal there is an error, so these tests fail rather than
# silently passing on our kernel.

CUDNN_SHAPES = [  # (B, H, Hkv, Sq, Sk, D): odd lengths 1, 17, 127, 1000; GQA; Sq != Sk both ways
    (1, 2, 2, 1, 1, 64),
    (1, 4, 1, 1, 127, 128),
    (2, 2, 1, 17, 17, 64),
    (1, 4, 2, 127, 1000, 128),
    (1, 2, 2, 1000, 1000, 64),
    (2, 3, 3, 127, 127, 128),
    (1, 2, 1, 1000, 17, 64),
]


def force(monkeypatch, variant):
    monkeypatch.setenv("LC_CUDA_ATTN", variant)


def cudnn_attention_into(q, k, v, out, causal, precision, scale=None):
    """attention_into with cuDNN forced; skips when this build or machine has no cuDNN."""
    try:
        lc.attention_into(q, k, v, out, causal=causal, scale=scale, policy=cuda(precision))
    except NotImplementedError as e:
        if "built without" in str(e) or "expected cuDNN >= 9" in str(e):
            pytest.skip(str(e))
        raise


# Causal with Sq > Sk stays ours (its first rows see no key): test_cudnn_forced_leaves_... below.
CUDNN_CASES = [(s, c) for s in CUDNN_SHAPES for c in (False, True) if not (c and s[3] > s[4])]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("shape,causal", CUDNN_CASES, ids=lambda x: "x".join(map(str, x)) if isinstance(x, tuple) else str(x))
def test_cudnn_attention_matches_float64(rng, monkeypatch, shape, causal, precision):
    b, h, hkv, sq, sk, d = shape
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d)
    out = poisoned((b, h, sq, d))
    cudnn_attention_into(q, k, v, out, causal, precision)
    assert rel_err(out, attention_ref(q, k, v, causal)) <= TOL[precision]


def test_cudnn_attention_scale_per_call(rng, monkeypatch):
    """One cached plan per shape; the scale is a run-time scalar, not part of the plan."""
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, 1, 2, 1, 130, 250, 64)
    for scale in (None, 0.37, 0.05):
        out = poisoned((1, 2, 130, 64))
        cudnn_attention_into(q, k, v, out, True, "bf16", scale=scale)
        assert rel_err(out, attention_ref(q, k, v, True, scale=scale)) <= TOL["bf16"]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cudnn_and_own_kernels_agree(rng, monkeypatch, precision):
    q, k, v = qkv(rng, 2, 4, 2, 300, 520, 128)
    outs = {}
    for variant in ("own", "cudnn"):
        force(monkeypatch, variant)
        outs[variant] = poisoned((2, 4, 300, 128))
        cudnn_attention_into(q, k, v, outs[variant], True, precision)
    ref = attention_ref(q, k, v, True)
    assert rel_err(outs["own"], ref) <= TOL[precision]
    assert rel_err(outs["cudnn"], ref) <= TOL[precision]
    assert rel_err(outs["cudnn"], outs["own"]) <= 2 * TOL[precision]


CUDNN_BWD_SHAPES = [  # (B, H, Hkv, Sq, Sk, D)
    (1, 2, 2, 64, 64, 64),
    (2, 4, 2, 128, 256, 128),
    (1, 4, 1, 100, 160, 64),
    (2, 3, 3, 127, 127, 128),
    (1, 2, 1, 17, 1000, 64),
]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", CUDNN_BWD_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_cudnn_backward_matches_float64(rng, monkeypatch, shape, causal, precision):
    """cuDNN's fused backward (after its forward for O and Stats), GQA dK/dV summed per group."""
    b, h, hkv, sq, sk, d = shape
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d)
    dout = rand(rng, b, h, sq, d)
    try:
        dq, dk, dv = lc.attention_backward(q, k, v, dout, causal=causal, policy=cuda(precision))
    except NotImplementedError as e:
        if "built without" in str(e) or "expected cuDNN >= 9" in str(e):
            pytest.skip(str(e))
        # Lengths off the 64 grid (with the bottom-right mask): what cuDNN takes depends on its
        # version; the shapes on the grid must run.
        if "refusal" in str(e) and (sq % 64 or sk % 64):
            pytest.skip(str(e))
        raise
    rq, rk, rv = attention_grads_ref(q, k, v, dout, causal)
    for got, ref in ((dq, rq), (dk, rk), (dv, rv)):
        assert rel_err(got, ref) <= GRAD_TOL[precision]


def test_cudnn_backward_scale_per_call(rng, monkeypatch):
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, 1, 2, 2, 128, 128, 64)
    dout = rand(rng, 1, 2, 128, 64)
    for scale in (None, 0.3):
        try:
            grads = lc.attention_backward(q, k, v, dout, causal=True, scale=scale,
                                          policy=cuda("bf16"))
        except NotImplementedError as e:
            pytest.skip(str(e))
        refs = attention_grads_ref(q, k, v, dout, True, scale=scale)
        for got, ref in zip(grads, refs):
            assert rel_err(got, ref) <= GRAD_TOL["bf16"]


def test_cudnn_forced_leaves_other_cases_to_our_kernels(rng, monkeypatch):
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, 1, 2, 1, 90, 70, 17)  # head dim 17: no cuDNN kernel
    out = lc.attention(q, k, v, policy=cuda("bf16"))
    assert rel_err(out, attention_ref(q, k, v)) <= TOL["bf16"]
    q, k, v = qkv(rng, 1, 2, 2, 100, 30, 64)  # causal Sq > Sk: rows that see no key are zero
    out = lc.attention(q, k, v, causal=True, policy=cuda("fp16"))
    assert np.all(out[:, :, :70] == 0)
    assert rel_err(out, attention_ref(q, k, v, True)) <= TOL["fp16"]
    q, k, v = qkv(rng, 1, 2, 2, 300, 300, 64)  # fp32: our kernels
    out = lc.attention(q, k, v, policy=cuda())
    assert rel_err(out, attention_ref(q, k, v)) <= TOL["fp32"]


def test_cudnn_nan_propagates(rng, monkeypatch):
    force(monkeypatch, "cudnn")
    q, k, v = qkv(rng, 1, 1, 1, 40, 40, 64)
    q[0, 0, 5, 3] = np.nan
    out = poisoned((1, 1, 40, 64))
    cudnn_attention_into(q, k, v, out, False, "bf16")
    assert np.all(np.isnan(out[0, 0, 5]))
    assert np.all(np.isfinite(np.delete(out[0, 0], 5, axis=0)))
