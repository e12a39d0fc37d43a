// Attention forward, one warp per query row (or kRows rows): the path for short sequences and
// for shapes the tiled kernels do not take (odd head dims, unaligned data). Any D <= 256,
// Dv <= 32*kVCols, causal, GQA. Lane j scores key j of a 32-key chunk; the output columns are
// spread over the lanes. K/V chunks are shared by the block's 4 warps through shared memory.
#pragma once

#include <cmath>

#include "attention_common.cuh"
#include "attention_ptx.cuh"

namespace lc::cuda::kern {

inline constexpr int kRowsWarps = 4;

// Shared floats: Q rows (kRows*4 x d4), two K chunks (32 x ldk), two V chunks (32 x 32*kVCols),
// P (rows x 32). Chunks are double-buffered: chunk c+1 loads (cp.async) while c is computed.
__host__ __device__ inline int rows_ldk(int d) {
  const int d4 = (d + 3) & ~3;
  return (d4 & 7) ? d4
                  : d4 + 4;  // = 4 mod 8: lanes reading 16 B of different rows hit distinct banks
}
__host__ __device__ inline int rows_smem_floats(int d, int kRows, int kVCols) {
  const int d4 = (d + 3) & ~3;
  return kRowsWarps * kRows * d4 + 2 * 32 * rows_ldk(d) + 2 * 32 * 32 * kVCols +
         kRowsWarps * kRows * 32;
}

// K and V rows [k0, k0+32) into shared memory, zero-filled past Sk and past d/dv. 16-byte
// copies when the rows allow them (vec), else 4-byte ones.
template <int kLdv>
__device__ __forceinline__ void rows_load_chunk(float* sK, float* sV, const float* kg,
                                                const float* vg, int k0, int sk, int d, int d4,
                                                int ldk, int dv, bool vec) {
  const int tid = threadIdx.x;
  if (vec) {
    const int kc = d4 >> 2;
    for (int idx = tid; idx < 32 * kc; idx += kRowsWarps * 32) {
      const int r = idx / kc, c = (idx - r * kc) * 4, key = k0 + r;
      const bool ok = key < sk;
      cp_async16(sK + r * ldk + c, ok ? kg + static_cast<std::int64_t>(key) * d + c : kg,
                 ok ? 16 : 0);
    }
    constexpr int vc = kLdv / 4;
    for (int idx = tid; idx < 32 * vc; idx += kRowsWarps * 32) {
      const int r = idx / vc, c = (idx - r * vc) * 4, key = k0 + r;
      const bool ok = key < sk && c < dv;
      cp_async16(sV + r * kLdv + c, ok ? vg + static_cast<std::int64_t>(key) * dv + c : vg,
                 ok ? 16 : 0);
    }
  } else {
    for (int idx = tid; idx < 32 * d4; idx += kRowsWarps * 32) {
      const int r = idx / d4, c = idx - r * d4, key = k0 + r;
      const bool ok = key < sk && c < d;
      cp_async4(sK + r * ldk + c, ok ? kg + static_cast<std::int64_t>(key) * d + c : kg,
                ok ? 4 : 0);
    }
    for (int idx = tid; idx < 32 * kLdv; idx += kRowsWarps * 32) {
      const int r = idx / kLdv, c = idx - r * kLdv, key = k0 + r;
      const bool ok = key < sk && c < dv;
      cp_async4(sV + r * kLdv + c, ok ? vg + static_cast<std::int64_t>(key) * dv + c : vg,
                ok ? 4 : 0);
    }
  }
}

// Rounds a landed chunk in place (bf16/fp16 policy); fp32 needs no pass.
template <int kRound, int kLdv>
__device__ __forceinline__ void rows_round_chunk(float* sK, float* sV, int ldk) {
  if constexpr (kRound != kRoundNone) {
    for (int idx = threadIdx.x; idx < 32 * ldk; idx += kRowsWarps * 32)
      sK[idx] = round_input<kRound>(sK[idx]);
    for (int idx = threadIdx.x; idx < 32 * kLdv; idx += kRowsWarps * 32)
      sV[idx] = round_input<kRound>(sV[idx]);
  }
}

template <int kRows, int kVCols, int kRound>
__global__ void __launch_bounds__(kRowsWarps * 32) attention_rows_kernel(AttnFwdParams p) {
  extern __shared__ float4 rows_smem4[];
  float* smem = reinterpret_cast<float*>(rows_smem4);
  constexpr int kBlockRows = kRowsWarps * kRows;
  constexpr int kLdv = 32 * kVCols;
  const int d = p.d, dv = p.dv, sq = p.sq, sk = p.sk;
  const int d4 = (d + 3) & ~3;
  const int ldk = rows_ldk(d);
  float* sQ = smem;                   // (kBlockRows, d4), scaled by scale*log2(e)
  float* sKb = sQ + kBlockRows * d4;  // 2 x (32, ldk)
  float* sVb = sKb + 2 * 32 * ldk;    // 2 x (32, kLdv)
  float* sP = sVb + 2 * 32 * kLdv;    // (kBlockRows, 32)

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  const int row0 = blockIdx.x * kBlockRows;
  const float* qg = p.q + static_cast<std::int64_t>(bh) * sq * d;
  const float* kg = p.k + static_cast<std::int64_t>(bkv) * sk * d;
  const float* vg = p.v + static_cast<std::int64_t>(bkv) * sk * dv;
  const bool vec =
      ((d | dv) & 3) == 0 &&
      ((reinterpret_cast<std::uintptr_t>(p.k) | reinterpret_cast<std::uintptr_t>(p.v)) & 15) == 0;

  const int last_row = min(row0 + kBlockRows, sq) - 1;
  const int kend = key_limit(last_row, sq, sk, p.causal);
  if (kend > 0) {
    rows_load_chunk<kLdv>(sKb, sVb, kg, vg, 0, sk, d, d4, ldk, dv, vec);
    cp_async_commit();
  }
  for (int idx = tid; idx < kBlockRows * d4; idx += blockDim.x) {
    const int r = idx / d4, c = idx - r * d4, row = row0 + r;
    sQ[idx] = (row < sq && c < d)
                  ? round_input<kRound>(qg[static_cast<std::int64_t>(row) * d + c]) * p.scale_log2
                  : 0.f;
  }

  float m[kRows], lsum[kRows], acc[kRows][kVCols];
  int lim[kRows];
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int row = row0 + warp * kRows + i;
    m[i] = -INFINITY;
    lsum[i] = 0.f;
    lim[i] = row < sq ? key_limit(row, sq, sk, p.causal) : 0;
#pragma unroll
    for (int c = 0; c < kVCols; ++c) acc[i][c] = 0.f;
  }

