"""The implementations Lightning Core is compared with: PyTorch (when importable) and NumPy.

NumPy references compute in float32, as a NumPy user would write them; they are also the
reference a row's results are checked against. PyTorch references use torch.nn.functional.
"""
from __future__ import annotations

import contextlib
import math
from typing import Optional, Tuple

import numpy as np


# ---- PyTorch loading and precision ---------------------------------------------------------
def load_torch() -> Tuple[Optional[object], str]:
    """(torch, "") or (None, why it is not usable)."""
    try:
        import torch  # noqa: PLC0415 (optional dependency)
    except Exception as e:  # ImportError, or a broken install raising something else
        return None, f"{type(e).__name__}: {e}"
    return torch, ""


def torch_dtype(torch, precision: str):
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


@contextlib.contextmanager
def precision_scope(torch, precision: str):
    """fp32 is true fp32 (TF32 off, PyTorch's default for matmul); tf32 turns TF32 on."""
    allow = precision == "tf32"
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


class TorchCtx:
    """What a PyTorch reference sees: the module, F, the device, the dtype and a cache."""

    def __init__(self, torch, device: str, precision: str):
        self.torch = torch
        self.F = torch.nn.functional
        self.device = device
        self.dtype = torch_dtype(torch, precision)
        self.cache: dict = {}


# ---- NumPy building blocks (float32) -------------------------------------------------------
def softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def erf(x):
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return (s * y).astype(x.dtype, copy=False)


def gelu(x):
    """Exact GELU, x * Phi(x), as PyTorch's default."""
    return (0.5 * x * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))).astype(x.dtype, copy=False)


def relu(x):
    return np.maximum(x, 0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def linear(x, w, b=None):
    y = x @ w.T
    return y + b if b is not None else y


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps=1e-6):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _probabilities(q, k, causal, scale):
    """softmax(q k^T * scale) over the last axis (the scale resolved), causal aligned
    bottom-right; a row that sees no key gets zeros."""
    sq, sk = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ np.swapaxes(k, -1, -2)) * np.float32(scale)
    if not causal:
        return softmax(s), scale
    allowed = np.arange(sk)[None, :] <= np.arange(sq)[:, None] + (sk - sq)
    return np.nan_to_num(softmax(np.where(allowed, s, -np.inf))).astype(q.dtype), scale


def attention(q, k, v, causal=False, scale=None):
    """softmax(q k^T * scale) v over the last two axes; causal aligned bottom-right."""
    return _probabilities(q, k, causal, scale)[0] @ v


def conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0)):
    """x (N,C,H,W), w (O,C,KH,KW) -> (N,O,H',W') through sliding windows."""
    sh, sw = stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N,H',W',O)
    y = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    return y + b[None, :, None, None] if b is not None else y


