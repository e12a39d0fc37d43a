"""The case tables: what each suite runs, with its FLOPs, bytes and implementations.

A case names its inputs (shape and scale of random normal float32 data, never zeros), its
outputs (for the floor's bytes), its FLOPs, and up to four implementations:
- ``lc``: Lightning Core through its plain ops (flat names, allocating results);
- ``integrated``: the same work through the integrated API: the fused op of a pipeline, or
  the ``*_into`` form writing a preallocated output for a single op;
- ``torch`` and ``numpy``: the references (torch_ref.py).
Lightning Core implementations take (c, x): c.L is lightning_core.api, c.policy the policy
of the call, c.buf(name, shape) a cached output buffer in the row's residency.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from . import lc_paths as lp
from . import torch_ref as ref

RESIDENT, ROUND_TRIP = "resident", "host_round_trip"
SUITES = ("kernel", "pipeline", "ml", "dl")
ALL_PREC = ("fp32", "tf32", "bf16", "fp16")


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    family: str                                  # groups rows for the summary's averages
    inputs: Dict[str, Tuple[tuple, float]]       # name -> (shape, scale)
    out: Tuple[tuple, ...]                       # output shapes
    flops: float
    lc: Optional[Callable] = None
    integrated: Optional[Callable] = None
    torch: Optional[Callable] = None
    numpy: Optional[Callable] = None
    lc_inputs: Optional[Callable] = None         # host dict -> dict for the LC paths (layouts)
    precisions: Tuple[str, ...] = ("fp32",)
    residencies: Tuple[str, ...] = (RESIDENT, ROUND_TRIP)
    quick: bool = False
    table: bool = False                          # a row of BENCHMARKS.md
    grad: bool = False                           # the PyTorch reference needs autograd
    cuda_only: bool = False
    note: str = ""
    tags: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def in_bytes(self) -> float:
        return 4.0 * sum(math.prod(s) for s, _ in self.inputs.values())

    @property
    def out_bytes(self) -> float:
        return 4.0 * sum(math.prod(s) for s in self.out)

    def make_inputs(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        return {n: (rng.standard_normal(s, dtype=np.float32) * np.float32(k))
                for n, (s, k) in self.inputs.items()}


def P(*shape, scale=1.0):
    return (tuple(shape), scale)


def W(out_f, in_f):
    """A PyTorch-layout weight (out, in) scaled 1/sqrt(in), so activations stay O(1)."""
    return P(out_f, in_f, scale=1.0 / math.sqrt(in_f))


def into(c, name, shape, *args, **kw):
    """Calls lightning_core.api.<name>(*args, out, **kw) with a cached output; returns out."""
    out = c.buf(name, tuple(shape))
    getattr(c.L, name)(*args, out, policy=c.policy, **kw)
    return out


def into_scratch(c, name, shape, *args, **kw):
    """The same into an intermediate buffer that stays on the GPU (c.scratch)."""
    out = c.scratch(name, tuple(shape))
    getattr(c.L, name)(*args, out, policy=c.policy, **kw)
    return out


# ---- kernels --------------------------------------------------------------------------------
def gemm(suite, m, k, n, precisions=ALL_PREC, quick=False, table=False, sweep=False):
    name = f"gemm {m}^3" if m == k == n else f"gemm {m}x{k}x{n}"
    return Case(suite, name, "gemm", {"a": P(m, k), "b": P(k, n)}, ((m, n),), 2.0 * m * k * n,
                lc=lambda c, x: c.L.matmul2d(x["a"], x["b"], policy=c.policy),
                integrated=lambda c, x: into(c, "matmul2d_into", (m, n), x["a"], x["b"]),
                torch=lambda T, x: x["a"] @ x["b"], numpy=lambda x: x["a"] @ x["b"],
                precisions=precisions, quick=quick, table=table,
                residencies=(RESIDENT,) if sweep else (RESIDENT, ROUND_TRIP))


def attention2d(suite, s, d, causal=False, quick=False, table=False):
    name = f"attention seq={s} dim={d}" + (" causal" if causal else "")
    qkv = {"q": P(s, d), "k": P(s, d), "v": P(s, d)}
    return Case(suite, name, "attention", qkv, ((s, d),), 4.0 * s * s * d * (0.5 if causal else 1),
                lc=lambda c, x: c.L.attention2d(x["q"], x["k"], x["v"], causal=causal, policy=c.policy),
                integrated=lambda c, x: into(c, "attention2d_into", (s, d), x["q"], x["k"], x["v"],
                                             causal=causal),
                torch=lambda T, x: ref.t_attention(T, x["q"], x["k"], x["v"], causal),
                numpy=lambda x: ref.attention(x["q"], x["k"], x["v"], causal),
                quick=quick, table=table)


def attention4d(suite, b, h, s, d, causal=False, precisions=("fp32", "bf16"), quick=False,
                table=False, sweep=False, cuda_only=False):
    name = f"attention B{b} H{h} S{s} D{d}" + (" causal" if causal else "")
    qkv = {"q": P(b, h, s, d), "k": P(b, h, s, d), "v": P(b, h, s, d)}
    return Case(suite, name + " fwd", "attention", qkv, ((b, h, s, d),),
                4.0 * b * h * s * s * d * (0.5 if causal else 1),
                lc=lambda c, x: c.L.attention(x["q"], x["k"], x["v"], causal=causal, policy=c.policy),
                integrated=lambda c, x: into(c, "attention_into", (b, h, s, d), x["q"], x["k"], x["v"],
                                             causal=causal),
                torch=lambda T, x: ref.t_attention(T, x["q"], x["k"], x["v"], causal),
                numpy=lambda x: ref.attention(x["q"], x["k"], x["v"], causal),
                precisions=precisions, quick=quick, table=table, cuda_only=cuda_only,
                residencies=(RESIDENT,) if sweep else (RESIDENT, ROUND_TRIP))


def _lc_fwd_bwd(c, x, causal):
    c.L.attention(x["q"], x["k"], x["v"], causal=causal, policy=c.policy)
    return c.L.attention_backward(x["q"], x["k"], x["v"], x["dout"], causal=causal, policy=c.policy)


def attention_fwd_bwd(suite, b, h, s, d, causal=False, precisions=("fp32", "bf16"), quick=False,
                      table=False, cuda_only=False):
    name = f"attention B{b} H{h} S{s} D{d}" + (" causal" if causal else "") + " fwd+bwd"
    shape = (b, h, s, d)
    x = {"q": P(*shape), "k": P(*shape), "v": P(*shape), "dout": P(*shape)}
    return Case(suite, name, "attention", x, (shape,) * 3,
                3.5 * 4.0 * b * h * s * s * d * (0.5 if causal else 1),  # bwd = 2.5 x fwd
                lc=lambda c, x: _lc_fwd_bwd(c, x, causal),
                torch=lambda T, x: ref.t_attention_fwd_bwd(T, x["q"], x["k"], x["v"], x["dout"], causal),
                numpy=lambda x: ref.attention_backward(x["q"], x["k"], x["v"], x["dout"], causal),
                precisions=precisions, quick=quick, table=table, grad=True, cuda_only=cuda_only,
                note="lc: attention + attention_backward (recomputes the forward)")


def conv(suite, n, ci, h, w, co, k, stride=1, pad=None, quick=False, table=False):
    pad = k // 2 if pad is None else pad
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    name = f"conv {n}x{ci}x{h}x{w} -> {co}, k={k}" + (f" s={stride}" if stride != 1 else "")
    x = {"x": P(n, ci, h, w), "w": P(co, ci, k, k, scale=1 / math.sqrt(ci * k * k)), "b": P(co)}
    kw = dict(stride_h=stride, stride_w=stride, pad_h=pad, pad_w=pad)
    return Case(suite, name, "conv", x, ((n, co, ho, wo),), 2.0 * n * co * ho * wo * ci * k * k,
                lc=lambda c, x: c.L.conv2d_nchw(x["x"], x["w"], x["b"], policy=c.policy, **kw),
                integrated=lambda c, x: into(c, "conv2d_nchw_into", (n, co, ho, wo), x["x"], x["w"],
                                             x["b"], **kw),
                torch=lambda T, x: T.F.conv2d(x["x"], x["w"], x["b"], stride=stride, padding=pad),
                numpy=lambda x: ref.conv2d(x["x"], x["w"], x["b"], (stride, stride), (pad, pad)),
                quick=quick, table=table)


def elementwise(suite, op, n, quick=False):
    """add (two inputs) or a unary op over n float32 values: bandwidth-bound."""
    two = op == "add"
    x = {"a": P(n), "b": P(n)} if two else {"a": P(n)}
    args = (lambda x: (x["a"], x["b"])) if two else (lambda x: (x["a"],))
    npf = {"add": lambda a, b: a + b, "relu": ref.relu, "gelu": ref.gelu}[op]
    tf = {"add": lambda T, a, b: a + b, "relu": lambda T, a: T.F.relu(a), "gelu": lambda T, a: T.F.gelu(a)}[op]
    return Case(suite, f"{op} n={n}", "vector", x, ((n,),), (1 if op != "gelu" else 10) * n,
                lc=lambda c, x: getattr(c.L, op)(*args(x), policy=c.policy),
                integrated=lambda c, x: into(c, op + "_into", (n,), *args(x)),
                torch=lambda T, x: tf(T, *args(x)), numpy=lambda x: npf(*args(x)), quick=quick)


def rowwise(suite, op, rows, cols, quick=False):
    """softmax, layer_norm, rms_norm or transpose of a (rows, cols) matrix."""
    x = {"x": P(rows, cols)}
    if op in ("layer_norm", "rms_norm"):
        x["w"] = P(cols)
    if op == "layer_norm":
        x["b"] = P(cols)
    out = (cols, rows) if op == "transpose" else (rows, cols)
    lc_args = {"softmax": lambda x: (x["x"],), "transpose": lambda x: (x["x"],),
               "layer_norm": lambda x: (x["x"], x["w"], x["b"]), "rms_norm": lambda x: (x["x"], x["w"])}[op]
    np_f = {"softmax": lambda x: ref.softmax(x["x"]), "transpose": lambda x: np.ascontiguousarray(x["x"].T),
            "layer_norm": lambda x: ref.layer_norm(x["x"], x["w"], x["b"]),
            "rms_norm": lambda x: ref.rms_norm(x["x"], x["w"])}[op]
    t_f = {"softmax": lambda T, x: T.torch.softmax(x["x"], -1),
           "transpose": lambda T, x: x["x"].t().contiguous(),
           "layer_norm": lambda T, x: T.F.layer_norm(x["x"], (cols,), x["w"], x["b"]),
           "rms_norm": lambda T, x: x["x"] * T.torch.rsqrt(x["x"].pow(2).mean(-1, keepdim=True) + 1e-6) * x["w"]}[op]
    return Case(suite, f"{op} {rows}x{cols}", "matrix", x, (out,), (1 if op == "transpose" else 8.0) * rows * cols,
                lc=lambda c, x: getattr(c.L, op)(*lc_args(x), policy=c.policy),
                integrated=lambda c, x: into(c, op + "_into", out, *lc_args(x)),
                torch=t_f, numpy=np_f, quick=quick)


def kernel_cases():
    s = "kernel"
    cases = [attention2d(s, 8, 16, quick=True, table=True),
             attention2d(s, 192, 48, quick=True, table=True),
             attention2d(s, 1024, 64, quick=True, table=True),
             attention2d(s, 4096, 64, table=True),
             conv(s, 1, 3, 16, 16, 16, 3, quick=True, table=True),
             gemm(s, 1024, 1024, 1024, ("fp32", "tf32", "bf16"), quick=True, table=True),
             gemm(s, 4096, 1024, 4096, ("fp32", "tf32", "bf16"), table=True)]
    for causal in (False, True):
        cases.append(attention4d(s, 4, 16, 4096, 128, causal, ("bf16",), table=True, cuda_only=True))
    cases.append(attention_fwd_bwd(s, 4, 16, 4096, 128, False, ("bf16",), table=True, cuda_only=True))
    cases.append(attention_fwd_bwd(s, 1, 4, 256, 64, quick=True))
    cases.append(attention4d(s, 1, 8, 512, 64, True, quick=True))
    for seq in (8, 32, 128, 512, 1024, 2048, 4096, 8192, 16384):
        for d in (16, 32, 64, 128):
            for causal in (False, True):
                if (seq, d, causal) != (512, 64, True):
                    cases.append(attention4d(s, 1, 8, seq, d, causal, sweep=True))
    for shape in ((1, 3, 32, 32, 16, 3), (8, 16, 32, 32, 32, 3), (8, 32, 16, 16, 64, 3),
                  (8, 64, 8, 8, 128, 3), (8, 64, 56, 56, 64, 3), (8, 128, 28, 28, 128, 3),
                  (8, 256, 14, 14, 256, 3), (8, 256, 14, 14, 1024, 1)):
        cases.append(conv(s, *shape))
    cases.append(conv(s, 1, 3, 224, 224, 64, 7, stride=2, pad=3))
    cases += [elementwise(s, "add", 1 << 20, quick=True), elementwise(s, "add", 1 << 24),
              elementwise(s, "relu", 1 << 24), elementwise(s, "gelu", 1 << 24),
              rowwise(s, "softmax", 1024, 1024, quick=True), rowwise(s, "softmax", 4096, 4096),
              rowwise(s, "layer_norm", 2048, 1024, quick=True), rowwise(s, "layer_norm", 8192, 1024),
              rowwise(s, "rms_norm", 8192, 1024), rowwise(s, "transpose", 4096, 4096)]
    return cases


# ---- pipelines ------------------------------------------------------------------------------
def _ffn_lc(c, x, fused):
    L, pol = c.L, c.policy
    if fused:  # the GELU epilogue, the hidden layer kept on the GPU
        h = into_scratch(c, "linear_into", (x["x"].shape[0], x["w1"].shape[0]), x["x"], x["w1"], x["b1"],
                         activation="gelu")
    else:
        h = L.gelu(L.linear(x["x"], x["w1"], x["b1"], policy=pol), policy=pol)
    return L.linear(h, x["w2"], x["b2"], policy=pol)


def ffn(suite, batch, d, precisions=("fp32", "bf16"), quick=False, table=False):
    x = {"x": P(batch, d), "w1": W(4 * d, d), "b1": P(4 * d), "w2": W(d, 4 * d), "b2": P(d)}
    return Case(suite, f"FFN batch={batch} d={d}", "ffn", x, ((batch, d),), 16.0 * batch * d * d,
                lc=lambda c, x: _ffn_lc(c, x, False), integrated=lambda c, x: _ffn_lc(c, x, True),
                torch=lambda T, x: T.F.linear(T.F.gelu(T.F.linear(x["x"], x["w1"], x["b1"])), x["w2"], x["b2"]),
                numpy=lambda x: ref.linear(ref.gelu(ref.linear(x["x"], x["w1"], x["b1"])), x["w2"], x["b2"]),
                precisions=precisions, quick=quick, table=table,
                note="lc: linear + gelu + linear; integrated: linear with the GELU epilogue (hidden layer "
                     "kept on the GPU) + linear")


def _ln_proj_into(c, x):
    h = into_scratch(c, "layer_norm_into", x["x"].shape, x["x"], x["g"], x["beta"], eps=1e-5)
    return into(c, "linear_into", (x["x"].shape[0], x["w"].shape[0]), h, x["w"], x["b"])


def ln_proj(suite, batch, d, precisions=("fp32", "bf16"), quick=False, table=False):
    x = {"x": P(batch, d), "g": P(d), "beta": P(d), "w": W(d, d), "b": P(d)}
    return Case(suite, f"LN->proj batch={batch} d={d}", "ln_proj", x, ((batch, d),),
                2.0 * batch * d * d + 8.0 * batch * d,
                lc=lambda c, x: c.L.linear(c.L.layer_norm(x["x"], x["g"], x["beta"], eps=1e-5, policy=c.policy),
                                           x["w"], x["b"], policy=c.policy),
                integrated=_ln_proj_into,
                torch=lambda T, x: T.F.linear(T.F.layer_norm(x["x"], (d,), x["g"], x["beta"]), x["w"], x["b"]),
                numpy=lambda x: ref.linear(ref.layer_norm(x["x"], x["g"], x["beta"]), x["w"], x["b"]),
                precisions=precisions, quick=quick, table=table,
                note="integrated: layer_norm_into + linear_into on preallocated buffers, the "
                     "intermediate kept on the GPU")


def conv_attention(suite, n, h, w, d, quick=False, table=False):
    x = {"x": P(n, 3, h, w), "w": P(3 * d, 3, 3, 3, scale=1 / math.sqrt(27)), "b": P(3 * d)}
    s = h * w
    return Case(suite, f"conv->relu->attn seq={s} dim={d}", "conv_attn", x, ((n, s, d),),
                2.0 * n * 3 * d * s * 27 + 4.0 * n * s * s * d,
                lc=lp.conv_attention_composed, lc_inputs=lp.split_conv_thirds,
                integrated=lambda c, x: c.L.conv_attention_nchw(x["x"], x["w"], x["b"], stride_h=1, stride_w=1,
                                                                pad_h=1, pad_w=1, policy=c.policy),
                torch=lambda T, x: ref.t_conv_attention(T, x["x"], x["w"], x["b"]),
                numpy=lambda x: ref.conv_attention(x["x"], x["w"], x["b"]), quick=quick, table=table,
                note="lc: Q/K/V convs + relu + transpose + attention; integrated: conv_attention_nchw")


def torchstrong(suite, seq_len=96, head_dim=48, quick=False):
    x = {"x": P(1, 3, 8, 8), "w": P(16, 3, 3, 3, scale=1 / math.sqrt(27)), "b": P(16)}
    return Case(suite, f"conv->attn torchstrong seq={seq_len} dim={head_dim}", "conv_attn", x,
                ((seq_len, head_dim),), 2.0 * 16 * 64 * 27 + 4.0 * seq_len * seq_len * head_dim,
                lc=lambda c, x: lp.torchstrong_composed(c, x, seq_len, head_dim),
                integrated=lambda c, x: c.L.conv_attention_torchstrong_nchw(
                    x["x"], x["w"], x["b"], seq_len=seq_len, head_dim=head_dim, stride_h=1, stride_w=1,
                    pad_h=1, pad_w=1, policy=c.policy),
                torch=lambda T, x: ref.t_torchstrong(T, x["x"], x["w"], x["b"], seq_len, head_dim),
                numpy=lambda x: ref.attention(*(ref.torchstrong_tokens(
                    ref.relu(ref.conv2d(x["x"], x["w"], x["b"], pad=(1, 1))), seq_len, head_dim),) * 3),
                quick=quick, note="the seed's conv_attention_torchstrong_nchw rule")


def conv_relu(suite, n, ci, hw, co, pool=False, quick=False):
    x = {"x": P(n, ci, hw, hw), "w": P(co, ci, 3, 3, scale=1 / math.sqrt(ci * 9)), "b": P(co)}
    o = hw // 2 if pool else hw
    name = f"conv->relu{'->maxpool' if pool else ''} {n}x{ci}x{hw}x{hw} -> {co}"
    if pool:
        lcf = (lambda c, x: lp.conv_relu_pool(c, x, False), lambda c, x: lp.conv_relu_pool(c, x, True))
    else:
        lcf = (lambda c, x: lp._conv_relu(c, x["x"], x["w"], x["b"], False),
               lambda c, x: lp._conv_relu(c, x["x"], x["w"], x["b"], True))

    def t(T, x):
        y = T.F.relu(T.F.conv2d(x["x"], x["w"], x["b"], padding=1))
        return T.F.max_pool2d(y, 2) if pool else y

    def npf(x):
        y = ref.relu(ref.conv2d(x["x"], x["w"], x["b"], pad=(1, 1)))
        return ref.max_pool2d(y) if pool else y
    return Case(suite, name, "conv_relu", x, ((n, co, o, o),), 2.0 * n * co * hw * hw * ci * 9,
                lc=lcf[0], integrated=lcf[1], torch=t, numpy=npf, quick=quick,
                note="integrated: conv_relu_nchw (fused ReLU)")


def pipeline_cases():
    s = "pipeline"
    return [ffn(s, 1024, 1024, quick=True, table=True), ln_proj(s, 2048, 1024, quick=True, table=True),
            conv_attention(s, 1, 12, 16, 48, quick=True, table=True), torchstrong(s, quick=True),
            conv_relu(s, 8, 16, 32, 32, quick=True), conv_relu(s, 8, 32, 32, 64, pool=True),
            ffn(s, 64, 1024), ffn(s, 4096, 1024), ln_proj(s, 256, 1024), ln_proj(s, 8192, 1024)]


# ---- ML -------------------------------------------------------------------------------------
def linear(suite, batch, fin, fout, act="none", precisions=("fp32", "tf32", "bf16"), quick=False, table=False):
    x = {"x": P(batch, fin), "w": W(fout, fin), "b": P(fout)}
    npact = {"none": lambda y: y, "relu": ref.relu, "gelu": ref.gelu}[act]
    tact = {"none": lambda T, y: y, "relu": lambda T, y: T.F.relu(y), "gelu": lambda T, y: T.F.gelu(y)}[act]
    name = f"linear {batch}x{fin} -> {fout}" + ("" if act == "none" else f" +{act}")
    return Case(suite, name, "linear", x, ((batch, fout),), 2.0 * batch * fin * fout,
                lc=lambda c, x: c.L.linear(x["x"], x["w"], x["b"], activation=act, policy=c.policy),
                integrated=lambda c, x: into(c, "linear_into", (batch, fout), x["x"], x["w"], x["b"], activation=act),
                torch=lambda T, x: tact(T, T.F.linear(x["x"], x["w"], x["b"])),
                numpy=lambda x: npact(ref.linear(x["x"], x["w"], x["b"])),
                precisions=precisions, quick=quick, table=table)


def _mlp_lc(c, x, n, act, fused):
    L, pol, h = c.L, c.policy, x["x"]
    for i in range(n):
        last = i == n - 1
        if fused and not last:
            h = L.linear(h, x[f"w{i}"], x[f"b{i}"], activation=act, policy=pol)
        else:
            h = L.linear(h, x[f"w{i}"], x[f"b{i}"], policy=pol)
            h = h if last else getattr(L, act)(h, policy=pol)
    return h


def mlp(suite, batch, sizes, act="relu", quick=False):
    x = {"x": P(batch, sizes[0])}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        x[f"w{i}"], x[f"b{i}"] = W(b, a), P(b)
    n = len(sizes) - 1
    npact = {"relu": ref.relu, "gelu": ref.gelu}[act]

    def npf(x):
        h = x["x"]
        for i in range(n):
            h = ref.linear(h, x[f"w{i}"], x[f"b{i}"])
            h = h if i == n - 1 else npact(h)
        return h

    def tf(T, x):
        h = x["x"]
        for i in range(n):
            h = T.F.linear(h, x[f"w{i}"], x[f"b{i}"])
            h = h if i == n - 1 else getattr(T.F, act)(h)
        return h
    return Case(suite, f"MLP {'-'.join(map(str, sizes))} batch={batch} {act}", "mlp", x, ((batch, sizes[-1]),),
                sum(2.0 * batch * a * b for a, b in zip(sizes, sizes[1:])),
                lc=lambda c, x: _mlp_lc(c, x, n, act, False), integrated=lambda c, x: _mlp_lc(c, x, n, act, True),
                torch=tf, numpy=npf, quick=quick, note="integrated: linear with the activation epilogue")


def rnn(suite, kind, t, b, i, h, quick=False):
    g = {"lstm": 4, "lstm_cell": 4, "gru_cell": 3}[kind]
    k = 1 / math.sqrt(h)
    x = {"x": P(t, b, i) if kind == "lstm" else P(b, i), "h": P(b, h)}
    if kind != "gru_cell":
        x["c"] = P(b, h)
    x.update(w_ih=P(g * h, i, scale=k), w_hh=P(g * h, h, scale=k), b_ih=P(g * h, scale=k), b_hh=P(g * h, scale=k))
    names = ("w_ih", "w_hh", "b_ih", "b_hh")
    state = ("h",) if kind == "gru_cell" else ("h", "c")
    npf = {"lstm": ref.lstm, "lstm_cell": ref.lstm_cell, "gru_cell": ref.gru_cell}[kind]
    outs = {"lstm": ((t, b, h), (b, h), (b, h)), "lstm_cell": ((b, h), (b, h)), "gru_cell": ((b, h),)}[kind]
    name = {"lstm": f"LSTM T={t} B={b} I={i} H={h}", "lstm_cell": f"LSTM cell B={b} I={i} H={h}",
            "gru_cell": f"GRU cell B={b} I={i} H={h}"}[kind]
    return Case(suite, name, "rnn", x, outs, (t if kind == "lstm" else 1) * 2.0 * b * g * h * (i + h),
                lc=lambda c, x: getattr(c.L, kind)(x["x"], *(x[s] for s in state), *(x[n] for n in names),
                                                   policy=c.policy),
                torch=lambda T, x: ref.t_rnn(T, kind, x["x"], x["h"], x.get("c"), *(x[n] for n in names)),
                numpy=lambda x: npf(x["x"], *(x[s] for s in state), *(x[n] for n in names)), quick=quick)


def ml_cases():
    s = "ml"
    return [linear(s, 4096, 1024, 1024, quick=True, table=True),
            linear(s, 1, 1024, 1024, quick=True), linear(s, 32, 1024, 1024),
            linear(s, 256, 784, 256, "relu"), linear(s, 1024, 4096, 4096), linear(s, 8192, 1024, 4096, "gelu"),
            mlp(s, 256, (784, 512, 256, 10), quick=True), mlp(s, 64, (1024, 4096, 1024), "gelu"),
            rnn(s, "lstm", 32, 16, 128, 256, quick=True), rnn(s, "lstm", 128, 64, 512, 512),
            rnn(s, "lstm_cell", 1, 64, 512, 512), rnn(s, "gru_cell", 1, 64, 512, 512, quick=True)]


# ---- DL -------------------------------------------------------------------------------------
def _block_params(d, ffn_mult=4):
    f = ffn_mult * d
    return {"ln1_w": P(d), "ln1_b": P(d), "wq": W(d, d), "wk": W(d, d), "wv": W(d, d), "wo": W(d, d),
            "bo": P(d), "ln2_w": P(d), "ln2_b": P(d), "w1": W(f, d), "b1": P(f), "w2": W(d, f), "b2": P(d)}


def transformer(suite, b, s, d, heads, causal=False, precisions=("fp32", "bf16"), quick=False):
    x = {"x": P(b, s, d), **_block_params(d)}
    name = f"transformer block B={b} S={s} D={d} H={heads}" + (" causal" if causal else "")
    return Case(suite, name, "transformer", x, ((b, s, d),),
                24.0 * b * s * d * d + 4.0 * b * s * s * d * (0.5 if causal else 1),
                lc=lambda c, x: lp.transformer_block(c, x, heads, causal),
                lc_inputs=lambda p: lp.attention_layouts(p, heads),
                torch=lambda T, x: ref.t_transformer_block(T, x, heads, causal),
                numpy=lambda x: ref.transformer_block(x, heads, causal), precisions=precisions, quick=quick,
                note="pre-norm encoder block, QKV without bias, GELU FFN")


def vlm(suite, img, patch, d, heads, text, quick=False):
    t = (img // patch) ** 2
    x = {"image": P(1, 3, img, img), "w_pe": P(d, 3, patch, patch, scale=1 / math.sqrt(3 * patch * patch)),
         "b_pe": P(d), "text": P(1, text, d), **_block_params(d)}
    flops = (2.0 * t * d * 3 * patch * patch + 4.0 * text * d * d + 4.0 * t * d * d
             + 4.0 * text * t * d + 16.0 * text * d * d)
    return Case(suite, f"VLM block image={img} patch={patch} D={d} H={heads} text={text}", "vlm", x,
                ((1, text, d),), flops,
                lc=lambda c, x: lp.vlm_block(c, x, heads, patch),
                lc_inputs=lambda p: lp.attention_layouts(p, heads),
                torch=lambda T, x: ref.t_vlm_block(T, x, heads, patch),
                numpy=lambda x: ref.vlm_block(x, heads, patch), precisions=("fp32", "bf16"), quick=quick,
                note="patch-embed conv, text->image cross-attention, GELU FFN")


def small_cnn(suite, batch, quick=False):
    x = {"x": P(batch, 3, 32, 32), "w1": P(32, 3, 3, 3, scale=1 / math.sqrt(27)), "b1": P(32),
         "w2": P(64, 32, 3, 3, scale=1 / math.sqrt(288)), "b2": P(64), "wf": W(10, 64 * 8 * 8), "bf": P(10)}
    flops = 2.0 * batch * (32 * 32 * 32 * 27 + 64 * 16 * 16 * 288 + 4096 * 10)
    return Case(suite, f"small CNN batch={batch} 3x32x32", "cnn", x, ((batch, 10),), flops,
                lc=lambda c, x: lp.small_cnn(c, x, False), integrated=lambda c, x: lp.small_cnn(c, x, True),
                torch=ref.t_small_cnn, numpy=ref.small_cnn, quick=quick,
                note="2 x (conv3x3 + ReLU + maxpool) + linear; integrated: conv_relu_nchw")


def dl_cases():
    s = "dl"
    cases = [gemm(s, n, n, n, sweep=True, quick=n == 256) for n in (64, 128, 256, 512, 1024, 2048, 4096, 8192)]
    cases += [gemm(s, m, k, n, sweep=True) for m, k, n in ((4096, 1024, 4096), (4096, 4096, 1024),
                                                          (1024, 4096, 4096), (4096, 512, 4096),
                                                          (4096, 2048, 4096), (8192, 1024, 8192))]
    cases += [transformer(s, 1, 128, 256, 4, quick=True), transformer(s, 1, 128, 256, 4, causal=True),
              transformer(s, 8, 512, 1024, 16), vlm(s, 64, 16, 128, 4, 16, quick=True), vlm(s, 224, 16, 384, 6, 64),
              small_cnn(s, 8, quick=True), small_cnn(s, 64)]
    return cases


def smoke_cases():
    """A tiny suite for tests and a first look: finishes in seconds on any machine."""
    s = "smoke"
    return [gemm(s, 64, 64, 64, ("fp32",), quick=True), attention2d(s, 8, 16, quick=True),
            elementwise(s, "add", 4096, quick=True)]


BUILDERS = {"kernel": kernel_cases, "pipeline": pipeline_cases, "ml": ml_cases, "dl": dl_cases,
            "smoke": smoke_cases}


def suite_cases(suite: str, quick: bool, pattern: Optional[str] = None):
    """The cases of one suite (the quick subset with ``quick``), filtered by a regex on the name."""
    import re
    cases = [c for c in BUILDERS[suite]() if c.quick or not quick]
    if pattern:
        rx = re.compile(pattern, re.IGNORECASE)
        cases = [c for c in cases if rx.search(c.name)]
    return cases
