"""conv_attention_nchw and conv_attention_torchstrong_nchw against float64 NumPy compositions."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lightning_core as lc
from conftest import gpu_devices, FP32_TOL, rand, rel_err

DEVICES = ["cpu"] + gpu_devices()


@pytest.fixture(params=DEVICES)
def dev(request):
    """Every device present; host arrays in and out on each."""
    return request.param


# ---- float64 references --------------------------------------------------------------------
def ref_conv_relu(x, w, b=None, stride_h=1, stride_w=1, pad_h=0, pad_w=0, dilation_h=1,
                  dilation_w=1, groups=1):
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    w = np.asarray(w, np.float64)
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h - dilation_h * (kh - 1) - 1) // stride_h + 1
    ow = (wd - dilation_w * (kw - 1) - 1) // stride_w + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation_h, j * dilation_w
                patch = xs[:, :, r0:r0 + stride_h * (oh - 1) + 1:stride_h,
                           c0:c0 + stride_w * (ow - 1) + 1:stride_w]
                with np.errstate(invalid="ignore"):
                    out[:, g * og:(g + 1) * og] += np.einsum(
                        "ncij,oc->noij", patch, w[g * og:(g + 1) * og, :, i, j])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return np.maximum(out, 0)  # NaN stays NaN


def ref_attention(q, k, v, causal=False):
    sq, d = q.shape
    sk = k.shape[0]
    s = (q @ k.T) / np.sqrt(d)
    if causal:
        mask = np.arange(sk)[None, :] <= np.arange(sq)[:, None] + (sk - sq)
        s = np.where(mask, s, -np.inf)
    out = np.zeros((sq, v.shape[1]))
    for i in range(sq):
        if not np.isfinite(s[i]).any() and not np.isnan(s[i]).any():
            continue  # a row that sees no key yields zeros
        p = np.exp(s[i] - np.max(s[i]))
        out[i] = (p / p.sum()) @ v
    return out


def ref_conv_attention(x, w, b=None, causal=False, **conv):
    y = ref_conv_relu(x, w, b, **conv)
    n, c3, oh, ow = y.shape
    d = c3 // 3
    t = y.reshape(n, c3, oh * ow).transpose(0, 2, 1)  # (N, S, 3D)
    return np.stack([ref_attention(t[i, :, :d], t[i, :, d:2 * d], t[i, :, 2 * d:], causal)
                     for i in range(n)]) if n else np.zeros((0, oh * ow, d))


def ref_torchstrong(x, w, b, seq_len, head_dim, causal=False, **conv):
    flat = ref_conv_relu(x, w, b, **conv).reshape(-1)
    X = flat[np.arange(seq_len * head_dim) % flat.size].reshape(seq_len, head_dim)
    return ref_attention(X, X, X, causal)


# ---- conv_attention_nchw -------------------------------------------------------------------
CASES = [  # (N, C, H, W, D, KH, KW, conv params)
    (1, 1, 1, 1, 1, 1, 1, {}),
    (1, 3, 8, 8, 4, 3, 3, dict(pad_h=1, pad_w=1)),
    (2, 3, 7, 9, 5, 3, 2, dict(stride_h=2, pad_w=1)),
    (3, 4, 9, 6, 4, 2, 3, dict(dilation_h=2, groups=2)),
    (1, 6, 11, 5, 7, 3, 1, dict(stride_w=2, groups=3, pad_h=2)),
    (2, 2, 17, 3, 11, 1, 1, {}),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_attention_matches_composition(dev, rng, case, causal, with_bias):
    n, c, h, w_, d, kh, kw, conv = case
    groups = conv.get("groups", 1)
    x = rand(rng, n, c, h, w_)
    w = rand(rng, 3 * d, c // groups, kh, kw)
    b = rand(rng, 3 * d) if with_bias else None
    out = lc.conv_attention_nchw(x, w, b, causal=causal, device=dev, **conv)
    ref = ref_conv_attention(x, w, b, causal, **conv)
    assert out.shape == ref.shape and out.dtype == np.float32
    assert rel_err(out, ref) <= FP32_TOL


def test_conv_attention_positional_and_api_names(rng):
    x, w, b = rand(rng, 2, 3, 6, 5), rand(rng, 9, 3, 3, 3), rand(rng, 9)
    ref = ref_conv_attention(x, w, b, False, stride_h=1, stride_w=2, pad_h=1, pad_w=0)
    got = lc.conv_attention_nchw(x, w, b, 1, 2, 1, 0)
    assert rel_err(got, ref) <= FP32_TOL
    got = lc.api.conv_attention_nchw(x, w, b, stride_w=2, pad_h=1, policy=lc.Policy(device="cpu"))
    assert rel_err(got, ref) <= FP32_TOL


def test_conv_attention_split_mode_and_fused_refused(rng):
    x, w = rand(rng, 1, 2, 5, 5), rand(rng, 6, 2, 3, 3)
    ref = ref_conv_attention(x, w)
    assert rel_err(lc.conv_attention_nchw(x, w, policy=lc.Policy(device="cpu", mode="split")),
                   ref) <= FP32_TOL
    with pytest.raises(lc.NotSupportedError, match=r'^\[conv_attention_nchw\] expected mode'):
        lc.conv_attention_nchw(x, w, policy=lc.Policy(device="cpu", mode="fused"))
    with pytest.raises(lc.NotSupportedError, match=r'^\[conv_attention_torchstrong_nchw\] expected mode'):
        lc.conv_attention_torchstrong_nchw(x, w, None, 4, 4,
                                           policy=lc.Policy(device="cpu", mode="fused"))


# ---- conv_attention_torchstrong_nchw -------------------------------------------------------
@pytest.mark.parametrize("seq_len,head_dim", [
    (96, 48),   # the seed's: 4608 values drawn from L = 1024 (wraps 4.5 times)
    (16, 64),   # exactly L
    (7, 17),    # a prefix of flat
    (1, 1),
    (33, 65),
])
@pytest.mark.parametrize("causal", [False, True])
def test_torchstrong_matches_mod_rule(dev, rng, seq_len, head_dim, causal):
    x, w, b = rand(rng, 1, 3, 8, 8), rand(rng, 16, 3, 3, 3), rand(rng, 16)
    conv = dict(stride_h=1, stride_w=1, pad_h=1, pad_w=1)
    out = lc.conv_attention_torchstrong_nchw(x, w, b, seq_len, head_dim, causal=causal,
                                             device=dev, **conv)
    assert out.shape == (seq_len, head_dim) and out.dtype == np.float32
    assert rel_err(out, ref_torchstrong(x, w, b, seq_len, head_dim, causal, **conv)) <= FP32_TOL


def test_torchstrong_batch_and_groups(dev, rng):
    x, w = rand(rng, 3, 4, 5, 7), rand(rng, 6, 2, 2, 3)
    conv = dict(stride_h=2, pad_w=1, dilation_w=2, groups=2)
    out = lc.conv_attention_torchstrong_nchw(x, w, None, 29, 13, device=dev, **conv)
    assert rel_err(out, ref_torchstrong(x, w, None, 29, 13, **conv)) <= FP32_TOL


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9),
       d=st.integers(1, 6), k=st.integers(1, 3), pad=st.integers(0, 1), stride=st.integers(1, 2),
       seq=st.integers(0, 40), hd=st.integers(1, 20), causal=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_hypothesis_shapes(n, c, h, w, d, k, pad, stride, seq, hd, causal, seed):
    for dev in DEVICES:
        assume(h + 2 * pad >= k and w + 2 * pad >= k)
        rng = np.random.default_rng(seed)
        x, wt, b = rand(rng, n, c, h, w), rand(rng, 3 * d, c, k, k), rand(rng, 3 * d)
        conv = dict(stride_h=stride, stride_w=stride, pad_h=pad, pad_w=pad)
        out = lc.conv_attention_nchw(x, wt, b, causal=causal, device=dev, **conv)
        assert rel_err(out, ref_conv_attention(x, wt, b, causal, **conv)) <= FP32_TOL
        out = lc.conv_attention_torchstrong_nchw(x, wt, b, seq, hd, causal=causal, device=dev, **conv)
        assert rel_err(out, ref_torchstrong(x, wt, b, seq, hd, causal, **conv)) <= FP32_TOL


# ---- input forms, NaN, zero sizes ----------------------------------------------------------
def test_non_contiguous_and_negative_stride_inputs(dev, rng):
    x = rand(rng, 2, 3, 7, 12)[:, :, :, ::2]       # strided
    w = rand(rng, 3, 3, 3, 9)[..., ::-1].transpose(3, 1, 2, 0)[:, :, :3, :]  # (9, 3, 3, 3)
    w = w[:, :, :, :3]
    b = rand(rng, 18)[::-2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    ref = ref_conv_attention(x, w, b, pad_h=1, pad_w=1)
    assert rel_err(lc.conv_attention_nchw(x, w, b, pad_h=1, pad_w=1, device=dev), ref) <= FP32_TOL
    ref = ref_torchstrong(x, w, b, 50, 9, pad_h=1)
    got = lc.conv_attention_torchstrong_nchw(x, w, b, 50, 9, pad_h=1, device=dev)
    assert rel_err(got, ref) <= FP32_TOL


def test_nan_propagates(dev, rng):
    x, w = rand(rng, 2, 2, 4, 4), rand(rng, 6, 2, 1, 1)
    x[1, 0, 2, 3] = np.nan  # sample 1, one token: NaN in its K and V spreads to every query
    out = lc.conv_attention_nchw(x, w, device=dev)
    ref = ref_conv_attention(x, w)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    assert np.isnan(out[1]).all() and not np.isnan(out[0]).any()
    assert rel_err(out[0], ref[0]) <= FP32_TOL
    out = lc.conv_attention_torchstrong_nchw(x, w, None, 8, 12, causal=True, device=dev)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref_torchstrong(x, w, None, 8, 12, True)))


def test_zero_size(dev, rng):
    w = rand(rng, 6, 2, 3, 3)
    out = lc.conv_attention_nchw(rand(rng, 0, 2, 5, 5), w, device=dev)
    assert out.shape == (0, 9, 2)
    out = lc.conv_attention_torchstrong_nchw(rand(rng, 1, 2, 5, 5), w, None, 0, 4, device=dev)
    assert out.shape == (0, 4)
    out = lc.conv_attention_torchstrong_nchw(rand(rng, 0, 2, 5, 5), w, None, 0, 4, device=dev)
    assert out.shape == (0, 4)
    with pytest.raises(ValueError, match=r"^\[conv_attention_torchstrong_nchw\] expected a non-empty conv"):
        lc.conv_attention_torchstrong_nchw(rand(rng, 0, 2, 5, 5), w, None, 1, 4, device=dev)


# ---- bad inputs ----------------------------------------------------------------------------
def _calls(dev):
    return {
        "conv_attention_nchw": lambda x, w, b, **kw: lc.conv_attention_nchw(x, w, b, device=dev, **kw),
        "conv_attention_torchstrong_nchw":
            lambda x, w, b, **kw: lc.conv_attention_torchstrong_nchw(
                x, w, b, kw.pop("seq_len", 5), kw.pop("head_dim", 4), device=dev, **kw),
    }


OPS = list(_calls("cpu"))
BAD_DTYPES = [np.int32, np.float16, np.bool_, object, np.float64]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_bad_dtypes(dev, rng, op, dtype):
    call = _calls(dev)[op]
    args = [rand(rng, 1, 2, 5, 5), rand(rng, 6, 2, 3, 3), rand(rng, 6)]
    for i, name in enumerate(["x", "weight", "bias"]):
        bad = list(args)
        bad[i] = bad[i].astype(dtype)
        with pytest.raises(TypeError, match=rf"^\[{op}\] expected {name} to be"):
            call(*bad)


@pytest.mark.parametrize("op", OPS)
def test_none_and_rank(dev, rng, op):
    call = _calls(dev)[op]
    x, w, b = rand(rng, 1, 2, 5, 5), rand(rng, 6, 2, 3, 3), rand(rng, 6)
    for i, name in enumerate(["x", "weight"]):
        args = [x, w, b]
        args[i] = None
        with pytest.raises(TypeError, match=rf"^\[{op}\] expected {name} to be .*got None"):
            call(*args)
    for i, name in enumerate(["x", "weight", "bias"]):
        args = [x, w, b]
        args[i] = args[i][None]
        with pytest.raises(ValueError, match=rf"^\[{op}\] expected {name} with \d dimensions"):
            call(*args)
    with pytest.raises(TypeError, match=rf"^\[{op}\] expected x to be"):
        call(x.tolist(), w, b)


@pytest.mark.parametrize("op", OPS)
def test_conv_errors_carry_the_pipeline_name(dev, rng, op):
    call = _calls(dev)[op]
    x, w, b = rand(rng, 1, 2, 5, 5), rand(rng, 6, 2, 3, 3), rand(rng, 6)
    bad = [
        (dict(x=rand(rng, 1, 3, 5, 5)), {}),                  # channel mismatch
        (dict(b=rand(rng, 7)), {}),                          # bias length
        (dict(w=rand(rng, 6, 2, 7, 3)), {}),                 # kernel taller than the input
        ({}, dict(stride_h=0)),
        ({}, dict(stride_w=-1)),
        ({}, dict(pad_h=-1)),
        ({}, dict(dilation_w=0)),
        ({}, dict(groups=0)),
        ({}, dict(groups=4)),                                # 2 channels in 4 groups
    ]
    for args, kw in bad:
        a = {"x": x, "w": w, "b": b, **args}
        with pytest.raises(ValueError, match=rf"^\[{op}\] expected"):
            call(a["x"], a["w"], a["b"], **kw)


def test_conv_attention_needs_three_channel_thirds(dev, rng):
    x = rand(rng, 1, 2, 5, 5)
    for o in (4, 5, 1):
        with pytest.raises(ValueError, match=r"^\[conv_attention_nchw\] expected weight with 3\*D "
                                             rf"output channels .*got {o} "):
            lc.conv_attention_nchw(x, rand(rng, o, 2, 3, 3), device=dev)
    with pytest.raises(ValueError, match=r"^\[conv_attention_nchw\] expected weight with 3\*D"):
        lc.conv_attention_nchw(x, rand(rng, 0, 2, 3, 3), device=dev)


def test_torchstrong_bad_sizes(dev, rng):
    x, w = rand(rng, 1, 2, 5, 5), rand(rng, 4, 2, 3, 3)
    op = "conv_attention_torchstrong_nchw"
    with pytest.raises(ValueError, match=rf"^\[{op}\] expected seq_len >= 0, got -1"):
        lc.conv_attention_torchstrong_nchw(x, w, None, -1, 4, device=dev)
    for hd in (0, -3):
        with pytest.raises(ValueError, match=rf"^\[{op}\] expected head_dim >= 1, got {hd}"):
            lc.conv_attention_torchstrong_nchw(x, w, None, 4, hd, device=dev)
    with pytest.raises(ValueError, match=rf"^\[{op}\] expected"):
        lc.conv_attention_torchstrong_nchw(x, w, None, 2**62, 2**62, device=dev)
    with pytest.raises(TypeError):
        lc.conv_attention_torchstrong_nchw(x, w, None, 4.5, 4, device=dev)


def test_unavailable_device(rng):
    x, w = rand(rng, 1, 2, 5, 5), rand(rng, 6, 2, 3, 3)
    with pytest.raises(lc.DeviceUnavailableError):
        lc.conv_attention_nchw(x, w, device="metal")
    with pytest.raises(ValueError, match=r"\[device\]"):
        lc.conv_attention_torchstrong_nchw(x, w, None, 4, 4, device="tpu")
