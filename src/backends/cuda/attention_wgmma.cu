// Launcher of the Hopper (wgmma + TMA) bf16/fp16 attention forward: pack Q/K/V to 16-bit
// copies padded to the head-dim bucket (attention_mma.cu), then one kernel launch per 65535
// heads. Falls back to the mma.sync kernel when the driver has no tensor-map encoder.
#include <cstdint>

#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_wgmma_host.h"

namespace lc::cuda {

void run_attention_forward_wgmma(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan) {
  if (kern::tensor_map_encoder() == nullptr) return run_attention_forward_mma(ctx, a, plan);
  const AttnDims& d = a.dims;
  const int dp = plan.d_bucket;
  Scratch buf = ctx.scratch(packed16_bytes(d, dp));
  pack_attention16(ctx, a, dp, buf.get());
  const std::int64_t q_rows = d.batch * d.heads * d.sq, kv_rows = d.batch * d.kv_heads * d.sk;
  const auto* q16 = buf.as<std::uint16_t>();
  const auto* k16 = q16 + q_rows * dp;
  const auto* v16 = k16 + kv_rows * dp;

  kern::AttnWgmmaParams p{};
  p.out = a.out;
  p.lse2 = a.lse2;
  p.heads = static_cast<int>(d.heads);
  p.kv_heads = static_cast<int>(d.kv_heads);
  p.sq = static_cast<int>(d.sq);
  p.sk = static_cast<int>(d.sk);
  p.dv = d.dv;
  p.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
  p.causal = a.causal;
  const bool half = a.precision == Precision::fp16;
  cudaError_t err;
  if (dp == 64)
    err = half ? kern::launch_attention_wgmma<64, true>(ctx.stream, q16, k16, v16, d.batch, p)
               : kern::launch_attention_wgmma<64, false>(ctx.stream, q16, k16, v16, d.batch, p);
  else
    err = half ? kern::launch_attention_wgmma<128, true>(ctx.stream, q16, k16, v16, d.batch, p)
               : kern::launch_attention_wgmma<128, false>(ctx.stream, q16, k16, v16, d.batch, p);
  LC_CUDA_CHECK(err);
}

}  // namespace lc::cuda
