"""Conv family: conv2d_nchw (stride, padding, dilation, groups, bias, fused ReLU), max_pool2d
and avg_pool2d, against float64 NumPy references (no PyTorch)."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import lightning_core as lc
from conftest import FP32_TOL, poisoned, rand, rel_err


# ---- references ------------------------------------------------------------------------------
def conv_out_hw(h, w, kh, kw, stride=(1, 1), pad=(0, 0), dil=(1, 1)):
    return ((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1,
            (w + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1)


def conv_ref(x, w, b=None, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, relu=False):
    """Cross-correlation with zero padding, as torch.nn.functional.conv2d, in float64."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dil
    oh, ow = conv_out_hw(h, wd, kh, kw, stride, pad, dil)
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]  # (N,Cg,OH,OW)
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return np.maximum(out, 0) if relu else out


def pool_ref(x, kh, kw, sh=0, sw=0, ph=0, pw=0, kind="max", count_include_pad=True):
    """torch's max_pool2d / avg_pool2d (ceil_mode=False) in float64."""
    x = np.asarray(x, np.float64)
    sh, sw = sh or kh, sw or kw
    _, _, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :oh, :ow]
    if kind == "max":
        return win.max(axis=(-2, -1))
    total = win.sum(axis=(-2, -1))
    if count_include_pad:
        return total / (kh * kw)
    ones = np.pad(np.ones((h, w)), ((ph, ph), (pw, pw)))
    count = sliding_window_view(ones, (kh, kw))[::sh, ::sw][:oh, :ow].sum(axis=(-2, -1))
    return total / count


def raises(exc, op):
    return pytest.raises(exc, match=re.escape(f"[{op}]"))


def conv_call(x, w, b, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, relu=False):
    f = lc.conv_relu_nchw if relu else lc.conv2d_nchw
    return f(x, w, b, stride[0], stride[1], pad[0], pad[1], device="cpu", dilation_h=dil[0],
             dilation_w=dil[1], groups=groups)


