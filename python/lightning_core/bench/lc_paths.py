"""Lightning Core's side of the composite cases: blocks built from plain ops, and the weight
layouts they take (prepared once on the host, outside the timing, as a model loader would).

Multi-head attention without a device permute: Q = (B,1,S,D) @ Wq_h (1,H,D,Dh) gives
(B,H,S,Dh) by broadcasting; the output projection is (B,H,S,Dh) @ Wo_h (1,H,Dh,D) summed over
the heads by a (1,1,H) ones matmul. Device reshapes need lc.Tensor.reshape; without it the
resident rows of these cases are reported n/a.
"""
from __future__ import annotations

import numpy as np

from . import torch_ref as ref


def reshape(t, shape):
    if isinstance(t, np.ndarray):
        return t.reshape(shape)
    method = getattr(t, "reshape", None)
    if method is None:
        raise NotImplementedError("lc.Tensor has no reshape: this composed path needs a device reshape")
    return method(tuple(int(s) for s in shape))


# ---- weight layouts -------------------------------------------------------------------------
def head_weights(w, heads):
    """PyTorch (H*Dh, D_in) -> (1, H, D_in, Dh): x (B,1,S,D_in) @ it = heads of x @ w.T."""
    d_out, d_in = w.shape
    return np.ascontiguousarray(w.T.reshape(d_in, heads, d_out // heads).transpose(1, 0, 2))[None]


def out_head_weights(wo, heads):
    """PyTorch (D, H*Dh) -> (1, H, Dh, D): sum over h of o_h @ it[h] = merge(o) @ wo.T."""
    d, hd = wo.shape
    return np.ascontiguousarray(wo.T.reshape(heads, hd // heads, d))[None]


def attention_layouts(p, heads, names=("wq", "wk", "wv")):
    q = dict(p)
    for n in names:
        q[n + "_h"] = head_weights(p[n], heads)
        del q[n]
    q["wo_h"] = out_head_weights(p["wo"], heads)
    del q["wo"]
    q["ones_h"] = np.ones((1, 1, heads), dtype=np.float32)
    return q


def split_conv_thirds(p):
    """w (3D,C,KH,KW), b (3D) -> the Q, K and V convolutions' weights."""
    q = {"x": p["x"]}
    d = p["w"].shape[0] // 3
    for i, n in enumerate("qkv"):
        q["w" + n] = np.ascontiguousarray(p["w"][i * d:(i + 1) * d])
        q["b" + n] = np.ascontiguousarray(p["b"][i * d:(i + 1) * d])
    return q


# ---- composed paths -------------------------------------------------------------------------
def _heads_out(c, o, wo_h, ones_h):
    L, pol = c.L, c.policy
    pr = L.matmul(o, wo_h, policy=pol)  # (B,H,S,D)
    b, h, s, d = pr.shape
    summed = L.matmul(ones_h, reshape(pr, (b, h, s * d)), policy=pol)  # (B,1,S*D)
    return reshape(summed, (b, s, d))


def _ffn_residual(c, h, p):
    L, pol = c.L, c.policy
    hn = L.layer_norm(h, p["ln2_w"], p["ln2_b"], eps=1e-5, policy=pol)
    f = L.linear(hn, p["w1"], p["b1"], activation="gelu", policy=pol)
    return L.add(h, L.linear(f, p["w2"], p["b2"], policy=pol), policy=pol)


def transformer_block(c, p, heads, causal=False):
    L, pol = c.L, c.policy
    x = p["x"]
    b, s, d = x.shape
    xn = reshape(L.layer_norm(x, p["ln1_w"], p["ln1_b"], eps=1e-5, policy=pol), (b, 1, s, d))
    q, k, v = (L.matmul(xn, p[n], policy=pol) for n in ("wq_h", "wk_h", "wv_h"))
    o = L.attention(q, k, v, causal=causal, policy=pol)
    h = L.add(L.add(x, _heads_out(c, o, p["wo_h"], p["ones_h"]), policy=pol), p["bo"], policy=pol)
    return _ffn_residual(c, h, p)


def vlm_block(c, p, heads, patch):
    L, pol = c.L, c.policy
    img = L.conv2d_nchw(p["image"], p["w_pe"], p["b_pe"], stride_h=patch, stride_w=patch,
                        pad_h=0, pad_w=0, policy=pol)
    n, d, hh, ww = img.shape
    tok = reshape(L.transpose(reshape(img, (n, d, hh * ww)), policy=pol), (n, 1, hh * ww, d))
    t = p["text"]
    lt = t.shape[1]
    tn = reshape(L.layer_norm(t, p["ln1_w"], p["ln1_b"], eps=1e-5, policy=pol), (n, 1, lt, d))
    q = L.matmul(tn, p["wq_h"], policy=pol)
    k, v = (L.matmul(tok, p[w], policy=pol) for w in ("wk_h", "wv_h"))
    o = L.attention(q, k, v, policy=pol)
    h = L.add(L.add(t, _heads_out(c, o, p["wo_h"], p["ones_h"]), policy=pol), p["bo"], policy=pol)
    return _ffn_residual(c, h, p)


def _conv_relu(c, x, w, b, fused, pad=1):
    L, pol = c.L, c.policy
    if fused:
        return L.conv_relu_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=pad, pad_w=pad, policy=pol)
    y = L.conv2d_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=pad, pad_w=pad, policy=pol)
    return L.relu(y, policy=pol)


def _pool(c, x):
    return c.L.max_pool2d(x, kernel_h=2, kernel_w=2, policy=c.policy)


def small_cnn(c, p, fused):
    y = _pool(c, _conv_relu(c, p["x"], p["w1"], p["b1"], fused))
    y = _pool(c, _conv_relu(c, y, p["w2"], p["b2"], fused))
    flat = reshape(y, (y.shape[0], int(np.prod(y.shape[1:]))))
    return c.L.linear(flat, p["wf"], p["bf"], policy=c.policy)


def conv_relu_pool(c, p, fused):
    return _pool(c, _conv_relu(c, p["x"], p["w"], p["b"], fused))


def conv_attention_composed(c, p):
    """Q, K, V convolutions, each ReLU'd and turned into (N, H'W', D) tokens, then attention."""
    L, pol = c.L, c.policy
    toks = []
    for n in "qkv":
        y = _conv_relu(c, p["x"], p["w" + n], p["b" + n], fused=False)
        nb, d, hh, ww = y.shape
        toks.append(reshape(L.transpose(reshape(y, (nb, d, hh * ww)), policy=pol), (nb, 1, hh * ww, d)))
    o = L.attention(*toks, policy=pol)
    nb, _, s, d = o.shape
    return reshape(o, (nb, s, d))


def torchstrong_composed(c, p, seq_len, head_dim):
    """The seed's rule with a NumPy gather in the middle: host arrays only."""
    if not isinstance(p["x"], np.ndarray):
        raise NotImplementedError("the composed path gathers tokens with NumPy; host arrays only")
    y = np.asarray(_conv_relu(c, p["x"], p["w"], p["b"], fused=False))
    xs = np.ascontiguousarray(ref.torchstrong_tokens(y, seq_len, head_dim))
    return c.L.attention2d(xs, xs, xs, causal=False, policy=c.policy)
