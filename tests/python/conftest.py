"""Shared fixtures: fresh random data with its seed reported, float64 references, poisoning."""
import os
import secrets

import numpy as np
import pytest

import lightning_core as lc

FP32_TOL = 1e-5


@pytest.fixture
def rng(request):
    """A generator on a fresh seed; the seed is printed with any failure of the test."""
    seed = int(os.environ.get("LC_TEST_SEED", secrets.randbits(32)))
    request.node.user_properties.append(("seed", seed))
    print(f"LC_TEST_SEED={seed}")
    return np.random.default_rng(seed)


def mm_err(out, a, b):
    """rel_err of out against a @ b (float64), floored at the typical result size
    (|a| @ |b| / sqrt(K)) so that an output whose terms happen to cancel does not make the check
    flaky: float32 accumulation holds 1e-5 of the terms, not of a result that cancels to ~0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ref = np.matmul(a, b)
    k = max(a.shape[-1], 1)
    out = np.asarray(out, np.float64)
    assert out.shape == ref.shape
    floor = np.linalg.norm(np.matmul(np.abs(a), np.abs(b))) / np.sqrt(k)
    return np.linalg.norm(out - ref) / max(np.linalg.norm(ref), floor, 1e-300)


def rel_err(out, ref):
    """||out - ref|| / ||ref|| in float64 (Frobenius); inf when NaN placement differs."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape, f"shape {out.shape} != reference {ref.shape}"
    if not np.array_equal(np.isnan(out), np.isnan(ref)):
        return np.inf
    mask = ~np.isnan(ref)
    num = np.linalg.norm((out - ref)[mask])
    den = np.linalg.norm(ref[mask])
    return num / den if den > 0 else num


def poisoned(shape, dtype=np.float32):
    """An output buffer full of NaN, so an element the op does not write fails the check."""
    return np.full(shape, np.nan, dtype=dtype)


def rand(rng, *shape, dtype=np.float32):
    """Uniform values in [-1, 1)."""
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def gpu_devices():
    """['cuda'] when a CUDA device is present, else []."""
    return ["cuda"] if lc.cuda_available() else []


requires_gpu = pytest.mark.skipif(
    not lc.cuda_available(), reason=f"no CUDA device: {lc.cuda_unavailable_reason()}")
