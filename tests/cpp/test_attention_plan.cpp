// The CUDA attention forward's variant choice (attention_heuristics.h): a pure function of the
// shape, the "cuDNN available" flag and LC_CUDA_ATTN, so it runs without a GPU.
#include <gtest/gtest.h>

#include "backends/cuda/attention_heuristics.h"

namespace lc::cuda::attn {
namespace {

FwdShape shape(std::int64_t bh, std::int64_t sq, std::int64_t sk, int d, bool causal = false,
               Precision p = Precision::bf16) {
  FwdShape s;
  s.batch_heads = bh;
  s.sq = sq;
  s.sk = sk;
  s.d = d;
  s.dv = d;
  s.causal = causal;
  s.precision = p;
  s.cudnn = true;
  return s;
}

FwdShape with(FwdShape s, AttnOverride o) {
  s.choice = o;
  return s;
}

// Our best kernel for the shape (what cuDNN falls back to).
FwdVariant own(FwdShape s) { return plan_forward(s).variant; }

TEST(AttentionPlan, ParsesTheOverride) {
  EXPECT_EQ(parse_attn_override(nullptr), AttnOverride::none);
  EXPECT_EQ(parse_attn_override(""), AttnOverride::none);
  EXPECT_EQ(parse_attn_override("own"), AttnOverride::own);
  EXPECT_EQ(parse_attn_override("cudnn"), AttnOverride::cudnn);
  EXPECT_EQ(parse_attn_override("CUDNN"), AttnOverride::none);  // exact names only
  EXPECT_EQ(parse_attn_override("cudnn "), AttnOverride::none);
}

TEST(AttentionPlan, LongHalfSequencesTakeCudnnWithOurKernelAsFallback) {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    for (bool causal : {false, true}) {
      for (int d : {64, 96}) {
        const FwdPlan plan = choose_forward(shape(64, 4096, 4096, d, causal, p));
        EXPECT_EQ(plan.variant, FwdVariant::cudnn);
        EXPECT_EQ(plan.fallback, own(shape(64, 4096, 4096, d, causal, p)));
        EXPECT_NE(plan.fallback, FwdVariant::cudnn);
        EXPECT_NE(plan.fallback, FwdVariant::rows);
        EXPECT_FALSE(plan.required);
        // The own plan's fields stay for the fallback.
        EXPECT_EQ(plan.d_bucket, plan_forward(shape(64, 4096, 4096, d, causal, p)).d_bucket);
      }
    }
  }
  // GQA and Sq < Sk (bottom-right causal) alike.
  EXPECT_EQ(choose_forward(shape(32, 2048, 4096, 64, true)).variant, FwdVariant::cudnn);
  // Head dim 128: our kernel's whole call is faster (no O conversion pass).
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 128)).variant, own(shape(64, 4096, 4096, 128)));
}

TEST(AttentionPlan, CudnnOnlyWhereItApplies) {
  // Not loaded: our kernel.
  FwdShape off = shape(64, 4096, 4096, 64);
  off.cudnn = false;
  EXPECT_EQ(choose_forward(off).variant, own(off));
  // fp32 / tf32: no cuDNN flash engine.
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 128, false, Precision::fp32)).variant,
            FwdVariant::tiled);
  EXPECT_NE(choose_forward(shape(64, 4096, 4096, 128, false, Precision::tf32)).variant,
            FwdVariant::cudnn);
  // Head dims: multiples of 8 up to 128.
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 256)).variant, own(shape(64, 4096, 4096, 256)));
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 60)).variant, own(shape(64, 4096, 4096, 60)));
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 96)).variant, FwdVariant::cudnn);
  EXPECT_EQ(choose_forward(shape(64, 4096, 4096, 32)).variant, FwdVariant::cudnn);
  FwdShape mixed = shape(64, 4096, 4096, 64);
  mixed.dv = 132;
  EXPECT_EQ(choose_forward(mixed).variant, own(mixed));
  // Causal with Sq > Sk: rows that see no key are ours (zero), even when forced.
  EXPECT_EQ(choose_forward(shape(64, 4096, 2048, 64, true)).variant,
            own(shape(64, 4096, 2048, 64, true)));
  EXPECT_NE(choose_forward(with(shape(64, 4096, 2048, 64, true), AttnOverride::cudnn)).variant,
            FwdVariant::cudnn);
  EXPECT_EQ(choose_forward(shape(64, 4096, 2048, 64, false)).variant, FwdVariant::cudnn);
}

