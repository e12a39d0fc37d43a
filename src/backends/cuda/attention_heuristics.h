// Attention variant and tile choices: pure functions of the problem and the device, testable
// without a GPU. Each plan carries a one-line reason (lc.explain and the tests show it).
#pragma once

#include <cstdint>
#include <string_view>

#include "lightning_core/policy.h"

namespace lc::cuda::attn {

enum class FwdVariant {
  rows,   // one warp per query row: short sequences, odd head dims, unaligned data
  tiled,  // fp32 SIMT flash tiles (64x64, cp.async), split over keys when the grid is small
  mma16,  // bf16/fp16 tensor cores (mma.sync m16n8k16), FlashAttention-2 style
  wgmma,  // bf16/fp16 Hopper kernel (wgmma + TMA, producer warpgroup), head dims 33..128
  cudnn,  // bf16/fp16 cuDNN fused flash attention (attention_cudnn.cpp); plan.fallback if refused
};

// LC_CUDA_ATTN=own|cudnn forces a forward implementation (tests, benchmarks).
// mma / wgmma: that one of our kernels where it applies (own = our best).
enum class AttnOverride { none, own, cudnn, mma, wgmma };

struct FwdShape {
  std::int64_t batch_heads = 1;  // B*H
  std::int64_t sq = 0, sk = 0;
  int d = 0, dv = 0;
  bool causal = false;
  Precision precision = Precision::fp32;
  bool aligned16 = true;  // q/k/v/out base pointers 16-byte aligned
  int sm_count = 132;
  bool cudnn = false;  // cuDNN >= 9 loaded and the GPU runs its fused attention (sm80+)
  AttnOverride choice = AttnOverride::none;
};

struct FwdPlan {
  FwdVariant variant = FwdVariant::rows;
  int d_bucket = 0;       // head dim the kernel is compiled for (>= max(d, dv))
  int rows_per_warp = 1;  // rows variant
  int tile = 64;          // tiled variant: query and key tile
  int threads = 256;      // tiled variant: 256 (4x4 micro-tiles) or 128 (8x4)
  int splits = 1;         // tiled variant: key splits
  int tiles_per_split = 0;
  const char* reason = "";
  FwdVariant fallback = FwdVariant::rows;  // cudnn: our kernel when cuDNN refuses the shape
  bool required = false;                   // cudnn forced (LC_CUDA_ATTN): a refusal is an error
  bool cudnn_backward = false;  // attention_backward: cuDNN's fused backward (else our SIMT one)
};

inline bool is_half(Precision p) { return p == Precision::bf16 || p == Precision::fp16; }

// Smallest of {32, 64, 128, 256} holding d (0 when d > 256).
inline int bucket_mma(int d) {
  return d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : d <= 256 ? 256 : 0;
}
// Smallest of {64, 128, 256} holding d: the SIMT tiles split columns in float4 groups of 16 lanes.
inline int bucket_simt(int d) { return d <= 64 ? 64 : d <= 128 ? 128 : d <= 256 ? 256 : 0; }
// SIMT tile rows: 64, or 32 for 256-wide heads (shared memory).
inline int simt_tile(int bucket) { return bucket == 256 ? 32 : 64; }

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Threads of the tiled kernel: 8x4 micro-tiles (128 threads) read shared memory less per FMA
// and fit 3 blocks per SM at head dim 64; wider heads keep 256 threads (4x4) for occupancy.
inline int tiled_threads(int bucket) { return bucket == 64 ? 128 : 256; }
// Blocks of the tiled kernel one SM holds (its shared memory and registers).
inline int tiled_blocks_per_sm(int bucket, int threads) {
  if (bucket == 64) return threads == 128 ? 3 : 2;  // 68 KB of shared memory each
  if (bucket == 128) return 1;                      // 118 KB
  return 2;                                         // 256: 32-row tiles, 104 KB
}

// Key splits for the tiled kernel: the count that minimises (waves x key tiles per block),
// counting one tile for a block's start and a little for each extra split (the merge pass).
inline int split_count(std::int64_t blocks, std::int64_t key_tiles, std::int64_t slots) {
  int best = 1;
  double best_cost = 0;
  const std::int64_t max_s = key_tiles < 16 ? key_tiles : 16;
  for (std::int64_t s = 1; s <= max_s; ++s) {
    const std::int64_t waves = ceil_div(blocks * s, slots);
    const double cost =
        static_cast<double>(waves) * static_cast<double>(ceil_div(key_tiles, s) + 1) +
        (s > 1 ? 1.0 + 0.1 * static_cast<double>(s) : 0.0);
    if (s == 1 || cost < best_cost) {
      best = static_cast<int>(s);
      best_cost = cost;
    }
  }
  return best;
}

inline FwdPlan plan_forward(const FwdShape& s) {
  FwdPlan plan;
  const int dmax = s.d > s.dv ? s.d : s.dv;
  const std::int64_t rows = s.batch_heads * s.sq;
  auto rows_plan = [&](const char* why) {
    plan.variant = FwdVariant::rows;
    plan.d_bucket = dmax <= 32 ? 32 : dmax <= 64 ? 64 : dmax <= 128 ? 128 : 256;
    // Several rows per warp share each K read; only worth it when there are rows to spare.
    plan.rows_per_warp = rows >= 16 * static_cast<std::int64_t>(s.sm_count) * 4 ? 4 : 1;
    plan.reason = why;
    return plan;
  };
  if (dmax > 256) return rows_plan("head dim > 256: no tiled kernel");
  const bool tiny = s.sq < 64 || s.sk < 64 || s.sq * s.sk * s.batch_heads < 256 * 256;
  if (is_half(s.precision)) {
    if (tiny)
      return rows_plan("short sequence: launch-bound, one warp per row (16-bit rounded inputs)");
    plan.variant = FwdVariant::mma16;
    plan.d_bucket = bucket_mma(dmax);
    plan.reason = "bf16/fp16: tensor-core flash kernel (mma.sync m16n8k16, fp32 accumulation)";
    if ((plan.d_bucket == 64 || plan.d_bucket == 128) && s.choice != AttnOverride::mma) {
      plan.variant = FwdVariant::wgmma;
      plan.reason = "bf16/fp16, head dim 33..128: Hopper flash kernel (wgmma + TMA)";
    }
    return plan;
  }
  if (tiny || s.sk < 256) return rows_plan("short sequence: launch-bound, one warp per row");
  if (s.d % 4 != 0 || s.dv % 4 != 0 || !s.aligned16)
    return rows_plan("head dim not a multiple of 4 or unaligned data: no 16-byte tile loads");
  plan.variant = FwdVariant::tiled;
  plan.d_bucket = bucket_simt(dmax);
  plan.tile = simt_tile(plan.d_bucket);
  plan.threads = tiled_threads(plan.d_bucket);
  const std::int64_t qtiles = ceil_div(s.sq, plan.tile), ktiles = ceil_div(s.sk, plan.tile);
  const std::int64_t slots =
      static_cast<std::int64_t>(s.sm_count) * tiled_blocks_per_sm(plan.d_bucket, plan.threads);
  plan.splits = split_count(qtiles * s.batch_heads, ktiles, slots);
  plan.tiles_per_split = static_cast<int>(ceil_div(ktiles, plan.splits));
  plan.splits = static_cast<int>(ceil_div(ktiles, plan.tiles_per_split));
  plan.reason = plan.splits > 1 ? "fp32 flash tiles, split over keys to fill the SMs in whole waves"
                                : "fp32 flash tiles (64x64, cp.async double stream)";
  return plan;
}

// ---- cuDNN fused attention (second bf16/fp16 variant) -------------------------------------

inline AttnOverride parse_attn_override(const char* v) {
  if (v == nullptr) return AttnOverride::none;
  const std::string_view s(v);
  return s == "own"     ? AttnOverride::own
         : s == "cudnn" ? AttnOverride::cudnn
         : s == "mma"   ? AttnOverride::mma
         : s == "wgmma" ? AttnOverride::wgmma
                        : AttnOverride::none;
}

// Shapes cuDNN's flash engines take: 16-bit, head dims multiples of 8 up to 128. Causal with
// Sq > Sk is ours: its first rows see no key (zero here; cuDNN's -inf mask gives NaN or mean(V)).
inline bool cudnn_shape_ok(const FwdShape& s) {
  return is_half(s.precision) && s.d % 8 == 0 && s.dv % 8 == 0 && s.d <= 128 && s.dv <= 128 &&
         s.d > 0 && s.dv > 0 && !(s.causal && s.sq > s.sk);
}

// Where cuDNN's kernel beats ours by more than its extra cost: a pass converting its 16-bit O to
// float32 (~0.1 ms at B4 H16 S4096 D128) and ~8 us more host time per call. H100, cuDNN 9.19 vs
// the wgmma kernel, B4 H16 S4096, whole call: head dim 128 ours 1.05 ms vs 1.12 (causal 0.69 vs
// 0.78): ours; head dim 64 ours 0.83 vs 0.73 (causal 0.51 vs 0.49): cuDNN. Heads that our
// kernel pads to its 128 bucket (72..120) cost it up to 1.8x the work: cuDNN. Below 2048 keys or
// queries (an earlier sweep against a slower kernel of ours put the crossover at 512-1024; not
// re-measured since): ours.
inline bool cudnn_worth_it(const FwdShape& s) {
  const std::int64_t shortest = s.sq < s.sk ? s.sq : s.sk;
  const int dmax = s.d > s.dv ? s.d : s.dv;
  return shortest >= 2048 && (dmax <= 64 || dmax % 64 != 0);
}

// The forward plan: our kernel's (plan_forward), switched to cuDNN where it wins; the own plan
// stays as `fallback` for a run-time refusal.
inline FwdPlan choose_forward(const FwdShape& s) {
  FwdPlan plan = plan_forward(s);
  if (s.choice == AttnOverride::own || s.choice == AttnOverride::mma ||
      s.choice == AttnOverride::wgmma || !cudnn_shape_ok(s))
    return plan;
  const bool forced = s.choice == AttnOverride::cudnn;
  plan.required = forced;
  // Backward: cuDNN's (forward for O and Stats, then its fused backward) took 3.9 ms at B4 H16
  // S4096 D128 on H100 against 9.1 ms for ours (mma.sync, forward included), 2.4 vs 4.8 at D64.
  // Below a tile of 64 queries or keys, ours: a plan build per small shape costs more than it
  // saves.
  plan.cudnn_backward = forced || (s.cudnn && s.sq >= 64 && s.sk >= 64);
  if (!forced && !(s.cudnn && cudnn_worth_it(s))) return plan;
  plan.fallback = plan.variant;
  plan.variant = FwdVariant::cudnn;
  plan.reason = forced ? "LC_CUDA_ATTN=cudnn: cuDNN fused flash attention (16-bit Q/K/V/O)"
                       : "bf16/fp16, long sequences, head dim <= 64 or padded by ours: cuDNN";
  return plan;
}

// Backward: SIMT kernels on a 64-multiple head-dim bucket.
struct BwdPlan {
  int d_bucket = 64;
  int tile = 64;
  const char* reason = "";
};
inline BwdPlan plan_backward(int d, int dv) {
  BwdPlan plan;
  plan.d_bucket = bucket_simt(d > dv ? d : dv);
  plan.tile = simt_tile(plan.d_bucket);
  plan.reason = "fp32 SIMT backward (dK/dV per key tile, dQ per query tile; no atomics)";
  return plan;
}

}  // namespace lc::cuda::attn