# ---- conv: values ----------------------------------------------------------------------------
# (x shape, weight shape, stride, pad, dilation, groups); sizes off every block size, and both
# the direct and the im2col + gemm paths, single- and multi-threaded.
CONV_CASES = [
    ((1, 3, 16, 16), (16, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),       # the benchmark case
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((3, 2, 7, 5), (3, 2, 3, 2), (1, 1), (0, 0), (1, 1), 1),
    ((2, 5, 17, 33), (7, 5, 3, 3), (2, 1), (1, 2), (1, 1), 1),
    ((1, 5, 21, 23), (7, 5, 3, 2), (2, 3), (2, 0), (2, 3), 1),
    ((3, 4, 9, 9), (6, 2, 3, 3), (3, 3), (0, 0), (1, 1), 2),
    ((2, 17, 33, 31), (17, 1, 3, 3), (1, 1), (1, 1), (1, 1), 17),     # depthwise
    ((1, 6, 13, 11), (12, 1, 5, 5), (1, 1), (2, 2), (2, 1), 6),       # depthwise multiplier 2
    ((1, 2, 5, 400), (3, 2, 1, 3), (1, 1), (0, 7), (1, 150), 1),      # wide dilation
    ((1, 3, 65, 1), (4, 3, 7, 1), (1, 1), (3, 0), (1, 1), 1),
    ((2, 33, 17, 19), (65, 33, 3, 3), (1, 1), (1, 1), (1, 1), 1),     # im2col + gemm
    ((1, 65, 33, 17), (127, 65, 1, 1), (1, 1), (0, 0), (1, 1), 1),    # 1x1: gemm on x itself
    ((1, 64, 17, 17), (64, 32, 3, 3), (1, 1), (1, 1), (1, 1), 2),     # grouped gemm
    ((2, 16, 31, 29), (48, 16, 5, 5), (2, 2), (2, 2), (1, 1), 1),
    ((1, 40, 23, 21), (33, 40, 3, 3), (2, 1), (1, 0), (2, 2), 1),
    ((1, 32, 65, 67), (32, 1, 3, 3), (1, 1), (1, 1), (1, 1), 32),     # threaded direct
    ((7, 3, 33, 35), (17, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),       # threaded direct, batch
    ((2, 3, 131, 67), (8, 3, 3, 3), (2, 2), (1, 0), (1, 1), 1),       # threaded direct, strided
    ((1, 64, 10, 32), (16, 64, 3, 3), (1, 1), (1, 1), (1, 1), 1),     # long reduction: gemm
]


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("xs,ws,stride,pad,dil,groups", CONV_CASES)
def test_conv2d(rng, xs, ws, stride, pad, dil, groups, relu):
    x, w, b = rand(rng, *xs), rand(rng, *ws), rand(rng, ws[0])
    ref = conv_ref(x, w, b, stride, pad, dil, groups, relu)
    y = conv_call(x, w, b, stride, pad, dil, groups, relu)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert rel_err(y, ref) <= FP32_TOL
    out = poisoned(ref.shape)
    into = lc.conv_relu_nchw_into if relu else lc.conv2d_nchw_into
    assert into(x, w, b, out, *stride, *pad, dilation_h=dil[0], dilation_w=dil[1],
                groups=groups, device="cpu") is None
    assert rel_err(out, ref) <= FP32_TOL


@pytest.mark.parametrize("xs,ws,stride,pad,dil,groups", [CONV_CASES[0], CONV_CASES[10]])
def test_conv2d_without_bias(rng, xs, ws, stride, pad, dil, groups):
    x, w = rand(rng, *xs), rand(rng, *ws)
    ref = conv_ref(x, w, None, stride, pad, dil, groups)
    assert rel_err(conv_call(x, w, None, stride, pad, dil, groups), ref) <= FP32_TOL
    out = poisoned(ref.shape)
    lc.conv2d_nchw_into(x, w, None, out, *stride, *pad, "cpu", None, *dil, groups)
    assert rel_err(out, ref) <= FP32_TOL


def test_seed_conv2d_example():
    # README section 22, on the CPU.
    x = np.random.rand(1, 3, 16, 16).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32)
    b = np.random.rand(16).astype(np.float32)
    y = lc.conv2d_nchw(x, w, b, 1, 1, 1, 1, "cpu")
    assert y.shape == (1, 16, 16, 16)
    assert rel_err(y, conv_ref(x, w, b, pad=(1, 1))) <= FP32_TOL


def test_seed_conv_relu_example():
    # README section 24, on the CPU.
    x = np.random.rand(1, 3, 8, 8).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32) - 0.5
    b = np.random.rand(16).astype(np.float32) - 0.5
    y = lc.api.conv_relu_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=1, pad_w=1, device="cpu")
    ref = conv_ref(x, w, b, pad=(1, 1), relu=True)
    assert y.shape == (1, 16, 8, 8) and (ref == 0).any() and (ref > 0).any()
    assert rel_err(y, ref) <= FP32_TOL


