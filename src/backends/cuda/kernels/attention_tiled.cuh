// fp32 flash attention forward (SIMT, strict fp32 arithmetic): a block of 128 or 256 threads takes
// kT query rows, streams kT-key tiles of K and V through shared memory with cp.async (K of the
// next tile loads during P@V, V during the next Q@K^T), keeps the online softmax in registers
// and never materialises the S x S scores. Optionally split over keys (blockIdx.z), partial
// results merged by attention_split_combine_kernel. Needs D % 4 == Dv % 4 == 0 and 16-byte
// aligned rows.
#pragma once

#include <cmath>

#include "attention_ptx.cuh"
#include "attention_simt.cuh"

namespace lc::cuda::kern {

template <int kD, int kT>
struct TiledFwdSmem {
  static constexpr int kLd = kD + 4, kLdp = kT + 4;
  static constexpr int kFloats = 2 * kT * kLd + kT * kD + kT * kLdp;  // Q, K, V, P
  static constexpr int kBytes = kFloats * 4;
};

template <int kD, int kT, int kThreads>
__device__ __forceinline__ void tiled_load_kv(float* dst, int ld, const float* src, int key0,
                                              int sk, int cols) {
  constexpr int kChunks = kD / 4;
  for (int idx = threadIdx.x; idx < kT * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c4 = (idx % kChunks) * 4, key = key0 + r;
    const bool ok = key < sk && c4 < cols;
    cp_async16(dst + r * ld + c4, ok ? src + static_cast<std::int64_t>(key) * cols + c4 : src,
               ok ? 16 : 0);
  }
}

// kThreads = 256 (4x4 score micro-tiles) or 128 (8x4: fewer shared reads per FMA).
template <int kD, int kT, int kThreads>
__global__ void __launch_bounds__(kThreads) attention_tiled_kernel(AttnFwdParams p) {
  using Smem = TiledFwdSmem<kD, kT>;
  constexpr int kRS = kThreads / 16, M = kT / kRS, N = kT / 16, C = kD / 64;
  constexpr int kLd = Smem::kLd, kLdp = Smem::kLdp;
  extern __shared__ float4 tiled_smem4[];
  float* sQ = reinterpret_cast<float*>(tiled_smem4);
  float* sK = sQ + kT * kLd;
  float* sV = sK + kT * kLd;  // (kT, kD), unpadded: rows are read whole, 16 lanes in a row
  float* sP = sV + kT * kD;

  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int sq = p.sq, sk = p.sk, d = p.d, dv = p.dv, diag = sk - sq;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  const int row0 = blockIdx.x * kT;
  const float* qg = p.q + static_cast<std::int64_t>(bh) * sq * d;
  const float* kg = p.k + static_cast<std::int64_t>(bkv) * sk * d;
  const float* vg = p.v + static_cast<std::int64_t>(bkv) * sk * dv;

  const int last_row = min(row0 + kT, sq) - 1;
  const int kend = key_limit(last_row, sq, sk, p.causal);
  const int ntiles = kend > 0 ? (kend + kT - 1) / kT : 0;
  const int t0 = blockIdx.z * p.tiles_per_split;
  const int t1 = min(ntiles, t0 + p.tiles_per_split);

  {  // Q, pre-scaled by scale*log2(e), zero-padded to kD
    constexpr int kChunks = kD / 4;
    for (int idx = tid; idx < kT * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c4 = (idx % kChunks) * 4, row = row0 + r;
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (row < sq && c4 < d) {
        v = *reinterpret_cast<const float4*>(qg + static_cast<std::int64_t>(row) * d + c4);
        v.x *= p.scale_log2;
        v.y *= p.scale_log2;
        v.z *= p.scale_log2;
        v.w *= p.scale_log2;
      }
      *reinterpret_cast<float4*>(sQ + r * kLd + c4) = v;
    }
  }
  if (t0 < t1) {
    tiled_load_kv<kD, kT, kThreads>(sK, kLd, kg, t0 * kT, sk, d);
    cp_async_commit();
    tiled_load_kv<kD, kT, kThreads>(sV, kD, vg, t0 * kT, sk, dv);
    cp_async_commit();
  }

  float m[M], l[M];
  float4 o[M][C];
#pragma unroll
  for (int i = 0; i < M; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
#pragma unroll
    for (int c = 0; c < C; ++c) o[i][c] = make_float4(0.f, 0.f, 0.f, 0.f);
  }

  for (int t = t0; t < t1; ++t) {
    cp_async_wait<1>();  // K_t (V_t may still be in flight)
    __syncthreads();
    float s[M][N];
#pragma unroll
    for (int i = 0; i < M; ++i)
#pragma unroll
      for (int j = 0; j < N; ++j) s[i][j] = 0.f;
    mm_nt<M, N, kD, kRS>(s, sQ, kLd, sK, kLd, tx, ty);
    __syncthreads();  // sK consumed: the next K tile may land there
    if (t + 1 < t1) tiled_load_kv<kD, kT, kThreads>(sK, kLd, kg, (t + 1) * kT, sk, d);
    cp_async_commit();

    const int key0 = t * kT;
    const bool need_mask = key0 + kT > sk || (p.causal && key0 + kT - 1 > row0 + diag);
#pragma unroll
    for (int i = 0; i < M; ++i) {
      if (need_mask) {
        const int lim = key_limit(row0 + ty + kRS * i, sq, sk, p.causal);
#pragma unroll
        for (int j = 0; j < N; ++j)
          if (key0 + tx + 16 * j >= lim) s[i][j] = -INFINITY;
      }
      float mx = s[i][0];
#pragma unroll
      for (int j = 1; j < N; ++j) mx = fmaxf(mx, s[i][j]);
#pragma unroll
      for (int o2 = 1; o2 < 16; o2 <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o2));
      const float mnew = fmaxf(m[i], mx);
      const float muse = mnew == -INFINITY ? 0.f : mnew;
      const float alpha = exp2_approx(m[i] - muse);
      m[i] = mnew;
      float rs = 0.f;
#pragma unroll
      for (int j = 0; j < N; ++j) {
        s[i][j] = exp2_approx(s[i][j] - muse);
        rs += s[i][j];
        sP[(ty + kRS * i) * kLdp + tx + 16 * j] = s[i][j];
      }
      l[i] = l[i] * alpha + rs;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        o[i][c].x *= alpha;
        o[i][c].y *= alpha;
        o[i][c].z *= alpha;
        o[i][c].w *= alpha;
      }
    }
    cp_async_wait<1>();  // V_t
    __syncthreads();
    mm_nn<M, C, kT, kRS>(o, sP, kLdp, sV, kD, tx, ty);
    __syncthreads();  // sV and sP consumed
    if (t + 1 < t1) tiled_load_kv<kD, kT, kThreads>(sV, kD, vg, (t + 1) * kT, sk, dv);
    cp_async_commit();
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < M; ++i) {
#pragma unroll
    for (int o2 = 1; o2 < 16; o2 <<= 1) l[i] += __shfl_xor_sync(0xffffffffu, l[i], o2);
    const int row = row0 + ty + kRS * i;
    if (row >= sq) continue;
    const std::int64_t r = static_cast<std::int64_t>(bh) * sq + row;
    if (p.splits == 1) {
      const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int col = 4 * tx + 64 * c;
        if (col < dv)
          *reinterpret_cast<float4*>(p.out + r * dv + col) =
              make_float4(o[i][c].x * inv, o[i][c].y * inv, o[i][c].z * inv, o[i][c].w * inv);
      }
      if (p.lse2 && tx == 0) p.lse2[r] = l[i] > 0.f ? m[i] + log2f(l[i]) : INFINITY;
    } else {
      const std::int64_t rows_all = static_cast<std::int64_t>(gridDim.y) * sq;
      const std::int64_t pr = static_cast<std::int64_t>(blockIdx.z) * rows_all + r;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int col = 4 * tx + 64 * c;
        if (col < dv) *reinterpret_cast<float4*>(p.part_o + pr * dv + col) = o[i][c];
      }
      if (tx == 0) *reinterpret_cast<float2*>(p.part_ml + pr * 2) = make_float2(m[i], l[i]);
    }
  }
}

