"""The original description's examples (sections 17, 20-24), verbatim except "metal" -> "cpu",
each followed by checks against float64 NumPy references."""
import numpy as np

from conftest import FP32_TOL, rel_err


def f64(a):
    return np.asarray(a, np.float64)


def ref_attention(q, k, v):
    s = f64(q) @ f64(k).T / np.sqrt(q.shape[1])
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ f64(v)


def ref_conv_pad1(x, w, b):
    xp = np.pad(f64(x), ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, _, h, wd = x.shape
    out = np.zeros((n, w.shape[0], h, wd))
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + wd], f64(w)[:, :, i, j])
    return out + f64(b)[None, :, None, None]


def test_section_17_quick_start():
    import numpy as np
    import lightning_core as lc

    print("backend:", lc.backend_name())

    a = np.random.rand(128, 256).astype(np.float32)
    b = np.random.rand(256, 64).astype(np.float32)
    y = lc.matmul2d(a, b, "cpu")
    print(y.shape)

    assert y.shape == (128, 64) and y.dtype == np.float32
    assert rel_err(y, f64(a) @ f64(b)) <= FP32_TOL


def test_section_20_matmul_usage():
    import numpy as np
    import lightning_core as lc

    a = np.random.rand(512, 1024).astype(np.float32)
    b = np.random.rand(1024, 512).astype(np.float32)

    # easy API (shape inferred)
    out = lc.matmul2d(a, b, "cpu")

    # into API (avoid re-allocation)
    out2 = np.empty((512, 512), dtype=np.float32)
    lc.matmul2d_into(a, b, out2, "cpu")

    ref = f64(a) @ f64(b)
    assert rel_err(out, ref) <= FP32_TOL
    assert rel_err(out2, ref) <= FP32_TOL


def test_section_21_attention_usage():
    import numpy as np
    import lightning_core as lc

    q = np.random.rand(8, 16).astype(np.float32)
    k = np.random.rand(8, 16).astype(np.float32)
    v = np.random.rand(8, 16).astype(np.float32)

    out = lc.attention2d(q, k, v, False, "cpu")
    out_into = np.empty_like(q)
    lc.attention2d_into(q, k, v, out_into, False, "cpu")

    ref = ref_attention(q, k, v)
    assert rel_err(out, ref) <= FP32_TOL
    assert rel_err(out_into, ref) <= FP32_TOL


def test_section_22_convolution_usage():
    import numpy as np
    import lightning_core as lc

    x = np.random.rand(1, 3, 16, 16).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32)
    b = np.random.rand(16).astype(np.float32)

    y = lc.conv2d_nchw(x, w, b, 1, 1, 1, 1, "cpu")

    assert y.shape == (1, 16, 16, 16)
    assert rel_err(y, ref_conv_pad1(x, w, b)) <= FP32_TOL


def test_section_23_resident_blocks():
    import numpy as np
    import lightning_core as lc

    a = np.random.rand(1024, 1024).astype(np.float32)
    b = np.random.rand(1024, 1024).astype(np.float32)
    out = np.empty((1024, 1024), dtype=np.float32)

    sess = lc.matmul2d_resident_session(a, b)
    sess.start_into(a, b, out)
    sess.run_batch_sync_no_download_into(a, b, out, 8)

    ref = f64(a) @ f64(b)
    assert rel_err(out, ref) <= FP32_TOL  # from start_into
    out[:] = np.nan
    sess.run_batch_sync_no_download_into(a, b, out, 8)
    assert np.isnan(out).all()  # no download
    sess.download_into(out)
    assert rel_err(out, ref) <= FP32_TOL


def test_section_24_pipeline_usage():
    import numpy as np
    import lightning_core as lc

    x = np.random.rand(1, 3, 8, 8).astype(np.float32)
    w = np.random.rand(16, 3, 3, 3).astype(np.float32)
    b = np.random.rand(16).astype(np.float32)

    # High-level conv+relu
    y = lc.api.conv_relu_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=1, pad_w=1, device="cpu")

    # Integrated conv->attention path
    seq_len, head_dim = 96, 48
    z = lc.api.conv_attention_torchstrong_nchw(
        x, w, b, seq_len=seq_len, head_dim=head_dim, stride_h=1, stride_w=1, pad_h=1, pad_w=1, device="cpu"
    )
    print(y.shape, z.shape)

    ref_y = np.maximum(ref_conv_pad1(x, w, b), 0)
    assert y.shape == (1, 16, 8, 8) and z.shape == (96, 48)
    assert rel_err(y, ref_y) <= FP32_TOL
    # 16 channels x 8 x 8 = 1024 values; X[s, d] = flat[(s*48 + d) mod 1024].
    flat = ref_y.reshape(-1)
    X = flat[np.arange(seq_len * head_dim) % flat.size].reshape(seq_len, head_dim)
    assert rel_err(z, ref_attention(X, X, X)) <= FP32_TOL