def test_conv_positional_and_keyword_forms(rng):
    x, w, b = rand(rng, 2, 4, 9, 8), rand(rng, 6, 2, 3, 3), rand(rng, 6)
    ref = conv_ref(x, w, b, (2, 1), (1, 2), (2, 1), groups=2)
    y = lc.conv2d_nchw(x, w, b, 2, 1, 1, 2, "cpu", None, dilation_h=2, dilation_w=1, groups=2)
    assert rel_err(y, ref) <= FP32_TOL
    y = lc.api.conv2d_nchw(x=x, weight=w, bias=b, stride_h=2, pad_h=1, pad_w=2, dilation_h=2,
                           groups=2, policy=lc.Policy(device="cpu"))
    assert rel_err(y, ref) <= FP32_TOL
    y = lc.conv_relu_nchw(x, w, b, 2, 1, 1, 2, 2, 1, 2, "cpu")
    assert rel_err(y, np.maximum(ref, 0)) <= FP32_TOL
    out = poisoned(ref.shape)
    lc.conv2d_nchw_into(x, w, b, out, 2, 1, 1, 2, "cpu", None, 2, 1, 2)
    assert rel_err(out, ref) <= FP32_TOL
    with pytest.raises(TypeError):  # dilation/groups are keyword-only in conv2d_nchw
        lc.conv2d_nchw(x, w, b, 2, 1, 1, 2, "cpu", None, 2)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_conv2d_hypothesis(data):
    d = data.draw
    groups, cg, og = d(st.integers(1, 3)), d(st.integers(0, 4)), d(st.integers(1, 4))
    n, h, w = d(st.integers(0, 3)), d(st.integers(1, 12)), d(st.integers(1, 12))
    kh, kw = d(st.integers(1, 4)), d(st.integers(1, 4))
    stride = (d(st.integers(1, 3)), d(st.integers(1, 3)))
    pad = (d(st.integers(0, 2)), d(st.integers(0, 2)))
    dil = (d(st.integers(1, 3)), d(st.integers(1, 3)))
    relu, has_bias = d(st.booleans()), d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x, wt = rand(rng, n, cg * groups, h, w), rand(rng, og * groups, cg, kh, kw)
    b = rand(rng, og * groups) if has_bias else None
    if (kh - 1) * dil[0] + 1 > h + 2 * pad[0] or (kw - 1) * dil[1] + 1 > w + 2 * pad[1]:
        with raises(ValueError, "conv2d_nchw"):
            conv_call(x, wt, b, stride, pad, dil, groups, relu)
        return
    ref = conv_ref(x, wt, b, stride, pad, dil, groups, relu)
    y = conv_call(x, wt, b, stride, pad, dil, groups, relu)
    assert y.shape == ref.shape
    assert rel_err(y, ref) <= FP32_TOL


def test_conv_accepts_strided_and_negative_stride_inputs(rng):
    xb, wb, bb = rand(rng, 2, 3, 13, 22), rand(rng, 10, 3, 3, 6), rand(rng, 10)
    x, w, b = xb[:, :, ::-1, ::2], wb[::2, :, ::-1, ::2], bb[::-2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous and not b.flags.c_contiguous
    ref = conv_ref(x, w, b, pad=(1, 0))
    assert rel_err(lc.conv2d_nchw(x, w, b, 1, 1, 1, 0, "cpu"), ref) <= FP32_TOL
    xt = np.ascontiguousarray(rand(rng, 2, 13, 11, 3)).transpose(0, 3, 1, 2)  # NHWC memory
    assert rel_err(lc.conv2d_nchw(xt, w, None, device="cpu"), conv_ref(xt, w)) <= FP32_TOL


def test_conv_into_aliasing_input_reads_the_original(rng):
    x, w, b = rand(rng, 1, 4, 9, 9), rand(rng, 4, 4, 3, 3), rand(rng, 4)
    ref = conv_ref(x, w, b, pad=(1, 1))
    lc.conv2d_nchw_into(x, w, b, x, 1, 1, 1, 1, "cpu")
    assert rel_err(x, ref) <= FP32_TOL


@pytest.mark.parametrize("xs,ws,pad", [((0, 3, 5, 5), (4, 3, 3, 3), (1, 1)),   # empty batch
                                       ((2, 3, 5, 5), (0, 3, 3, 3), (0, 0)),   # no outputs
                                       ((2, 0, 5, 4), (3, 0, 3, 3), (1, 0)),   # no inputs: bias
                                       ((1, 2, 0, 3), (3, 2, 1, 2), (1, 0))])  # only padding
def test_conv_zero_size(rng, xs, ws, pad):
    x, w, b = rand(rng, *xs), rand(rng, *ws), rand(rng, ws[0])
    ref = conv_ref(x, w, b, pad=pad)
    for relu in (False, True):
        y = conv_call(x, w, b, pad=pad, relu=relu)
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, np.maximum(ref, 0) if relu else ref, rtol=1e-6, atol=1e-6)
    out = poisoned(ref.shape)
    lc.conv2d_nchw_into(x, w, b, out, 1, 1, *pad, "cpu")
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("xs,ws", [((1, 3, 16, 16), (16, 3, 3, 3)),        # direct
                                   ((1, 33, 17, 19), (65, 33, 3, 3))])     # im2col + gemm
