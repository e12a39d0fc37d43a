// Attention backward (SIMT, fp32 arithmetic on inputs rounded per the precision policy), from
// the forward's log-sum-exp: P = 2^(s - lse2), dP = dO V^T, dS = P (dP - delta),
// delta = rowsum(dO * O). Two deterministic kernels, no atomics:
//   dkdv: one block per (b, kv head, key tile), looping over the query tiles of every head
//         that shares the kv head (GQA sums there);
//   dq:   one block per (b, head, query tile), looping over the key tiles.
// Tiles of kT rows, head dims padded to kD (a multiple of 64) with zeros.
#pragma once

#include <cmath>

#include "attention_simt.cuh"

namespace lc::cuda::kern {

template <int kD, int kT>
struct BwdSmem {
  static constexpr int kLd = kD + 4, kLdp = kT + 4;
  static constexpr int kFloats = 4 * kT * kLd + kT * kLdp + 2 * kT;
  static constexpr int kBytes = kFloats * 4;
};

// delta[r] = sum_c round(dout[r][c]) * out[r][c]; one warp per row.
template <int kRound>
__global__ void __launch_bounds__(128)
    attention_bwd_delta_kernel(const float* dout, const float* out, float* delta, std::int64_t rows,
                               int dv) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  float acc = 0.f;
  for (int c = lane; c < dv; c += 32)
    acc = fmaf(round_input<kRound>(dout[r * dv + c]), out[r * dv + c], acc);
  acc = warp_sum(acc);
  if (lane == 0) delta[r] = acc;
}

template <int kT>
__device__ __forceinline__ void load_row_stats(float* sL, float* sDel, const float* lse2,
                                               const float* delta, std::int64_t base, int row0,
                                               int sq) {
  for (int r = threadIdx.x; r < kT; r += blockDim.x) {
    const int row = row0 + r;
    sL[r] = row < sq ? lse2[base + row] : INFINITY;
    sDel[r] = row < sq ? delta[base + row] : 0.f;
  }
}

template <int kD, int kT, int kRound>
__global__ void __launch_bounds__(256) attention_bwd_dkdv_kernel(AttnBwdParams p) {
  using Smem = BwdSmem<kD, kT>;
  constexpr int M = kT / 16, C = kD / 64, kLd = Smem::kLd, kLdp = Smem::kLdp;
  extern __shared__ float4 bwd_smem4[];
  float* sK = reinterpret_cast<float*>(bwd_smem4);
  float* sV = sK + kT * kLd;
  float* sQ = sV + kT * kLd;
  float* sO = sQ + kT * kLd;  // dO
  float* sP = sO + kT * kLd;  // P^T, then dS^T  (keys, queries)
  float* sL = sP + kT * kLdp;
  float* sDel = sL + kT;

  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int sq = p.sq, sk = p.sk, diag = sk - sq;
  const int bkv = blockIdx.y;
  const int b = bkv / p.kv_heads, hk = bkv - b * p.kv_heads;
  const int group = p.heads / p.kv_heads;
  const int key0 = blockIdx.x * kT;

  load_tile_rounded<kT, kD, kRound>(sK, kLd, p.k + static_cast<std::int64_t>(bkv) * sk * p.d, key0,
                                    sk, p.d, 1.f);
  load_tile_rounded<kT, kD, kRound>(sV, kLd, p.v + static_cast<std::int64_t>(bkv) * sk * p.dv, key0,
                                    sk, p.dv, 1.f);

  float4 dk[M][C], dv[M][C];
#pragma unroll
  for (int i = 0; i < M; ++i)
#pragma unroll
    for (int c = 0; c < C; ++c) dk[i][c] = dv[i][c] = make_float4(0.f, 0.f, 0.f, 0.f);

  // Causal: query i sees key j iff j <= i + diag, so only queries i >= key0 - diag matter.
  const int q_first = p.causal ? max(0, key0 - diag) : 0;
  const int qt_first = q_first / kT, qt_end = (sq + kT - 1) / kT;
  for (int hh = 0; hh < group; ++hh) {
    const int bh = b * p.heads + hk * group + hh;
    const std::int64_t base = static_cast<std::int64_t>(bh) * sq;
    for (int qt = qt_first; qt < qt_end; ++qt) {
      const int q0 = qt * kT;
      __syncthreads();  // the previous tile's reads are done
      load_tile_rounded<kT, kD, kRound>(sQ, kLd, p.q + base * p.d, q0, sq, p.d, 1.f);
      load_tile_rounded<kT, kD, kRound>(sO, kLd, p.dout + base * p.dv, q0, sq, p.dv, 1.f);
      load_row_stats<kT>(sL, sDel, p.lse2, p.delta, base, q0, sq);
      __syncthreads();

      float pt[M][M];
#pragma unroll
      for (int i = 0; i < M; ++i)
#pragma unroll
        for (int j = 0; j < M; ++j) pt[i][j] = 0.f;
      mm_nt<M, M, kD>(pt, sK, kLd, sQ, kLd, tx, ty);  // S^T (keys, queries)
#pragma unroll
      for (int i = 0; i < M; ++i)
#pragma unroll
        for (int j = 0; j < M; ++j) {
          const int key = key0 + ty + 16 * i, qr = tx + 16 * j, q = q0 + qr;
          const bool vis = key < sk && q < sq && (!p.causal || key <= q + diag);
          pt[i][j] = vis ? exp2_approx(fmaf(pt[i][j], p.scale_log2, -sL[qr])) : 0.f;
          sP[(ty + 16 * i) * kLdp + qr] = pt[i][j];
        }
      __syncthreads();
      mm_nn<M, C, kT>(dv, sP, kLdp, sO, kLd, tx, ty);  // dV += P^T dO
      float dpt[M][M];
#pragma unroll
      for (int i = 0; i < M; ++i)
#pragma unroll
        for (int j = 0; j < M; ++j) dpt[i][j] = 0.f;
      mm_nt<M, M, kD>(dpt, sV, kLd, sO, kLd, tx, ty);  // dP^T = V dO^T
      __syncthreads();                                 // sP (P^T) consumed
#pragma unroll
      for (int i = 0; i < M; ++i)
#pragma unroll
        for (int j = 0; j < M; ++j) {
          const int qr = tx + 16 * j;
          sP[(ty + 16 * i) * kLdp + qr] = pt[i][j] * (dpt[i][j] - sDel[qr]);
        }
      __syncthreads();
      mm_nn<M, C, kT>(dk, sP, kLdp, sQ, kLd, tx, ty);  // dK += dS^T Q
    }
  }

#pragma unroll
  for (int i = 0; i < M; ++i) {
    const int key = key0 + ty + 16 * i;
    if (key >= sk) continue;
    float* dkg = p.dk + (static_cast<std::int64_t>(bkv) * sk + key) * p.d;
    float* dvg = p.dv_out + (static_cast<std::int64_t>(bkv) * sk + key) * p.dv;
#pragma unroll
    for (int c = 0; c < C; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = 4 * tx + 64 * c + e;
        if (col < p.d) dkg[col] = f4_at(dk[i][c], e) * p.scale;
        if (col < p.dv) dvg[col] = f4_at(dv[i][c], e);
      }
  }
}

