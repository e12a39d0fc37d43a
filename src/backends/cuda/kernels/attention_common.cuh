// Device helpers shared by the attention kernels: input rounding (the precision policy),
// exp2, warp reductions and the parameter blocks. Device code only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace lc::cuda::kern {

// How inputs are rounded before use: fp32 keeps them; bf16/fp16 round to 16 bits (RNE).
enum RoundMode : int { kRoundNone = 0, kRoundBf16 = 1, kRoundFp16 = 2 };

template <int R>
__device__ __forceinline__ float round_input(float x) {
  if constexpr (R == kRoundBf16)
    return __bfloat162float(__float2bfloat16_rn(x));
  else if constexpr (R == kRoundFp16)
    return __half2float(__float2half_rn(x));
  else
    return x;
}

// 2^x; 2^-inf = +0, which the online softmax relies on for masked keys.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The largest key index (exclusive) query `i` may see: bottom-right aligned causal mask
// (key j visible iff j <= i + Sk - Sq); may be <= 0 (the row sees nothing).
__device__ __forceinline__ int key_limit(int i, int sq, int sk, bool causal) {
  if (!causal) return sk;
  const int lim = i + (sk - sq) + 1;
  return lim < sk ? lim : sk;
}

// Forward problem, [B,H,S,D] contiguous fp32. lse (optional) is log2-domain:
// lse2[i] = max_j s_ij + log2(sum_j 2^(s_ij - max)), with s = q.k * scale * log2(e);
// +inf for a row that sees no key (so 2^(s - lse2) = 0 there).
struct AttnFwdParams {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  float* lse2;
  int heads, kv_heads;  // H, Hkv (H % Hkv == 0)
  int sq, sk, d, dv;
  float scale_log2;
  bool causal;
  // Split over keys (tiled kernels): partial (unnormalised) outputs and (max, sum) per row.
  float* part_o;   // (splits, B*H, Sq, Dv)
  float* part_ml;  // (splits, B*H, Sq, 2)
  int splits;
  int tiles_per_split;
};

// The same for tensor-core kernels reading 16-bit copies padded to the head-dim bucket:
// q16 (B*H, Sq, Dp), k16/v16 (B*Hkv, Sk, Dp).
struct AttnFwd16Params {
  const void* q16;
  const void* k16;
  const void* v16;
  float* out;
  float* lse2;
  int heads, kv_heads;
  int sq, sk, dv;
  float scale_log2;
  bool causal;
};

struct AttnBwdParams {
  const float* q;
  const float* k;
  const float* v;
  const float* dout;
  const float* lse2;   // (B*H, Sq) from the forward
  const float* delta;  // (B*H, Sq): rowsum(dout * out)
  float* dq;
  float* dk;
  float* dv_out;
  int heads, kv_heads;
  int sq, sk, d, dv;
  float scale;
  float scale_log2;
  bool causal;
};

}  // namespace lc::cuda::kern
