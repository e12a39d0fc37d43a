"""CUDA conv2d (direct kernel and cuDNN), pooling and recurrent cells against float64 NumPy
references and the CPU backend on the same inputs."""
import numpy as np
import pytest

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err, requires_gpu

pytestmark = [pytest.mark.gpu, requires_gpu]

TOL = {"fp32": FP32_TOL, "bf16": 2e-2, "fp16": 5e-3}


def cuda(precision="fp32"):
    return lc.Policy(device="cuda", precision=precision)


def cpu(precision="fp32"):
    return lc.Policy(device="cpu", precision=precision)


def conv_ref(x, w, b, stride=1, pad=0, dil=1, groups=1, relu=False):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, :, ky * dil: ky * dil + stride * (oh - 1) + 1: stride,
                           kx * dil: kx * dil + stride * (ow - 1) + 1: stride]
                out[:, g * og:(g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, ky, kx])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return np.maximum(out, 0) if relu else out


# (N, C, H, W, O, KH, KW, stride, pad, dilation, groups): the seed's tiny case (direct kernel),
# odd sizes, groups/dilation/stride, and one large enough for cuDNN.
CONVS = [
    (1, 3, 16, 16, 16, 3, 3, 1, 1, 1, 1),
    (2, 8, 17, 13, 12, 3, 5, 2, 2, 1, 4),
    (1, 4, 33, 31, 6, 3, 3, 1, 2, 2, 2),
    (1, 6, 7, 9, 6, 1, 1, 1, 0, 1, 6),
    (4, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1),
    (2, 32, 33, 35, 48, 5, 5, 2, 2, 1, 2),
]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("cfg", CONVS, ids=lambda c: "x".join(map(str, c)))
def test_conv2d_matches_float64_and_cpu(rng, cfg, relu, precision):
    n, c, h, w, o, kh, kw, s, p, d, g = cfg
    x, wt, b = rand(rng, n, c, h, w), rand(rng, o, c // g, kh, kw), rand(rng, o)
    ref = conv_ref(x, wt, b, s, p, d, g, relu)
    fn = lc.api.conv_relu_nchw if relu else lc.api.conv2d_nchw
    kw_args = dict(stride_h=s, stride_w=s, pad_h=p, pad_w=p, dilation_h=d, dilation_w=d, groups=g)
    out = fn(x, wt, b, policy=cuda(precision), **kw_args)
    assert rel_err(out, ref) <= TOL[precision]
    assert rel_err(out, fn(x, wt, b, policy=cpu(precision), **kw_args)) <= TOL[precision]


def test_conv2d_into_writes_every_element(rng):
    x, wt, b = rand(rng, 1, 3, 16, 16), rand(rng, 16, 3, 3, 3), rand(rng, 16)
    out = poisoned((1, 16, 16, 16))
    lc.conv2d_nchw_into(x, wt, b, out, 1, 1, 1, 1, policy=cuda())
    assert rel_err(out, conv_ref(x, wt, b, 1, 1)) <= FP32_TOL


def test_conv2d_nan_propagates_through_relu(rng):
    x, wt = rand(rng, 1, 2, 8, 8), rand(rng, 4, 2, 3, 3)
    x[0, 0, 4, 4] = np.nan
    out = lc.api.conv_relu_nchw(x, wt, None, pad_h=1, pad_w=1, policy=cuda())
    assert np.isnan(out[:, :, 4, 4]).all()


def pool_ref(x, k, s, p, kind, include_pad=True):
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - p, j * s - p
            win = x[:, :, max(y0, 0):min(y0 + k, h), max(x0, 0):min(x0 + k, w)]
            if kind == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = k * k if include_pad else win.shape[2] * win.shape[3]
                out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return out


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,s,p,include_pad", [(2, 2, 0, True), (3, 2, 1, True), (3, 2, 1, False), (3, 1, 1, False)])
def test_pool_matches_float64_and_cpu(rng, kind, k, s, p, include_pad):
    x = rand(rng, 2, 3, 17, 15)
    x[0, 1, 3, 4] = np.nan
    ref = pool_ref(x, k, s, p, kind, include_pad)
    if kind == "max":
        out, cpu_out = (lc.max_pool2d(x, k, k, s, s, p, p, policy=pol) for pol in (cuda(), cpu()))
    else:
        out, cpu_out = (lc.avg_pool2d(x, k, k, s, s, p, p, include_pad, policy=pol) for pol in (cuda(), cpu()))
    assert rel_err(out, ref) <= FP32_TOL
    assert rel_err(out, cpu_out) <= FP32_TOL


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("batch,inp,hidden", [(1, 3, 5), (7, 33, 17), (64, 128, 256)])
def test_lstm_cell_matches_float64_and_cpu(rng, batch, inp, hidden):
    x, h, c = rand(rng, batch, inp), rand(rng, batch, hidden), rand(rng, batch, hidden)
    w_ih, w_hh = rand(rng, 4 * hidden, inp), rand(rng, 4 * hidden, hidden)
    b_ih, b_hh = rand(rng, 4 * hidden), rand(rng, 4 * hidden)
    f64 = lambda a: np.asarray(a, np.float64)
    gates = f64(x) @ f64(w_ih).T + f64(b_ih) + f64(h) @ f64(w_hh).T + f64(b_hh)
    i, f, g, o = np.split(gates, 4, axis=1)
    c_ref = sigmoid(f) * f64(c) + sigmoid(i) * np.tanh(g)
    h_ref = sigmoid(o) * np.tanh(c_ref)
    h_new, c_new = lc.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, policy=cuda())
    assert rel_err(h_new, h_ref) <= FP32_TOL and rel_err(c_new, c_ref) <= FP32_TOL
    h_cpu, c_cpu = lc.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, policy=cpu())
    assert rel_err(h_new, h_cpu) <= FP32_TOL and rel_err(c_new, c_cpu) <= FP32_TOL


@pytest.mark.parametrize("batch,inp,hidden", [(1, 3, 5), (7, 33, 17), (64, 128, 256)])
def test_gru_cell_matches_float64_and_cpu(rng, batch, inp, hidden):
    x, h = rand(rng, batch, inp), rand(rng, batch, hidden)
    w_ih, w_hh = rand(rng, 3 * hidden, inp), rand(rng, 3 * hidden, hidden)
    b_ih, b_hh = rand(rng, 3 * hidden), rand(rng, 3 * hidden)
    f64 = lambda a: np.asarray(a, np.float64)
    gx = f64(x) @ f64(w_ih).T + f64(b_ih)
    gh = f64(h) @ f64(w_hh).T + f64(b_hh)
    r = sigmoid(gx[:, :hidden] + gh[:, :hidden])
    z = sigmoid(gx[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
    n = np.tanh(gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    ref = (1 - z) * n + z * f64(h)
    out = lc.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, policy=cuda())
    assert rel_err(out, ref) <= FP32_TOL
    assert rel_err(out, lc.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, policy=cpu())) <= FP32_TOL
