"""A few small attention calls for compute-sanitizer (memcheck / racecheck) on the GPU machine.

    compute-sanitizer --tool racecheck python3 scripts/attention_sanitize.py [--quick]

Our own kernels only (LC_CUDA_ATTN=own): forward and backward in fp32, bf16 and fp16, causal
and not, GQA, lengths and head dims that are not tile multiples (--quick: the first shape in
fp32 and bf16). Exits non-zero if a result is far from the CPU backend's.
"""
import os
import sys

import numpy as np

import lightning_core as lc

os.environ["LC_CUDA_ATTN"] = "own"
quick = "--quick" in sys.argv
rng = np.random.default_rng(0)
worst = 0.0
shapes = (((1, 2, 1, 70, 133, 64), True), ((1, 2, 2, 129, 65, 128), False), ((1, 1, 1, 17, 200, 40), True))
for (b, h, hkv, sq, sk, d), causal in shapes[:1] if quick else shapes:
    q = rng.standard_normal((b, h, sq, d)).astype(np.float32)
    k = rng.standard_normal((b, hkv, sk, d)).astype(np.float32)
    v = rng.standard_normal((b, hkv, sk, d)).astype(np.float32)
    do = rng.standard_normal((b, h, sq, d)).astype(np.float32)
    for prec in ("fp32", "bf16") if quick else ("fp32", "bf16", "fp16"):
        gpu, cpu = lc.Policy(device="cuda", precision=prec), lc.Policy(device="cpu", precision=prec)
        got = [lc.attention(q, k, v, causal=causal, policy=gpu),
               *lc.attention_backward(q, k, v, do, causal=causal, policy=gpu)]
        ref = [lc.attention(q, k, v, causal=causal, policy=cpu),
               *lc.attention_backward(q, k, v, do, causal=causal, policy=cpu)]
        for g, r in zip(got, ref):
            worst = max(worst, float(np.linalg.norm(np.asarray(g) - r) / np.linalg.norm(r)))
print(f"attention_sanitize: worst relative difference from the CPU backend {worst:.2e}")
sys.exit(0 if worst < 5e-2 else 1)
