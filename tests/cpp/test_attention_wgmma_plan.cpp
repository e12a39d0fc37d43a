// Where the forward plan takes the Hopper wgmma kernel (attention_heuristics.h): bf16/fp16 with a
// head-dim bucket of 64 or 128, unless LC_CUDA_ATTN=mma asks for the mma.sync kernel.
#include <gtest/gtest.h>

#include "backends/cuda/attention_heuristics.h"

namespace lc::cuda::attn {
namespace {

FwdShape half_shape(int d, int dv, Precision p = Precision::bf16) {
  FwdShape s;
  s.batch_heads = 64;
  s.sq = 4096;
  s.sk = 4096;
  s.d = d;
  s.dv = dv;
  s.precision = p;
  return s;
}

TEST(AttentionWgmmaPlan, SixteenBitHeadDims33To128TakeIt) {
  for (Precision p : {Precision::bf16, Precision::fp16}) {
    for (int d : {33, 48, 64, 65, 96, 128}) {
      const FwdPlan plan = plan_forward(half_shape(d, d, p));
      EXPECT_EQ(plan.variant, FwdVariant::wgmma) << d;
      EXPECT_EQ(plan.d_bucket, d <= 64 ? 64 : 128) << d;
    }
  }
  EXPECT_EQ(plan_forward(half_shape(64, 100)).d_bucket, 128);  // the wider of d and dv
}

TEST(AttentionWgmmaPlan, OtherCasesKeepTheirKernels) {
  EXPECT_EQ(plan_forward(half_shape(32, 32)).variant, FwdVariant::mma16);
  EXPECT_EQ(plan_forward(half_shape(200, 200)).variant, FwdVariant::mma16);
  EXPECT_EQ(plan_forward(half_shape(64, 64, Precision::fp32)).variant, FwdVariant::tiled);
  FwdShape tiny = half_shape(64, 64);
  tiny.sq = 16;  // launch-bound: one warp per row
  EXPECT_EQ(plan_forward(tiny).variant, FwdVariant::rows);
}

TEST(AttentionWgmmaPlan, OverrideNames) {
  EXPECT_EQ(parse_attn_override("mma"), AttnOverride::mma);
  EXPECT_EQ(parse_attn_override("wgmma"), AttnOverride::wgmma);
  FwdShape s = half_shape(128, 128);
  s.cudnn = true;
  s.choice = AttnOverride::mma;
  EXPECT_EQ(choose_forward(s).variant, FwdVariant::mma16);
  s.choice = AttnOverride::wgmma;
  EXPECT_EQ(choose_forward(s).variant, FwdVariant::wgmma);
  s.choice = AttnOverride::own;
  EXPECT_EQ(choose_forward(s).variant, FwdVariant::wgmma);
}

}  // namespace
}  // namespace lc::cuda::attn