def test_conv_nan_inf_propagate(rng, xs, ws, relu):
    x, w, b = rand(rng, *xs), rand(rng, *ws), rand(rng, ws[0])
    x[0, 1, 5, 7] = np.nan
    ref = conv_ref(x, w, b, pad=(1, 1), relu=relu)
    y = conv_call(x, w, b, pad=(1, 1), relu=relu)
    assert np.isnan(ref).sum() == 9 * ws[0]
    assert rel_err(y, ref) <= FP32_TOL  # inf when the NaN positions differ
    xp, wp = np.abs(x), np.abs(w) + 0.01  # all terms positive: +inf stays +inf
    xp[0, 1, 5, 7] = np.inf
    ref = conv_ref(xp, wp, np.abs(b), pad=(1, 1), relu=relu)
    y = conv_call(xp, wp, np.abs(b), pad=(1, 1), relu=relu)
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ref))
    fin = np.isfinite(ref)
    assert rel_err(y[fin], ref[fin]) <= FP32_TOL


# ---- conv: contract --------------------------------------------------------------------------
def conv_valid(rng):
    return rand(rng, 2, 4, 7, 6), rand(rng, 6, 2, 3, 3), rand(rng, 6)  # groups=2, pad 1


BAD_ARRAYS = [
    (TypeError, lambda a: a.astype(np.int32)),
    (TypeError, lambda a: a.astype(np.float16)),
    (TypeError, lambda a: a > 0),
    (TypeError, lambda a: a.astype(object)),
    (TypeError, lambda a: a.astype(np.float64)),
    (TypeError, lambda a: a.tolist()),
    (TypeError, lambda a: "x"),
    (ValueError, lambda a: a[0]),           # rank - 1
    (ValueError, lambda a: a[None]),        # rank + 1
]


@pytest.mark.parametrize("arg", [0, 1, 2])
@pytest.mark.parametrize("exc,bad", BAD_ARRAYS)
def test_conv_bad_arrays(rng, arg, exc, bad):
    args = list(conv_valid(rng))
    args[arg] = bad(args[arg])
    with raises(exc, "conv2d_nchw"):
        lc.conv2d_nchw(*args, 1, 1, 1, 1, "cpu", groups=2)
    out = poisoned((2, 6, 7, 6))
    with raises(exc, "conv2d_nchw_into"):
        lc.conv2d_nchw_into(args[0], args[1], args[2], out, 1, 1, 1, 1, "cpu", groups=2)
    assert np.isnan(out).all()


@pytest.mark.parametrize("arg", [0, 1])
def test_conv_none_arrays(rng, arg):
    args = list(conv_valid(rng))
    args[arg] = None
    with raises(TypeError, "conv2d_nchw"):
        lc.conv2d_nchw(*args, 1, 1, 1, 1, "cpu", groups=2)


BAD_CONV = [  # (x shape, weight shape, bias shape, kwargs)
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=3)),          # C % groups
    ((2, 4, 7, 6), (5, 2, 3, 3), (5,), dict(groups=2)),          # O % groups
    ((2, 4, 7, 6), (6, 4, 3, 3), (6,), dict(groups=2)),          # weight's C/groups
    ((2, 4, 7, 6), (6, 3, 3, 3), (6,), dict(groups=1)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (5,), dict(groups=2)),          # bias length
    ((2, 4, 7, 6), (6, 2, 3, 3), (6, 1), dict(groups=2)),        # bias rank
    ((2, 4, 7, 6), (6, 2, 0, 3), (6,), dict(groups=2)),          # empty kernel
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, stride_h=0)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, stride_w=-1)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, pad_h=-1)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, dilation_h=0)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, dilation_w=-2)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=0)),
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=-2)),
    ((2, 4, 2, 6), (6, 2, 3, 3), (6,), dict(groups=2)),          # kernel taller than input
    ((2, 4, 7, 6), (6, 2, 3, 3), (6,), dict(groups=2, dilation_w=4)),  # 9 > 6 dilated
    ((2, 4, 3, 1), (6, 2, 3, 3), (6,), dict(groups=2, pad_w=0, pad_h=1)),
]