template <int kD, int kT, int kRound>
__global__ void __launch_bounds__(256) attention_bwd_dq_kernel(AttnBwdParams p) {
  using Smem = BwdSmem<kD, kT>;
  constexpr int M = kT / 16, C = kD / 64, kLd = Smem::kLd, kLdp = Smem::kLdp;
  extern __shared__ float4 bwd_smem4[];
  float* sK = reinterpret_cast<float*>(bwd_smem4);
  float* sV = sK + kT * kLd;
  float* sQ = sV + kT * kLd;
  float* sO = sQ + kT * kLd;
  float* sP = sO + kT * kLd;  // dS (queries, keys)
  float* sL = sP + kT * kLdp;
  float* sDel = sL + kT;

  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int sq = p.sq, sk = p.sk;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  const int q0 = blockIdx.x * kT;
  const std::int64_t base = static_cast<std::int64_t>(bh) * sq;

  load_tile_rounded<kT, kD, kRound>(sQ, kLd, p.q + base * p.d, q0, sq, p.d, 1.f);
  load_tile_rounded<kT, kD, kRound>(sO, kLd, p.dout + base * p.dv, q0, sq, p.dv, 1.f);
  load_row_stats<kT>(sL, sDel, p.lse2, p.delta, base, q0, sq);

  float4 dq[M][C];
#pragma unroll
  for (int i = 0; i < M; ++i)
#pragma unroll
    for (int c = 0; c < C; ++c) dq[i][c] = make_float4(0.f, 0.f, 0.f, 0.f);

  const int kend = key_limit(min(q0 + kT, sq) - 1, sq, sk, p.causal);
  const int ntiles = kend > 0 ? (kend + kT - 1) / kT : 0;
  const float* kg = p.k + static_cast<std::int64_t>(bkv) * sk * p.d;
  const float* vg = p.v + static_cast<std::int64_t>(bkv) * sk * p.dv;
  for (int t = 0; t < ntiles; ++t) {
    const int key0 = t * kT;
    __syncthreads();
    load_tile_rounded<kT, kD, kRound>(sK, kLd, kg, key0, sk, p.d, 1.f);
    load_tile_rounded<kT, kD, kRound>(sV, kLd, vg, key0, sk, p.dv, 1.f);
    __syncthreads();
    float s[M][M], dp[M][M];
#pragma unroll
    for (int i = 0; i < M; ++i)
#pragma unroll
      for (int j = 0; j < M; ++j) s[i][j] = dp[i][j] = 0.f;
    mm_nt<M, M, kD>(s, sQ, kLd, sK, kLd, tx, ty);   // S (queries, keys)
    mm_nt<M, M, kD>(dp, sO, kLd, sV, kLd, tx, ty);  // dP = dO V^T
#pragma unroll
    for (int i = 0; i < M; ++i) {
      const int qr = ty + 16 * i, q = q0 + qr;
      const int lim = q < sq ? key_limit(q, sq, sk, p.causal) : 0;
#pragma unroll
      for (int j = 0; j < M; ++j) {
        const int key = key0 + tx + 16 * j;
        const float pij = key < lim ? exp2_approx(fmaf(s[i][j], p.scale_log2, -sL[qr])) : 0.f;
        sP[qr * kLdp + tx + 16 * j] = pij * (dp[i][j] - sDel[qr]);
      }
    }
    __syncthreads();
    mm_nn<M, C, kT>(dq, sP, kLdp, sK, kLd, tx, ty);  // dQ += dS K
  }

#pragma unroll
  for (int i = 0; i < M; ++i) {
    const int q = q0 + ty + 16 * i;
    if (q >= sq) continue;
    float* dqg = p.dq + (base + q) * p.d;
#pragma unroll
    for (int c = 0; c < C; ++c)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = 4 * tx + 64 * c + e;
        if (col < p.d) dqg[col] = f4_at(dq[i][c], e) * p.scale;
      }
  }
}

}  // namespace lc::cuda::kern
