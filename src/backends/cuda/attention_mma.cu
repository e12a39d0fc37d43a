// Launcher of the bf16/fp16 tensor-core attention forward: pack Q/K/V to 16-bit copies padded
// to the head-dim bucket (one launch for the three), then the flash kernel.
#include <algorithm>
#include <cstdint>

#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_mma.cuh"

namespace lc::cuda {

namespace {

using namespace kern;

template <int kD, bool kHalf>
void launch_mma(Context& ctx, const AttnFwd16Params& p, std::int64_t bh) {
  using Cfg = MmaFwdConfig<kD>;
  auto* kernel = attention_mma_kernel<Cfg, kHalf>;
  if (Cfg::kSmemBytes > 48 * 1024)
    LC_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes));
  const dim3 grid(static_cast<unsigned>((p.sq + Cfg::kBr - 1) / Cfg::kBr),
                  static_cast<unsigned>(bh));
  kernel<<<grid, Cfg::kWarps * 32, Cfg::kSmemBytes, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
}

template <bool kHalf>
void dispatch_mma(Context& ctx, const AttnFwd16Params& p, std::int64_t bh, int bucket) {
  switch (bucket) {
    case 32:
      return launch_mma<32, kHalf>(ctx, p, bh);
    case 64:
      return launch_mma<64, kHalf>(ctx, p, bh);
    case 128:
      return launch_mma<128, kHalf>(ctx, p, bh);
    default:
      return launch_mma<256, kHalf>(ctx, p, bh);
  }
}

}  // namespace

void pack_attention16(Context& ctx, const AttnFwdArgs& a, int dp, void* dst) {
  const AttnDims& d = a.dims;
  const bool half = a.precision == Precision::fp16;
  const std::int64_t q_rows = d.batch * d.heads * d.sq, kv_rows = d.batch * d.kv_heads * d.sk;
  auto* q16 = static_cast<std::uint16_t*>(dst);
  auto* k16 = q16 + q_rows * dp;
  auto* v16 = k16 + kv_rows * dp;

  Pack16Args pack{};
  pack.src[0] = a.q;
  pack.src[1] = a.k;
  pack.src[2] = a.v;
  pack.dst[0] = q16;
  pack.dst[1] = k16;
  pack.dst[2] = v16;
  pack.rows[0] = q_rows;
  pack.rows[1] = kv_rows;
  pack.rows[2] = kv_rows;
  pack.d[0] = d.d;
  pack.d[1] = d.d;
  pack.d[2] = d.dv;
  pack.dp = dp;
  auto aligned = [](const void* ptr) { return (reinterpret_cast<std::uintptr_t>(ptr) & 15) == 0; };
  pack.vec = aligned(a.q) && aligned(a.k) && aligned(a.v);
  const std::int64_t chunks = std::max(q_rows, kv_rows) * (dp / 8);
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(
      (chunks + 255) / 256, static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 16));
  if (half)
    attention_pack16_kernel<true><<<dim3(blocks, 3), 256, 0, ctx.stream>>>(pack);
  else
    attention_pack16_kernel<false><<<dim3(blocks, 3), 256, 0, ctx.stream>>>(pack);
  LC_CUDA_CHECK_LAUNCH();
}

void run_attention_forward_mma(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan) {
  const AttnDims& d = a.dims;
  const int dp = plan.d_bucket;
  const bool half = a.precision == Precision::fp16;
  Scratch buf = ctx.scratch(packed16_bytes(d, dp));
  pack_attention16(ctx, a, dp, buf.get());
  const std::int64_t q_rows = d.batch * d.heads * d.sq, kv_rows = d.batch * d.kv_heads * d.sk;
  auto* q16 = buf.as<std::uint16_t>();
  auto* k16 = q16 + q_rows * dp;
  auto* v16 = k16 + kv_rows * dp;

  const std::int64_t bchunk = std::max<std::int64_t>(1, 65535 / d.heads);
  for (std::int64_t b0 = 0; b0 < d.batch; b0 += bchunk) {
    const std::int64_t nb = std::min(bchunk, d.batch - b0);
    AttnFwd16Params p{};
    p.q16 = q16 + b0 * d.heads * d.sq * dp;
    p.k16 = k16 + b0 * d.kv_heads * d.sk * dp;
    p.v16 = v16 + b0 * d.kv_heads * d.sk * dp;
    p.out = a.out + b0 * d.heads * d.sq * d.dv;
    p.lse2 = a.lse2 ? a.lse2 + b0 * d.heads * d.sq : nullptr;
    p.heads = static_cast<int>(d.heads);
    p.kv_heads = static_cast<int>(d.kv_heads);
    p.sq = static_cast<int>(d.sq);
    p.sk = static_cast<int>(d.sk);
    p.dv = d.dv;
    p.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
    p.causal = a.causal;
    if (half)
      dispatch_mma<true>(ctx, p, nb * d.heads, dp);
    else
      dispatch_mma<false>(ctx, p, nb * d.heads, dp);
  }
}

}  // namespace lc::cuda