@pytest.mark.parametrize("xs,ws,bs,kw", BAD_CONV)
def test_conv_bad_shapes_and_params(rng, xs, ws, bs, kw):
    x, w, b = rand(rng, *xs), rand(rng, *ws), rand(rng, *bs)
    with raises(ValueError, "conv2d_nchw"):
        lc.conv2d_nchw(x, w, b, device="cpu", **kw)
    with raises(ValueError, "conv2d_nchw"):
        lc.conv_relu_nchw(x, w, b, device="cpu", **kw)
    out = poisoned((2, 6, 5, 4))
    with raises(ValueError, "conv2d_nchw_into"):
        lc.conv2d_nchw_into(x, w, b, out, device="cpu", **kw)
    assert np.isnan(out).all()


def test_conv_kernel_fits_only_with_padding(rng):
    x, w = rand(rng, 1, 1, 2, 2), rand(rng, 1, 1, 3, 3)
    with raises(ValueError, "conv2d_nchw"):
        lc.conv2d_nchw(x, w, None, 1, 1, 0, 0, "cpu")
    y = lc.conv2d_nchw(x, w, None, 1, 1, 1, 1, "cpu")
    assert rel_err(y, conv_ref(x, w, pad=(1, 1))) <= FP32_TOL


BAD_OUTS = [
    (ValueError, lambda: poisoned((2, 6, 7, 5))),
    (ValueError, lambda: poisoned((2, 6, 7 * 6))),
    (TypeError, lambda: poisoned((2, 6, 7, 6), np.float64)),
    (TypeError, lambda: np.zeros((2, 6, 7, 6), np.int32)),
    (ValueError, lambda: poisoned((2, 6, 7, 12))[..., ::2]),
    (ValueError, lambda: np.asfortranarray(poisoned((2, 6, 7, 6)))),
    (TypeError, lambda: None),
    (TypeError, lambda: [[0.0]]),
]


@pytest.mark.parametrize("exc,make", BAD_OUTS)
def test_conv_bad_out(rng, exc, make):
    x, w, b = conv_valid(rng)
    out = make()
    before = None if not isinstance(out, np.ndarray) else out.copy()
    with raises(exc, "conv2d_nchw_into"):
        lc.conv2d_nchw_into(x, w, b, out, 1, 1, 1, 1, "cpu", groups=2)
    if before is not None:
        np.testing.assert_array_equal(out, before)


def test_conv_read_only_out(rng):
    x, w, b = conv_valid(rng)
    out = poisoned((2, 6, 7, 6))
    out.flags.writeable = False
    with raises(ValueError, "conv2d_nchw_into"):
        lc.conv2d_nchw_into(x, w, b, out, 1, 1, 1, 1, "cpu", groups=2)
    assert np.isnan(out).all()


def test_conv_bad_param_types(rng):
    x, w, b = conv_valid(rng)
    with pytest.raises(TypeError):
        lc.conv2d_nchw(x, w, b, 1.5, 1, 1, 1, "cpu", groups=2)
    with pytest.raises(ValueError, match="device"):
        lc.conv2d_nchw(x, w, b, 1, 1, 1, 1, "tpu", groups=2)


# ---- pooling ---------------------------------------------------------------------------------
POOL_CASES = [  # (x shape, kernel, stride, pad)
    ((1, 1, 2, 2), (2, 2), (0, 0), (0, 0)),
    ((2, 3, 17, 33), (2, 2), (0, 0), (0, 0)),
    ((2, 3, 17, 33), (3, 3), (2, 2), (1, 1)),
    ((1, 5, 7, 65), (3, 2), (1, 3), (1, 1)),
    ((3, 2, 9, 9), (5, 5), (1, 1), (2, 2)),
    ((1, 2, 1, 127), (1, 7), (1, 2), (0, 3)),
    ((2, 65, 67, 69), (3, 3), (2, 1), (1, 0)),  # threaded
]