def max_pool2d(x, k=2):
    n, c, h, w = x.shape
    x = x[:, :, : h // k * k, : w // k * k]
    return x.reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    g = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, gg, o = np.split(g, 4, axis=-1)
    c2 = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
    return sigmoid(o) * np.tanh(c2), c2


def lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """x (T,B,I) -> (output (T,B,H), h, c)."""
    gx = x @ w_ih.T + b_ih  # all steps' input gates in one GEMM
    out = np.empty((x.shape[0],) + h.shape, dtype=x.dtype)
    for t in range(x.shape[0]):
        g = gx[t] + h @ w_hh.T + b_hh
        i, f, gg, o = np.split(g, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        out[t] = h
    return out, h, c


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gx = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    xr, xz, xn = np.split(gx, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def split_heads(x, heads):
    """(B,S,D) -> (B,H,S,D/H)."""
    b, s, d = x.shape
    return x.reshape(b, s, heads, d // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    b, h, s, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * dh)


def transformer_block(p, heads, causal=False):
    """Pre-norm encoder block: x + attn(LN(x)), then h + FFN(LN(h)). QKV without bias."""
    x = p["x"]
    xn = layer_norm(x, p["ln1_w"], p["ln1_b"])
    q, k, v = (split_heads(xn @ p[n].T, heads) for n in ("wq", "wk", "wv"))
    h = x + linear(merge_heads(attention(q, k, v, causal)), p["wo"], p["bo"])
    f = linear(gelu(linear(layer_norm(h, p["ln2_w"], p["ln2_b"]), p["w1"], p["b1"])), p["w2"], p["b2"])
    return h + f


def vlm_block(p, heads, patch):
    """Patch embedding, text -> image cross-attention, FFN (pre-norm, residuals)."""
    img = conv2d(p["image"], p["w_pe"], p["b_pe"], (patch, patch))
    tok = img.reshape(img.shape[0], img.shape[1], -1).transpose(0, 2, 1)  # (1,T,D)
    t = p["text"]
    tn = layer_norm(t, p["ln1_w"], p["ln1_b"])
    q = split_heads(tn @ p["wq"].T, heads)
    k, v = (split_heads(tok @ p[n].T, heads) for n in ("wk", "wv"))
    h = t + linear(merge_heads(attention(q, k, v)), p["wo"], p["bo"])
    f = linear(gelu(linear(layer_norm(h, p["ln2_w"], p["ln2_b"]), p["w1"], p["b1"])), p["w2"], p["b2"])
    return h + f


def small_cnn(p):
    """conv3x3+ReLU+pool, conv3x3+ReLU+pool, linear: a CIFAR-sized classifier."""
    y = max_pool2d(relu(conv2d(p["x"], p["w1"], p["b1"], pad=(1, 1))))
    y = max_pool2d(relu(conv2d(y, p["w2"], p["b2"], pad=(1, 1))))
    return linear(y.reshape(y.shape[0], -1), p["wf"], p["bf"])


def conv_attention(x, w, b, pad=1):
    """relu(conv) channel thirds as Q, K, V over the H'W' tokens -> (N, H'W', D)."""
    y = relu(conv2d(x, w, b, pad=(pad, pad)))
    n, c3 = y.shape[:2]
    tok = y.reshape(n, c3, -1).transpose(0, 2, 1)
    d = c3 // 3
    return attention(tok[..., :d], tok[..., d:2 * d], tok[..., 2 * d:])


def torchstrong_tokens(y, seq_len, head_dim):
    """The seed's rule: X[s, d] = flat[(s*head_dim + d) mod L]."""
    flat = y.reshape(-1)
    return np.take(flat, np.arange(seq_len * head_dim) % flat.size).reshape(seq_len, head_dim)


# ---- PyTorch counterparts -------------------------------------------------------------------
def t_attention(T, q, k, v, causal=False):
    add = q.dim() == 2  # SDPA wants a batch axis
    if add:
        q, k, v = q[None], k[None], v[None]
    o = T.F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return o[0] if add else o


def t_split_heads(x, heads):
    b, s, d = x.shape
    return x.view(b, s, heads, d // heads).transpose(1, 2)


def t_merge_heads(x):
    b, h, s, dh = x.shape
    return x.transpose(1, 2).reshape(b, s, h * dh)


def t_transformer_block(T, p, heads, causal=False):
    F, x = T.F, p["x"]
    d = x.shape[-1]
    xn = F.layer_norm(x, (d,), p["ln1_w"], p["ln1_b"])
    q, k, v = (t_split_heads(F.linear(xn, p[n]), heads) for n in ("wq", "wk", "wv"))
    h = x + F.linear(t_merge_heads(F.scaled_dot_product_attention(q, k, v, is_causal=causal)),
                     p["wo"], p["bo"])
    hn = F.layer_norm(h, (d,), p["ln2_w"], p["ln2_b"])
    return h + F.linear(F.gelu(F.linear(hn, p["w1"], p["b1"])), p["w2"], p["b2"])


def t_vlm_block(T, p, heads, patch):
    F = T.F
    img = F.conv2d(p["image"], p["w_pe"], p["b_pe"], stride=patch)
    tok = img.flatten(2).transpose(1, 2)
    t = p["text"]
    d = t.shape[-1]
    q = t_split_heads(F.linear(F.layer_norm(t, (d,), p["ln1_w"], p["ln1_b"]), p["wq"]), heads)
    k, v = (t_split_heads(F.linear(tok, p[n]), heads) for n in ("wk", "wv"))
    h = t + F.linear(t_merge_heads(F.scaled_dot_product_attention(q, k, v)), p["wo"], p["bo"])
    hn = F.layer_norm(h, (d,), p["ln2_w"], p["ln2_b"])
    return h + F.linear(F.gelu(F.linear(hn, p["w1"], p["b1"])), p["w2"], p["b2"])


def t_small_cnn(T, p):
    F = T.F
    y = F.max_pool2d(F.relu(F.conv2d(p["x"], p["w1"], p["b1"], padding=1)), 2)
    y = F.max_pool2d(F.relu(F.conv2d(y, p["w2"], p["b2"], padding=1)), 2)
    return F.linear(y.flatten(1), p["wf"], p["bf"])


def t_conv_attention(T, x, w, b, pad=1):
    y = T.F.relu(T.F.conv2d(x, w, b, padding=pad))
    tok = y.flatten(2).transpose(1, 2)
    q, k, v = tok.chunk(3, dim=-1)
    return T.F.scaled_dot_product_attention(q, k, v)


def t_torchstrong(T, x, w, b, seq_len, head_dim, pad=1):
    flat = T.F.relu(T.F.conv2d(x, w, b, padding=pad)).reshape(-1)
    idx = T.cache.get("idx")
    if idx is None:
        idx = T.cache["idx"] = T.torch.arange(seq_len * head_dim, device=flat.device) % flat.numel()
    xs = flat[idx].view(1, seq_len, head_dim)
    return T.F.scaled_dot_product_attention(xs, xs, xs)[0]


def t_rnn(T, kind, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """nn.LSTM / nn.LSTMCell / nn.GRUCell holding the given weights (built once, cached)."""
    torch = T.torch
    mod = T.cache.get(kind)
    if mod is None:
        hidden, inp = w_hh.shape[1], w_ih.shape[1]
        cls = {"lstm": torch.nn.LSTM, "lstm_cell": torch.nn.LSTMCell, "gru_cell": torch.nn.GRUCell}[kind]
        mod = cls(inp, hidden).to(device=x.device, dtype=x.dtype)
        with torch.no_grad():
            suffix = "_l0" if kind == "lstm" else ""
            for name, val in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
                getattr(mod, name + suffix).copy_(val)
        T.cache[kind] = mod
    if kind == "lstm":
        out, (hn, cn) = mod(x, (h[None], c[None]))
        return out, hn[0], cn[0]
    if kind == "lstm_cell":
        return mod(x, (h, c))
    return mod(x, h)


def attention_backward(q, k, v, dout, causal=False, scale=None):
    """(dq, dk, dv) of sum(attention(q, k, v) * dout), recomputing the probabilities."""
    p, scale = _probabilities(q, k, causal, scale)
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    dq = (ds @ k) * np.float32(scale)
    dk = (np.swapaxes(ds, -1, -2) @ q) * np.float32(scale)
    return dq, dk, dv


def t_attention_fwd_bwd(T, q, k, v, dout, causal=False):
    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
    with T.torch.enable_grad():
        T.F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(dout)
    return q.grad, k.grad, v.grad
