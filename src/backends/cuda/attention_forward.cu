// Attention forward launchers for the fp32 kernels (rows, tiled + split combine) and the
// dispatch of every forward variant (the plan comes from attention_heuristics.h).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backends/cuda/attention_cudnn.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_rows.cuh"
#include "backends/cuda/kernels/attention_tiled.cuh"

namespace lc::cuda {

namespace {

using namespace kern;

template <int R>
using RoundTag = std::integral_constant<int, R>;

template <class F>
void with_round(Precision p, F&& f) {
  if (p == Precision::bf16)
    f(RoundTag<kRoundBf16>{});
  else if (p == Precision::fp16)
    f(RoundTag<kRoundFp16>{});
  else
    f(RoundTag<kRoundNone>{});
}

template <class Kernel>
void allow_smem(Kernel* kernel, int bytes) {
  if (bytes > 48 * 1024)
    LC_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

AttnFwdParams base_params(const AttnFwdArgs& a) {
  AttnFwdParams p{};
  p.q = a.q;
  p.k = a.k;
  p.v = a.v;
  p.out = a.out;
  p.lse2 = a.lse2;
  p.heads = static_cast<int>(a.dims.heads);
  p.kv_heads = static_cast<int>(a.dims.kv_heads);
  p.sq = static_cast<int>(a.dims.sq);
  p.sk = static_cast<int>(a.dims.sk);
  p.d = a.dims.d;
  p.dv = a.dims.dv;
  p.scale_log2 = static_cast<float>(a.scale * 1.4426950408889634);
  p.causal = a.causal;
  p.splits = 1;
  p.tiles_per_split = 1 << 30;
  return p;
}

template <int kRows, int kVCols, int kRound>
void launch_rows(Context& ctx, const AttnFwdParams& p, std::int64_t bh) {
  auto* kernel = attention_rows_kernel<kRows, kVCols, kRound>;
  const int bytes = rows_smem_floats(p.d, kRows, kVCols) * 4;
  allow_smem(kernel, bytes);
  const dim3 grid(static_cast<unsigned>((p.sq + kRowsWarps * kRows - 1) / (kRowsWarps * kRows)),
                  static_cast<unsigned>(bh));
  kernel<<<grid, kRowsWarps * 32, bytes, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
}

template <int kRound>
void run_rows(Context& ctx, const AttnFwdParams& p, std::int64_t bh, int rows_per_warp) {
  const int vcols = (p.dv + 31) / 32;
  auto go = [&](auto rows_tag) {
    constexpr int R = decltype(rows_tag)::value;
    if (vcols <= 1)
      launch_rows<R, 1, kRound>(ctx, p, bh);
    else if (vcols <= 2)
      launch_rows<R, 2, kRound>(ctx, p, bh);
    else if (vcols <= 4)
      launch_rows<R, 4, kRound>(ctx, p, bh);
    else
      launch_rows<R, 8, kRound>(ctx, p, bh);
  };
  if (rows_per_warp >= 4)
    go(std::integral_constant<int, 4>{});
  else
    go(std::integral_constant<int, 1>{});
}

template <int kD, int kT, int kThreads>
void run_tiled(Context& ctx, AttnFwdParams p, std::int64_t bh, const attn::FwdPlan& plan) {
  using Smem = TiledFwdSmem<kD, kT>;
  auto* kernel = attention_tiled_kernel<kD, kT, kThreads>;
  allow_smem(kernel, Smem::kBytes);
  const std::int64_t rows = bh * p.sq;
  Scratch part;
  if (plan.splits > 1) {
    part = ctx.scratch(static_cast<std::size_t>(plan.splits) * rows * (p.dv + 2) * sizeof(float));
    p.part_o = part.as<float>();
    p.part_ml = p.part_o + static_cast<std::int64_t>(plan.splits) * rows * p.dv;
    p.splits = plan.splits;
    p.tiles_per_split = plan.tiles_per_split;
  }
  const dim3 grid(static_cast<unsigned>((p.sq + kT - 1) / kT), static_cast<unsigned>(bh),
                  static_cast<unsigned>(p.splits));
  kernel<<<grid, kThreads, Smem::kBytes, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
  if (plan.splits > 1) {
    attention_split_combine_kernel<<<static_cast<unsigned>((rows + 3) / 4), 128, 0, ctx.stream>>>(
        p, rows);
    LC_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void run_attention_forward(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan) {
  if (plan.variant == attn::FwdVariant::mma16) return run_attention_forward_mma(ctx, a, plan);
  if (plan.variant == attn::FwdVariant::wgmma) return run_attention_forward_wgmma(ctx, a, plan);
  if (plan.variant == attn::FwdVariant::cudnn) {
    if (run_attention_forward_cudnn(ctx, a, plan.required)) return;
    attn::FwdPlan own = plan;  // cuDNN refused this shape: our kernel's plan
    own.variant = plan.fallback;
    return run_attention_forward(ctx, a, own);
  }
  // gridDim.y holds B*H: split the batch when it would exceed 65535.
  const std::int64_t heads = a.dims.heads, kvh = a.dims.kv_heads;
  const std::int64_t bchunk = std::max<std::int64_t>(1, 65535 / heads);
  for (std::int64_t b0 = 0; b0 < a.dims.batch; b0 += bchunk) {
    const std::int64_t nb = std::min(bchunk, a.dims.batch - b0);
    AttnFwdParams p = base_params(a);
    p.q += b0 * heads * a.dims.sq * a.dims.d;
    p.k += b0 * kvh * a.dims.sk * a.dims.d;
    p.v += b0 * kvh * a.dims.sk * a.dims.dv;
    p.out += b0 * heads * a.dims.sq * a.dims.dv;
    if (p.lse2) p.lse2 += b0 * heads * a.dims.sq;
    const std::int64_t bh = nb * heads;
    if (plan.variant == attn::FwdVariant::tiled) {
      const bool narrow = plan.threads == 128;
      if (plan.d_bucket == 64)
        narrow ? run_tiled<64, 64, 128>(ctx, p, bh, plan)
               : run_tiled<64, 64, 256>(ctx, p, bh, plan);
      else if (plan.d_bucket == 128)
        narrow ? run_tiled<128, 64, 128>(ctx, p, bh, plan)
               : run_tiled<128, 64, 256>(ctx, p, bh, plan);
      else
        run_tiled<256, 32, 256>(ctx, p, bh, plan);
    } else {
      with_round(a.precision,
                 [&](auto r) { run_rows<decltype(r)::value>(ctx, p, bh, plan.rows_per_warp); });
    }
  }
}

}  // namespace lc::cuda