@pytest.mark.parametrize("kind", ["max", "avg_pad", "avg_nopad"])
@pytest.mark.parametrize("xs,k,s,p", POOL_CASES)
def test_pool2d(rng, xs, k, s, p, kind):
    x = rand(rng, *xs)
    args = (*k, *s, *p)
    if kind == "max":
        ref = pool_ref(x, *args, kind="max")
        y, into = lc.max_pool2d(x, *args, device="cpu"), lc.max_pool2d_into
        extra = {}
    else:
        include = kind == "avg_pad"
        ref = pool_ref(x, *args, kind="avg", count_include_pad=include)
        y = lc.avg_pool2d(x, *args, count_include_pad=include, device="cpu")
        into, extra = lc.avg_pool2d_into, dict(count_include_pad=include)
    assert y.dtype == np.float32 and y.shape == ref.shape
    assert rel_err(y, ref) <= FP32_TOL
    out = poisoned(ref.shape)
    assert into(x, out, *args, device="cpu", **extra) is None
    assert rel_err(out, ref) <= FP32_TOL


def test_pool_defaults_and_padding_divisor(rng):
    x = rand(rng, 1, 2, 6, 6)
    assert rel_err(lc.max_pool2d(x, 2, 2), pool_ref(x, 2, 2)) <= FP32_TOL  # stride = kernel
    ones = np.ones((1, 1, 4, 4), np.float32)
    y = lc.avg_pool2d(ones, 3, 3, 1, 1, 1, 1, True, "cpu")
    assert y[0, 0, 0, 0] == pytest.approx(4 / 9) and y[0, 0, 1, 1] == 1
    y = lc.avg_pool2d(ones, 3, 3, 1, 1, 1, 1, False, "cpu")
    np.testing.assert_array_equal(y, 1)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_pool2d_hypothesis(data):
    d = data.draw
    kh, kw = d(st.integers(1, 4)), d(st.integers(1, 4))
    n, c, h, w = d(st.integers(0, 2)), d(st.integers(0, 3)), d(st.integers(1, 11)), d(st.integers(1, 11))
    sh, sw = d(st.integers(0, 3)), d(st.integers(0, 3))
    ph, pw = d(st.integers(0, kh // 2)), d(st.integers(0, kw // 2))
    kind, include = d(st.sampled_from(["max", "avg"])), d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x = rand(rng, n, c, h, w)
    args = (kh, kw, sh, sw, ph, pw)
    f = (lambda: lc.max_pool2d(x, *args, "cpu")) if kind == "max" else (
        lambda: lc.avg_pool2d(x, *args, include, "cpu"))
    if kh > h + 2 * ph or kw > w + 2 * pw:
        with raises(ValueError, f"{kind}_pool2d"):
            f()
        return
    ref = pool_ref(x, *args, kind=kind, count_include_pad=include)
    y = f()
    assert y.shape == ref.shape
    assert rel_err(y, ref) <= FP32_TOL


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_nan_inf(rng, kind):
    x = rand(rng, 1, 2, 8, 8)
    x[0, 0, 3, 3], x[0, 1, 0, 0], x[0, 1, 6, 6] = np.nan, np.inf, -np.inf
    f = lc.max_pool2d if kind == "max" else lc.avg_pool2d
    y = f(x, 3, 3, 1, 1, 1, 1, device="cpu")
    ref = pool_ref(x, 3, 3, 1, 1, 1, 1, kind=kind)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    assert np.isnan(y).sum() == 9
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(ref))
    fin = np.isfinite(ref)
    assert rel_err(y[fin], ref[fin]) <= FP32_TOL


def test_pool_zero_batch_and_channels(rng):
    for shape in [(0, 3, 6, 6), (2, 0, 6, 6)]:
        x = rand(rng, *shape)
        assert lc.max_pool2d(x, 2, 2, device="cpu").shape == shape[:2] + (3, 3)
        out = np.empty(shape[:2] + (3, 3), np.float32)
        lc.avg_pool2d_into(x, out, 2, 2, device="cpu")


def test_pool_strided_inputs(rng):
    xb = rand(rng, 2, 6, 10, 16)
    x = xb[:, ::-2, :, ::2]
    assert rel_err(lc.max_pool2d(x, 3, 2, 1, 2, 1, 1), pool_ref(x, 3, 2, 1, 2, 1, 1)) <= FP32_TOL
    assert rel_err(lc.avg_pool2d(x, 3, 2), pool_ref(x, 3, 2, kind="avg")) <= FP32_TOL


BAD_POOL = [  # (x shape, (kh, kw, sh, sw, ph, pw))
    ((1, 2, 6, 6), (0, 2, 0, 0, 0, 0)),
    ((1, 2, 6, 6), (2, -1, 0, 0, 0, 0)),
    ((1, 2, 6, 6), (2, 2, -1, 0, 0, 0)),
    ((1, 2, 6, 6), (2, 2, 0, -2, 0, 0)),
    ((1, 2, 6, 6), (2, 2, 0, 0, -1, 0)),
    ((1, 2, 6, 6), (2, 2, 0, 0, 2, 0)),      # pad > kernel / 2
    ((1, 2, 6, 6), (3, 3, 1, 1, 0, 2)),
    ((1, 2, 2, 6), (4, 2, 0, 0, 0, 0)),      # kernel larger than the (padded) input
    ((1, 2, 0, 6), (2, 2, 0, 0, 1, 0)),      # empty H
    ((2, 6, 6), (2, 2, 0, 0, 0, 0)),         # rank 3
    ((1, 1, 2, 6, 6), (2, 2, 0, 0, 0, 0)),   # rank 5
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("xs,args", BAD_POOL)
def test_pool_bad_params(rng, kind, xs, args):
    x = rand(rng, *xs)
    f, into = ((lc.max_pool2d, lc.max_pool2d_into) if kind == "max"
               else (lc.avg_pool2d, lc.avg_pool2d_into))
    with raises(ValueError, f"{kind}_pool2d"):
        f(x, *args, device="cpu")
    out = poisoned((1, 2, 3, 3))
    with raises(ValueError, f"{kind}_pool2d_into"):
        into(x, out, *args, device="cpu")
    assert np.isnan(out).all()


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("exc,bad", BAD_ARRAYS[:7] + [(TypeError, lambda a: None)])
def test_pool_bad_arrays(rng, kind, exc, bad):
    x = bad(rand(rng, 1, 2, 6, 6))
    f, into = ((lc.max_pool2d, lc.max_pool2d_into) if kind == "max"
               else (lc.avg_pool2d, lc.avg_pool2d_into))
    with raises(exc, f"{kind}_pool2d"):
        f(x, 2, 2)
    out = poisoned((1, 2, 3, 3))
    with raises(exc, f"{kind}_pool2d_into"):
        into(x, out, 2, 2)
    assert np.isnan(out).all()


@pytest.mark.parametrize("exc,make", [
    (ValueError, lambda: poisoned((1, 2, 3, 4))),
    (TypeError, lambda: poisoned((1, 2, 3, 3), np.float64)),
    (ValueError, lambda: poisoned((1, 2, 3, 6))[..., ::2]),
    (TypeError, lambda: None),
])
def test_pool_bad_out(rng, exc, make):
    x, out = rand(rng, 1, 2, 6, 6), make()
    before = None if out is None else out.copy()
    with raises(exc, "max_pool2d_into"):
        lc.max_pool2d_into(x, out, 2, 2)
    if before is not None:
        np.testing.assert_array_equal(out, before)
    ro = poisoned((1, 2, 3, 3))
    ro.flags.writeable = False
    with raises(ValueError, "avg_pool2d_into"):
        lc.avg_pool2d_into(x, ro, 2, 2)
