// Launcher of the bf16/fp16 tensor-core attention backward (kernels/attention_bwd_mma.cuh):
// Q/K/V and dO packed to 16-bit copies padded to the head-dim bucket, then the dK/dV and dQ
// kernels. The forward's log-sum-exp and delta = rowsum(dO * O) come from the caller.
#include <algorithm>
#include <cstdint>

#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_bwd_mma.cuh"

namespace lc::cuda {

namespace {

using namespace kern;

template <int kD, bool kHalf>
void launch_bwd_mma(Context& ctx, const AttnBwd16Params& p, std::int64_t bh, std::int64_t bkv) {
  using Cfg = BwdMmaConfig<kD>;
  auto* dkdv = attention_bwd_dkdv_mma_kernel<kD, kHalf>;
  auto* dq = attention_bwd_dq_mma_kernel<kD, kHalf>;
  LC_CUDA_CHECK(
      cudaFuncSetAttribute(dkdv, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kDkdvSmem));
  LC_CUDA_CHECK(
      cudaFuncSetAttribute(dq, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kDqSmem));
  const unsigned threads = Cfg::kWarps * 32;
  dkdv<<<dim3(static_cast<unsigned>((p.sk + Cfg::kBc - 1) / Cfg::kBc), static_cast<unsigned>(bkv)),
         threads, Cfg::kDkdvSmem, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
  dq<<<dim3(static_cast<unsigned>((p.sq + Cfg::kBr - 1) / Cfg::kBr), static_cast<unsigned>(bh)),
       threads, Cfg::kDqSmem, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
}

template <bool kHalf>
void dispatch_bwd_mma(Context& ctx, const AttnBwd16Params& p, std::int64_t bh, std::int64_t bkv,
                      int bucket) {
  if (bucket == 32) return launch_bwd_mma<32, kHalf>(ctx, p, bh, bkv);
  if (bucket == 64) return launch_bwd_mma<64, kHalf>(ctx, p, bh, bkv);
  return launch_bwd_mma<128, kHalf>(ctx, p, bh, bkv);
}

}  // namespace

bool attention_backward_mma_applies(const AttnBwdArgs& a) {
  return attn::is_half(a.precision) && std::max(a.dims.d, a.dims.dv) <= 128;
}

void run_attention_backward_mma(Context& ctx, const AttnBwdArgs& a, const float* lse2,
                                const float* delta) {
  const AttnDims& d = a.dims;
  const int dp = attn::bucket_mma(std::max(d.d, d.dv));
  const std::int64_t q_rows = d.batch * d.heads * d.sq;
  // Q/K/V packed as the forward packs them, then dO (dv columns) in the same layout as Q.
  Scratch buf = ctx.scratch(packed16_bytes(d, dp) + static_cast<std::size_t>(q_rows) * dp * 2);
  AttnFwdArgs f;
  f.q = a.q;
  f.k = a.k;
  f.v = a.v;
  f.dims = d;
  f.precision = a.precision;
  pack_attention16(ctx, f, dp, buf.get());
  auto* q16 = buf.as<std::uint16_t>();
  auto* k16 = q16 + q_rows * dp;
  auto* v16 = k16 + d.batch * d.kv_heads * d.sk * dp;
  auto* do16 = v16 + d.batch * d.kv_heads * d.sk * dp;
  AttnFwdArgs fo;  // dO through the same pack: one tensor of dv columns in Q's slot
  fo.q = a.dout;
  fo.dims = d;
  fo.dims.d = d.dv;
  fo.dims.kv_heads = 0;  // no K/V rows
  fo.precision = a.precision;
  pack_attention16(ctx, fo, dp, do16);

  const bool half = a.precision == Precision::fp16;
  const std::int64_t bchunk = std::max<std::int64_t>(1, 65535 / d.heads);
  for (std::int64_t b0 = 0; b0 < d.batch; b0 += bchunk) {
    const std::int64_t nb = std::min(bchunk, d.batch - b0);
    AttnBwd16Params p{};
    p.q16 = q16 + b0 * d.heads * d.sq * dp;
    p.k16 = k16 + b0 * d.kv_heads * d.sk * dp;
    p.v16 = v16 + b0 * d.kv_heads * d.sk * dp;
    p.do16 = do16 + b0 * d.heads * d.sq * dp;
    p.lse2 = lse2 + b0 * d.heads * d.sq;
    p.delta = delta + b0 * d.heads * d.sq;
    p.dq = a.dq + b0 * d.heads * d.sq * d.d;
    p.dk = a.dk + b0 * d.kv_heads * d.sk * d.d;
    p.dv = a.dv + b0 * d.kv_heads * d.sk * d.dv;
    p.heads = static_cast<int>(d.heads);
    p.kv_heads = static_cast<int>(d.kv_heads);
    p.sq = static_cast<int>(d.sq);
    p.sk = static_cast<int>(d.sk);
    p.d = d.d;
    p.dv_dim = d.dv;
    p.scale = static_cast<float>(a.scale);
    p.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
    p.causal = a.causal;
    if (half)
      dispatch_bwd_mma<true>(ctx, p, nb * d.heads, nb * d.kv_heads, dp);
    else
      dispatch_bwd_mma<false>(ctx, p, nb * d.heads, nb * d.kv_heads, dp);
  }
}

}  // namespace lc::cuda
