// Attention backward launcher: forward again for O and the log-sum-exp (whatever variant the
// forward plan picks), delta = rowsum(dO * O), then the dK/dV and dQ kernels: tensor-core ones
// for bf16/fp16 up to head dim 128 (attention_backward_mma.cu), SIMT ones otherwise.
#include <algorithm>
#include <type_traits>

#include "backends/cuda/attention_cudnn.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_bwd.cuh"

namespace lc::cuda {

namespace {

using namespace kern;

template <int kD, int kT, int kRound>
void launch_bwd(Context& ctx, const AttnBwdParams& p, std::int64_t bh, std::int64_t bkv) {
  using Smem = BwdSmem<kD, kT>;
  auto* dkdv = attention_bwd_dkdv_kernel<kD, kT, kRound>;
  auto* dq = attention_bwd_dq_kernel<kD, kT, kRound>;
  LC_CUDA_CHECK(
      cudaFuncSetAttribute(dkdv, cudaFuncAttributeMaxDynamicSharedMemorySize, Smem::kBytes));
  LC_CUDA_CHECK(
      cudaFuncSetAttribute(dq, cudaFuncAttributeMaxDynamicSharedMemorySize, Smem::kBytes));
  dkdv<<<dim3(static_cast<unsigned>((p.sk + kT - 1) / kT), static_cast<unsigned>(bkv)), 256,
         Smem::kBytes, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
  dq<<<dim3(static_cast<unsigned>((p.sq + kT - 1) / kT), static_cast<unsigned>(bh)), 256,
       Smem::kBytes, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
}

template <int kRound>
void dispatch_bwd(Context& ctx, const AttnBwdParams& p, std::int64_t bh, std::int64_t bkv,
                  int bucket) {
  if (bucket == 64)
    launch_bwd<64, 64, kRound>(ctx, p, bh, bkv);
  else if (bucket == 128)
    launch_bwd<128, 64, kRound>(ctx, p, bh, bkv);
  else
    launch_bwd<256, 32, kRound>(ctx, p, bh, bkv);
}

}  // namespace

void run_attention_backward(Context& ctx, const AttnBwdArgs& a) {
  const AttnDims& d = a.dims;
  if (std::max(d.d, d.dv) > 256)
    fail<NotSupportedError>("attention_backward", "expected head dims <= 256 on CUDA, got ", d.d,
                            " and ", d.dv);
  const std::int64_t rows = d.batch * d.heads * d.sq;
  Scratch buf = ctx.scratch(static_cast<std::size_t>(rows) * (d.dv + 2) * sizeof(float));
  float* out = buf.as<float>();
  float* lse2 = out + rows * d.dv;
  float* delta = lse2 + rows;

  AttnFwdArgs f;
  f.q = a.q;
  f.k = a.k;
  f.v = a.v;
  f.out = out;
  f.lse2 = lse2;
  f.dims = d;
  f.causal = a.causal;
  f.scale = a.scale;
  f.precision = a.precision;
  const attn::FwdPlan fplan = plan_attention(ctx, f);
  if (fplan.cudnn_backward && run_attention_backward_cudnn(ctx, a, fplan.required)) return;
  run_attention_forward(ctx, f, fplan);

  const attn::BwdPlan plan = attn::plan_backward(d.d, d.dv);
  auto go = [&](auto round_tag) {
    constexpr int R = decltype(round_tag)::value;
    attention_bwd_delta_kernel<R><<<static_cast<unsigned>((rows + 3) / 4), 128, 0, ctx.stream>>>(
        a.dout, out, delta, rows, d.dv);
    LC_CUDA_CHECK_LAUNCH();
    if (attention_backward_mma_applies(a)) return run_attention_backward_mma(ctx, a, lse2, delta);
    const std::int64_t bchunk = std::max<std::int64_t>(1, 65535 / d.heads);
    for (std::int64_t b0 = 0; b0 < d.batch; b0 += bchunk) {
      const std::int64_t nb = std::min(bchunk, d.batch - b0);
      AttnBwdParams p{};
      p.q = a.q + b0 * d.heads * d.sq * d.d;
      p.k = a.k + b0 * d.kv_heads * d.sk * d.d;
      p.v = a.v + b0 * d.kv_heads * d.sk * d.dv;
      p.dout = a.dout + b0 * d.heads * d.sq * d.dv;
      p.lse2 = lse2 + b0 * d.heads * d.sq;
      p.delta = delta + b0 * d.heads * d.sq;
      p.dq = a.dq + b0 * d.heads * d.sq * d.d;
      p.dk = a.dk + b0 * d.kv_heads * d.sk * d.d;
      p.dv_out = a.dv + b0 * d.kv_heads * d.sk * d.dv;
      p.heads = static_cast<int>(d.heads);
      p.kv_heads = static_cast<int>(d.kv_heads);
      p.sq = static_cast<int>(d.sq);
      p.sk = static_cast<int>(d.sk);
      p.d = d.d;
      p.dv = d.dv;
      p.scale = static_cast<float>(a.scale);
      p.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
      p.causal = a.causal;
      dispatch_bwd<R>(ctx, p, nb * d.heads, nb * d.kv_heads, plan.d_bucket);
    }
  };
  if (a.precision == Precision::bf16)
    go(std::integral_constant<int, kRoundBf16>{});
  else if (a.precision == Precision::fp16)
    go(std::integral_constant<int, kRoundFp16>{});
  else
    go(std::integral_constant<int, kRoundNone>{});
}

}  // namespace lc::cuda
