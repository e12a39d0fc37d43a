"""The Hopper (wgmma + TMA) bf16/fp16 attention forward against float64, forced with
LC_CUDA_ATTN=wgmma (and the mma.sync kernel with LC_CUDA_ATTN=mma for comparison).

The kernel runs head-dim buckets 64 and 128 (head dims 33..128) in 192-row (bucket 64) or
128-row query tiles and 128-key tiles; the shapes below cut both at odd places, mix GQA,
Sq != Sk both ways, causal rows that see no key, and a head dim narrower than its bucket. The
backward's forward pass (which writes the log2-domain row statistics) takes the same kernel.
"""
import numpy as np
import pytest

import lightning_core as lc
from conftest import poisoned, rand, rel_err, requires_gpu
from test_cuda_attention import GRAD_TOL, TOL, attention_grads_ref, attention_ref, qkv

pytestmark = [pytest.mark.gpu, requires_gpu]


def cuda(precision):
    return lc.Policy(device="cuda", precision=precision)


# (B, H, Hkv, Sq, Sk, D, Dv)
WGMMA_SHAPES = [
    (1, 1, 1, 128, 128, 64, 64),      # exactly one tile
    (2, 4, 2, 65, 130, 64, 64),       # GQA, partial query and key tiles
    (1, 2, 1, 130, 65, 64, 64),       # Sq > Sk
    (1, 2, 2, 127, 300, 128, 128),
    (2, 3, 1, 257, 513, 96, 96),      # head dim 96 in the 128 bucket, GQA 3:1
    (1, 1, 1, 333, 333, 48, 40),      # d != dv, both under the 64 bucket
    (1, 4, 4, 700, 1500, 128, 100),   # many key tiles, causal diagonal far right
    (1, 2, 1, 1025, 1023, 128, 128),  # one row past a whole number of tiles
    (1, 2, 1, 193, 450, 64, 64),      # head dim 64 runs 192-row tiles: one row past one
]


@pytest.mark.parametrize("variant", ["wgmma", "mma"])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", WGMMA_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_forced_kernel_matches_float64(rng, monkeypatch, shape, causal, precision, variant):
    monkeypatch.setenv("LC_CUDA_ATTN", variant)
    b, h, hkv, sq, sk, d, dv = shape
    q, k, v = qkv(rng, b, h, hkv, sq, sk, d, dv)
    out = poisoned((b, h, sq, dv))
    lc.attention_into(q, k, v, out, causal=causal, policy=cuda(precision))
    assert rel_err(out, attention_ref(q, k, v, causal)) <= TOL[precision]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_wgmma_and_mma_agree(rng, monkeypatch, precision):
    q, k, v = qkv(rng, 2, 4, 2, 600, 777, 128)
    outs = {}
    for variant in ("wgmma", "mma"):
        monkeypatch.setenv("LC_CUDA_ATTN", variant)
        outs[variant] = poisoned((2, 4, 600, 128))
        lc.attention_into(q, k, v, outs[variant], causal=True, policy=cuda(precision))
    assert rel_err(outs["wgmma"], outs["mma"]) <= TOL[precision]


def test_own_picks_the_wgmma_kernel_and_it_is_right(rng, monkeypatch):
    monkeypatch.setenv("LC_CUDA_ATTN", "own")
    q, k, v = qkv(rng, 1, 2, 1, 2048, 2048, 128)
    out = poisoned((1, 2, 2048, 128))
    lc.attention_into(q, k, v, out, causal=True, policy=cuda("bf16"))
    assert rel_err(out, attention_ref(q, k, v, True)) <= TOL["bf16"]


def test_wgmma_rows_that_see_no_key_are_zero(rng, monkeypatch):
    monkeypatch.setenv("LC_CUDA_ATTN", "wgmma")
    q, k, v = qkv(rng, 1, 2, 2, 300, 100, 64)  # causal, Sq > Sk: the first 200 rows see nothing
    out = poisoned((1, 2, 300, 64))
    lc.attention_into(q, k, v, out, causal=True, policy=cuda("bf16"))
    assert np.all(out[:, :, :200] == 0)
    assert rel_err(out, attention_ref(q, k, v, True)) <= TOL["bf16"]


def test_wgmma_explicit_scale_and_nan(rng, monkeypatch):
    monkeypatch.setenv("LC_CUDA_ATTN", "wgmma")
    q, k, v = qkv(rng, 1, 2, 1, 200, 260, 64)
    out = lc.attention(q, k, v, scale=0.37, policy=cuda("bf16"))
    assert rel_err(out, attention_ref(q, k, v, scale=0.37)) <= TOL["bf16"]
    q[0, 1, 150, 3] = np.nan
    out = lc.attention(q, k, v, policy=cuda("bf16"))
    assert np.all(np.isnan(out[0, 1, 150]))
    assert np.all(np.isfinite(np.delete(out[0, 1], 150, axis=0)))
    assert np.all(np.isfinite(out[0, 0]))


@pytest.mark.parametrize("causal", [False, True])
def test_wgmma_forward_feeds_the_backward(rng, monkeypatch, causal):
    """The backward recomputes P from the forward's log2-domain lse: it must match."""
    monkeypatch.setenv("LC_CUDA_ATTN", "wgmma")
    q, k, v = qkv(rng, 1, 4, 2, 150, 260, 64)
    dout = rand(rng, 1, 4, 150, 64)
    dq, dk, dv = lc.attention_backward(q, k, v, dout, causal=causal, policy=cuda("bf16"))
    rq, rk, rv = attention_grads_ref(q, k, v, dout, causal)
    for got, ref in ((dq, rq), (dk, rk), (dv, rv)):
        assert rel_err(got, ref) <= GRAD_TOL["bf16"]