  for (int k0 = 0, buf = 0; k0 < kend; k0 += 32, buf ^= 1) {
    if (k0 + 32 < kend)  // the other buffer was released by the barrier that ended the last chunk
      rows_load_chunk<kLdv>(sKb + (buf ^ 1) * 32 * ldk, sVb + (buf ^ 1) * 32 * kLdv, kg, vg,
                            k0 + 32, sk, d, d4, ldk, dv, vec);
    cp_async_commit();
    cp_async_wait<1>();  // this chunk has landed
    __syncthreads();
    float* sK = sKb + buf * 32 * ldk;
    float* sV = sVb + buf * 32 * kLdv;
    if constexpr (kRound != kRoundNone) {
      rows_round_chunk<kRound, kLdv>(sK, sV, ldk);
      __syncthreads();
    }

    float s[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) s[i] = 0.f;
    const float* krow = sK + lane * ldk;
    for (int c = 0; c < d4; c += 4) {
      const float4 kv = *reinterpret_cast<const float4*>(krow + c);
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
        const float4 qv = *reinterpret_cast<const float4*>(sQ + (warp * kRows + i) * d4 + c);
        s[i] = fmaf(qv.x, kv.x, fmaf(qv.y, kv.y, fmaf(qv.z, kv.z, fmaf(qv.w, kv.w, s[i]))));
      }
    }
    const int key = k0 + lane;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const float si = key < lim[i] ? s[i] : -INFINITY;
      const float mnew = fmaxf(m[i], warp_max(si));
      const float muse = mnew == -INFINITY ? 0.f : mnew;
      const float pi = exp2_approx(si - muse);
      const float alpha = exp2_approx(m[i] - muse);
      m[i] = mnew;
      lsum[i] = lsum[i] * alpha + pi;
#pragma unroll
      for (int c = 0; c < kVCols; ++c) acc[i][c] *= alpha;
      sP[(warp * kRows + i) * 32 + lane] = pi;
    }
    __syncwarp();
    for (int j = 0; j < 32; j += 4) {
      float4 pv[kRows];
#pragma unroll
      for (int i = 0; i < kRows; ++i)
        pv[i] = *reinterpret_cast<const float4*>(sP + (warp * kRows + i) * 32 + j);
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
#pragma unroll
        for (int c = 0; c < kVCols; ++c) {
          const float vv = sV[(j + jj) * kLdv + lane + 32 * c];
#pragma unroll
          for (int i = 0; i < kRows; ++i) {
            const float pj = jj == 0 ? pv[i].x : jj == 1 ? pv[i].y : jj == 2 ? pv[i].z : pv[i].w;
            acc[i][c] = fmaf(pj, vv, acc[i][c]);
          }
        }
      }
    }
    __syncthreads();  // this buffer (and sP) consumed: the next iteration refills it
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int row = row0 + warp * kRows + i;
    const float l = warp_sum(lsum[i]);
    if (row >= sq) continue;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    float* og = p.out + (static_cast<std::int64_t>(bh) * sq + row) * dv;
#pragma unroll
    for (int c = 0; c < kVCols; ++c) {
      const int col = lane + 32 * c;
      if (col < dv) og[col] = acc[i][c] * inv;
    }
    if (p.lse2 && lane == 0)
      p.lse2[static_cast<std::int64_t>(bh) * sq + row] = l > 0.f ? m[i] + log2f(l) : INFINITY;
  }
}

}  // namespace lc::cuda::kern