TEST(AttentionPlan, CrossoverFromTheH100Runs) {
  // cuDNN from 2048 queries and keys, for head dims <= 64 and those our kernel pads (72..120).
  EXPECT_NE(choose_forward(shape(32, 1024, 1024, 64)).variant, FwdVariant::cudnn);
  EXPECT_EQ(choose_forward(shape(4, 2048, 2048, 64)).variant, FwdVariant::cudnn);
  EXPECT_EQ(choose_forward(shape(4, 2048, 8192, 80, true)).variant, FwdVariant::cudnn);
  EXPECT_NE(choose_forward(shape(4, 8192, 8192, 128)).variant, FwdVariant::cudnn);
  EXPECT_NE(choose_forward(shape(32, 4096, 300, 64)).variant, FwdVariant::cudnn);
  EXPECT_NE(choose_forward(shape(32, 16, 8192, 64)).variant, FwdVariant::cudnn);  // decode-like
  FwdShape mixed = shape(4, 4096, 4096, 64);  // Dv 128: our kernel's bucket, no padding
  mixed.dv = 128;
  EXPECT_NE(choose_forward(mixed).variant, FwdVariant::cudnn);
}

TEST(AttentionPlan, BackwardTakesCudnnPastAFewTiles) {
  EXPECT_TRUE(choose_forward(shape(8, 128, 128, 64)).cudnn_backward);
  EXPECT_TRUE(choose_forward(shape(8, 64, 100, 128, true, Precision::fp16)).cudnn_backward);
  EXPECT_TRUE(choose_forward(shape(64, 4096, 4096, 128, true)).cudnn_backward);
  EXPECT_FALSE(choose_forward(shape(8, 32, 128, 64)).cudnn_backward);
  FwdShape off = shape(8, 128, 128, 64);
  off.cudnn = false;
  EXPECT_FALSE(choose_forward(off).cudnn_backward);
  EXPECT_FALSE(choose_forward(shape(8, 128, 128, 64, false, Precision::fp32)).cudnn_backward);
  EXPECT_FALSE(choose_forward(shape(8, 128, 128, 256)).cudnn_backward);
  EXPECT_FALSE(choose_forward(shape(8, 256, 128, 64, true)).cudnn_backward);  // rows see no key
  EXPECT_FALSE(choose_forward(with(shape(8, 128, 128, 64), AttnOverride::own)).cudnn_backward);
  const FwdPlan forced = choose_forward(with(shape(1, 1, 1, 64), AttnOverride::cudnn));
  EXPECT_TRUE(forced.cudnn_backward);
  EXPECT_TRUE(forced.required);
}

TEST(AttentionPlan, ShortSequencesStayOurs) {
  EXPECT_EQ(choose_forward(shape(1, 1, 1, 64)).variant, FwdVariant::rows);
  EXPECT_EQ(choose_forward(shape(8, 64, 64, 64)).variant, FwdVariant::rows);
  EXPECT_EQ(choose_forward(shape(1, 1, 4096, 128)).variant, own(shape(1, 1, 4096, 128)));
  EXPECT_NE(choose_forward(shape(2, 100, 100, 64)).variant, FwdVariant::cudnn);
}

TEST(AttentionPlan, OverrideForcesEitherWay) {
  // own (or one of our kernels by name): never cuDNN.
  for (AttnOverride o : {AttnOverride::own, AttnOverride::mma, AttnOverride::wgmma}) {
    const FwdShape s = with(shape(64, 4096, 4096, 64), o);
    EXPECT_EQ(choose_forward(s).variant, own(s));
    EXPECT_NE(choose_forward(s).variant, FwdVariant::cudnn);
  }
  // cudnn: every shape cuDNN takes, short ones too, and a refusal is an error (required).
  for (std::int64_t s : {1, 17, 127, 1000}) {
    const FwdPlan plan = choose_forward(with(shape(2, s, s, 64), AttnOverride::cudnn));
    EXPECT_EQ(plan.variant, FwdVariant::cudnn) << s;
    EXPECT_TRUE(plan.required);
  }
  // Forced but not loaded: still cudnn, so the run reports why instead of silently using ours.
  FwdShape off = with(shape(2, 17, 17, 64), AttnOverride::cudnn);
  off.cudnn = false;
  EXPECT_EQ(choose_forward(off).variant, FwdVariant::cudnn);
  // Forcing cuDNN does not apply where it has no kernel (fp32, head dim 17).
  EXPECT_EQ(
      choose_forward(with(shape(2, 300, 300, 64, false, Precision::fp32), AttnOverride::cudnn))
          .variant,
      FwdVariant::tiled);
  EXPECT_NE(choose_forward(with(shape(2, 300, 300, 17), AttnOverride::cudnn)).variant,
            FwdVariant::cudnn);
}

}  // namespace
}  // namespace lc::cuda::attn