// Merges the key splits: out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s. One warp per row.
__global__ void __launch_bounds__(128)
    attention_split_combine_kernel(AttnFwdParams p, std::int64_t rows) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  float mmax = -INFINITY;
  for (int s = 0; s < p.splits; ++s) mmax = fmaxf(mmax, p.part_ml[(s * rows + r) * 2]);
  const float muse = mmax == -INFINITY ? 0.f : mmax;
  float lsum = 0.f;
  for (int s = 0; s < p.splits; ++s) {
    const float2 ml = *reinterpret_cast<const float2*>(p.part_ml + (s * rows + r) * 2);
    lsum += ml.y * exp2_approx(ml.x - muse);
  }
  const float inv = lsum > 0.f ? 1.f / lsum : 0.f;
  for (int col = lane; col < p.dv; col += 32) {
    float acc = 0.f;
    for (int s = 0; s < p.splits; ++s) {
      const float w = exp2_approx(p.part_ml[(s * rows + r) * 2] - muse);
      acc = fmaf(w, p.part_o[(s * rows + r) * p.dv + col], acc);
    }
    p.out[r * p.dv + col] = acc * inv;
  }
  if (p.lse2 && lane == 0) p.lse2[r] = lsum > 0.f ? mmax + log2f(lsum) : INFINITY;
}

}  // namespace lc::cuda::kern
