// bf16/fp16 attention backward on tensor cores (mma.sync m16n8k16, fp32 accumulation), from the
// forward's log-sum-exp: P = 2^(s - lse2), dP = dO V^T, dS = P (dP - delta). Two deterministic
// kernels, no atomics, no shared-memory transposes:
//   dkdv: one block per (b, kv head, 64-key tile), each warp 16 keys. It computes S^T = K Q^T
//         and dP^T = V dO^T directly, so P^T and dS^T sit in registers in the accumulator layout,
//         which is the A-operand layout of dV += P^T dO and dK += dS^T Q (dO and Q then read
//         with ldmatrix.trans). It loops over the query tiles of every head sharing the kv head.
//   dq:   one block per (b, head, 64-query tile), each warp 16 queries, looping over key tiles:
//         S = Q K^T, dP = dO V^T, dQ += dS K (K read with ldmatrix.trans).
// Inputs are 16-bit copies padded with zeros to the head-dim bucket kD (attention_pack16_kernel);
// P and dS are rounded to 16 bits for their MMAs, as FlashAttention does.
#pragma once

#include <cmath>

#include "attention_common.cuh"
#include "attention_mma.cuh"
#include "attention_ptx.cuh"

namespace lc::cuda::kern {

struct AttnBwd16Params {
  const std::uint16_t* q16;   // [B*H, sq, kD]
  const std::uint16_t* k16;   // [B*Hkv, sk, kD]
  const std::uint16_t* v16;   // [B*Hkv, sk, kD]
  const std::uint16_t* do16;  // [B*H, sq, kD]
  const float* lse2;          // [B*H*sq], log2 domain, +inf for rows that see nothing
  const float* delta;         // [B*H*sq]
  float* dq;                  // [B*H, sq, d]
  float* dk;                  // [B*Hkv, sk, d]
  float* dv;                  // [B*Hkv, sk, dv]
  int heads, kv_heads;
  int sq, sk, d, dv_dim;
  float scale, scale_log2;
  bool causal;
};

// Keys per dK/dV block (4 warps x 16) and queries per inner tile: 32 at kD = 128 so that the
// dK, dV, S^T and dP^T accumulators fit in registers.
template <int kD>
struct BwdMmaConfig {
  static constexpr int kWarps = 4;
  static constexpr int kBc = 64;                     // keys per dkdv block
  static constexpr int kBrIn = kD >= 128 ? 32 : 64;  // queries per dkdv step
  static constexpr int kBr = 64;                     // queries per dq block
  static constexpr int kBcIn = 64;                   // keys per dq step
  // The streamed tiles (Q/dO steps of dkdv, K/V steps of dq) are double-buffered.
  static constexpr int kDkdvSmem = (2 * kBc + 4 * kBrIn) * kD * 2 + 4 * kBrIn * 4;
  static constexpr int kDqSmem = (2 * kBr + 4 * kBcIn) * kD * 2 + 2 * kBr * 4;
};

// Writes the 16 x kD accumulator tile of one warp (rows row0 + g, row0 + g + 8) scaled by `mul`
// into dst [rows, cols] fp32, skipping rows >= nrows and columns >= cols.
template <int kD>
__device__ __forceinline__ void store_acc_rows(float* dst, const float (&acc)[kD / 8][4], int row0,
                                               int nrows, int cols, float mul, int g, int tq) {
  const int r_lo = row0 + g, r_hi = r_lo + 8;
#pragma unroll
  for (int i = 0; i < kD / 8; ++i) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int col = i * 8 + 2 * tq + e;
      if (col >= cols) continue;
      if (r_lo < nrows) dst[static_cast<std::int64_t>(r_lo) * cols + col] = acc[i][e] * mul;
      if (r_hi < nrows) dst[static_cast<std::int64_t>(r_hi) * cols + col] = acc[i][2 + e] * mul;
    }
  }
}

// x = A1 B1^T and y = A2 B2^T for this warp's 16 rows of A1/A2 (rows a_row.. of (rows, kD)
// tiles) against the kN rows of B1/B2, k-dim the head dim: S with dP, or S^T with dP^T.
template <int kD, int kN, bool kHalf>
__device__ __forceinline__ void two_products(float (&x)[kN / 8][4], float (&y)[kN / 8][4],
                                             const std::uint16_t* a1, const std::uint16_t* a2,
                                             const std::uint16_t* b1, const std::uint16_t* b2,
                                             int lane, int warp) {
  const int a_row = warp * 16 + (lane & 7) + 8 * ((lane >> 3) & 1), a_col = lane >> 4;
  const int b_row = (lane & 7) + 8 * (lane >> 4), b_col = (lane >> 3) & 1;
#pragma unroll
  for (int n = 0; n < kN / 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) x[n][e] = y[n][e] = 0.f;
#pragma unroll
  for (int kc = 0; kc < kD / 16; ++kc) {
    std::uint32_t f1[4], f2[4];
    ldmatrix_x4(f1, a1 + swz<kD>(a_row, 2 * kc + a_col));
    ldmatrix_x4(f2, a2 + swz<kD>(a_row, 2 * kc + a_col));
#pragma unroll
    for (int np = 0; np < kN / 16; ++np) {
      std::uint32_t g1[4], g2[4];
      ldmatrix_x4(g1, b1 + swz<kD>(np * 16 + b_row, 2 * kc + b_col));
      ldmatrix_x4(g2, b2 + swz<kD>(np * 16 + b_row, 2 * kc + b_col));
      mma_16816<kHalf>(x[2 * np], f1, g1[0], g1[1]);
      mma_16816<kHalf>(x[2 * np + 1], f1, g1[2], g1[3]);
      mma_16816<kHalf>(y[2 * np], f2, g2[0], g2[1]);
      mma_16816<kHalf>(y[2 * np + 1], f2, g2[2], g2[3]);
    }
  }
}

// acc (16 x kD) += P B, P (16 x kK) an accumulator-layout tile rounded to 16 bits as the A
// operand, B the (kK, kD) tile read with ldmatrix.trans: dV += P^T dO, dK += dS^T Q, dQ += dS K.
template <int kD, int kK, bool kHalf>
__device__ __forceinline__ void accumulate_times(float (&acc)[kD / 8][4],
                                                 const float (&pt)[kK / 8][4],
                                                 const std::uint16_t* b, int lane) {
  const int t_row = (lane & 7) + 8 * ((lane >> 3) & 1), t_col = lane >> 4;
#pragma unroll
  for (int kc = 0; kc < kK / 16; ++kc) {
    std::uint32_t a[4];
    a[0] = pack2<kHalf>(pt[2 * kc][0], pt[2 * kc][1]);
    a[1] = pack2<kHalf>(pt[2 * kc][2], pt[2 * kc][3]);
    a[2] = pack2<kHalf>(pt[2 * kc + 1][0], pt[2 * kc + 1][1]);
    a[3] = pack2<kHalf>(pt[2 * kc + 1][2], pt[2 * kc + 1][3]);
#pragma unroll
    for (int dpi = 0; dpi < kD / 16; ++dpi) {
      std::uint32_t f[4];
      ldmatrix_x4_trans(f, b + swz<kD>(kc * 16 + t_row, 2 * dpi + t_col));
      mma_16816<kHalf>(acc[2 * dpi], a, f[0], f[1]);
      mma_16816<kHalf>(acc[2 * dpi + 1], a, f[2], f[3]);
    }
  }
}

template <int kD, bool kHalf>
__global__ void __launch_bounds__(128) attention_bwd_dkdv_mma_kernel(AttnBwd16Params p) {
  using Cfg = BwdMmaConfig<kD>;
  constexpr int kBc = Cfg::kBc, kBr = Cfg::kBrIn, kThreads = Cfg::kWarps * 32;
  constexpr int kNq = kBr / 8;  // n-tiles over the queries of a step
  constexpr int kDt = kD / 8;   // n-tiles over the head dim
  extern __shared__ uint4 bwd_mma_smem[];
  std::uint16_t* sK = reinterpret_cast<std::uint16_t*>(bwd_mma_smem);
  std::uint16_t* sV = sK + kBc * kD;
  std::uint16_t* sQ0 = sV + kBc * kD;                         // [2][kBr * kD]
  std::uint16_t* sO0 = sQ0 + 2 * kBr * kD;                    // dO, [2][kBr * kD]
  float* sL0 = reinterpret_cast<float*>(sO0 + 2 * kBr * kD);  // [2][kBr]
  float* sDel0 = sL0 + 2 * kBr;                               // [2][kBr]

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int sq = p.sq, sk = p.sk, diag = sk - sq;
  const int bkv = blockIdx.y;
  const int b = bkv / p.kv_heads, hk = bkv - b * p.kv_heads;
  const int group = p.heads / p.kv_heads;
  const int key0 = blockIdx.x * kBc;
  mma_load_tile<kD, kBc, kThreads>(sK, p.k16 + static_cast<std::int64_t>(bkv) * sk * kD, key0, sk);
  mma_load_tile<kD, kBc, kThreads>(sV, p.v16 + static_cast<std::int64_t>(bkv) * sk * kD, key0, sk);
  cp_async_commit();

  float dk[kDt][4], dv[kDt][4];
#pragma unroll
  for (int i = 0; i < kDt; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;

  const int k_lo = key0 + warp * 16 + g, k_hi = k_lo + 8;  // this lane's two keys
  // Causal: query i sees key j iff j < key_limit(i), i.e. i >= j - diag. The steps: every
  // query tile from there, for each head of the group.
  const int q_start = (p.causal ? max(0, key0 - diag) : 0) / kBr * kBr;
  const int per_head = (sq - q_start + kBr - 1) / kBr, steps = group * per_head;
  const float sl2 = p.scale_log2;
  auto head_of = [&](int t) { return b * p.heads + hk * group + t / per_head; };
  auto q0_of = [&](int t) { return q_start + (t % per_head) * kBr; };
  // Step t's Q, dO, lse2 and delta into buffer t & 1 (the loads are asynchronous).
  auto fetch = [&](int t) {
    const int bh = head_of(t), q0 = q0_of(t), buf = t & 1;
    const std::int64_t base = static_cast<std::int64_t>(bh) * sq;
    mma_load_tile<kD, kBr, kThreads>(sQ0 + buf * kBr * kD, p.q16 + base * kD, q0, sq);
    mma_load_tile<kD, kBr, kThreads>(sO0 + buf * kBr * kD, p.do16 + base * kD, q0, sq);
    cp_async_commit();
    for (int r = tid; r < kBr; r += kThreads) {
      const int row = q0 + r;
      sL0[buf * kBr + r] = row < sq ? p.lse2[base + row] : INFINITY;
      sDel0[buf * kBr + r] = row < sq ? p.delta[base + row] : 0.f;
    }
  };
  if (steps > 0) fetch(0);
  for (int t = 0; t < steps; ++t) {
    if (t + 1 < steps) {
      fetch(t + 1);  // its buffer was last read by step t - 1, finished at the barrier below
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int buf = t & 1, q0 = q0_of(t);
    const std::uint16_t* sQ = sQ0 + buf * kBr * kD;
    const std::uint16_t* sO = sO0 + buf * kBr * kD;
    const float* sL = sL0 + buf * kBr;
    const float* sDel = sDel0 + buf * kBr;

    // S^T = K Q^T and dP^T = V dO^T: A from this warp's 16 keys, B from the query rows.
    float s[kNq][4], dp[kNq][4];
    two_products<kD, kBr, kHalf>(s, dp, sK, sV, sQ, sO, lane, warp);
    // P^T = 2^(s * scale_log2 - lse2[query]) where the query sees the key, else 0;
    // dS^T = P^T (dP^T - delta[query]).
#pragma unroll
    for (int n = 0; n < kNq; ++n)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int qi = n * 8 + 2 * tq + e, query = q0 + qi;
        const int lim = key_limit(query, sq, sk, p.causal);
        const float l = sL[qi], del = sDel[qi];
        const float p_lo = k_lo < lim ? exp2_approx(fmaf(s[n][e], sl2, -l)) : 0.f;
        const float p_hi = k_hi < lim ? exp2_approx(fmaf(s[n][2 + e], sl2, -l)) : 0.f;
        s[n][e] = p_lo;
        s[n][2 + e] = p_hi;
        dp[n][e] = p_lo * (dp[n][e] - del);
        dp[n][2 + e] = p_hi * (dp[n][2 + e] - del);
      }
    // dV += P^T dO and dK += dS^T Q (k-dim: the queries of the step).
    accumulate_times<kD, kBr, kHalf>(dv, s, sO, lane);
    accumulate_times<kD, kBr, kHalf>(dk, dp, sQ, lane);
    __syncthreads();  // buffer t & 1 is free for step t + 2
  }
  cp_async_wait<0>();
  const std::int64_t kv_off = static_cast<std::int64_t>(bkv) * sk;
  store_acc_rows<kD>(p.dk + kv_off * p.d, dk, key0 + warp * 16, sk, p.d, p.scale, g, tq);
  store_acc_rows<kD>(p.dv + kv_off * p.dv_dim, dv, key0 + warp * 16, sk, p.dv_dim, 1.f, g, tq);
}

template <int kD, bool kHalf>
__global__ void __launch_bounds__(128) attention_bwd_dq_mma_kernel(AttnBwd16Params p) {
  using Cfg = BwdMmaConfig<kD>;
  constexpr int kBr = Cfg::kBr, kBc = Cfg::kBcIn, kThreads = Cfg::kWarps * 32;
  constexpr int kNk = kBc / 8;  // n-tiles over the keys of a step
  constexpr int kDt = kD / 8;
  extern __shared__ uint4 bwd_mma_smem[];
  std::uint16_t* sQ = reinterpret_cast<std::uint16_t*>(bwd_mma_smem);
  std::uint16_t* sO = sQ + kBr * kD;        // dO
  std::uint16_t* sK0 = sO + kBr * kD;       // [2][kBc * kD]
  std::uint16_t* sV0 = sK0 + 2 * kBc * kD;  // [2][kBc * kD]
  float* sL = reinterpret_cast<float*>(sV0 + 2 * kBc * kD);
  float* sDel = sL + kBr;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int sq = p.sq, sk = p.sk;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  const int row0 = blockIdx.x * kBr;
  const std::int64_t base = static_cast<std::int64_t>(bh) * sq;
  mma_load_tile<kD, kBr, kThreads>(sQ, p.q16 + base * kD, row0, sq);
  mma_load_tile<kD, kBr, kThreads>(sO, p.do16 + base * kD, row0, sq);
  cp_async_commit();
  for (int r = tid; r < kBr; r += kThreads) {
    const int row = row0 + r;
    sL[r] = row < sq ? p.lse2[base + row] : INFINITY;
    sDel[r] = row < sq ? p.delta[base + row] : 0.f;
  }
  const std::uint16_t* kg = p.k16 + static_cast<std::int64_t>(bkv) * sk * kD;
  const std::uint16_t* vg = p.v16 + static_cast<std::int64_t>(bkv) * sk * kD;

  const int r_lo = row0 + warp * 16 + g, r_hi = r_lo + 8;  // this lane's two query rows
  const int lim_lo = key_limit(r_lo, sq, sk, p.causal), lim_hi = key_limit(r_hi, sq, sk, p.causal);
  const int kend = key_limit(min(row0 + kBr, sq) - 1, sq, sk, p.causal);
  const int steps = kend > 0 ? (kend + kBc - 1) / kBc : 0;
  const float sl2 = p.scale_log2;

  float dq[kDt][4];
#pragma unroll
  for (int i = 0; i < kDt; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
  float l_lo = 0.f, l_hi = 0.f, del_lo = 0.f, del_hi = 0.f;
  // Step t's K and V tiles into buffer t & 1.
  auto fetch = [&](int t) {
    mma_load_tile<kD, kBc, kThreads>(sK0 + (t & 1) * kBc * kD, kg, t * kBc, sk);
    mma_load_tile<kD, kBc, kThreads>(sV0 + (t & 1) * kBc * kD, vg, t * kBc, sk);
    cp_async_commit();
  };
  if (steps > 0) fetch(0);
  for (int t = 0; t < steps; ++t) {
    if (t + 1 < steps) {
      fetch(t + 1);  // its buffer was last read by step t - 1, finished at the barrier below
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (t == 0) {
      l_lo = sL[warp * 16 + g];
      l_hi = sL[warp * 16 + g + 8];
      del_lo = sDel[warp * 16 + g];
      del_hi = sDel[warp * 16 + g + 8];
    }
    const std::uint16_t* sK = sK0 + (t & 1) * kBc * kD;
    const std::uint16_t* sV = sV0 + (t & 1) * kBc * kD;
    const int k0 = t * kBc;

    float s[kNk][4], dp[kNk][4];  // S = Q K^T, dP = dO V^T
    two_products<kD, kBc, kHalf>(s, dp, sQ, sO, sK, sV, lane, warp);
#pragma unroll
    for (int n = 0; n < kNk; ++n)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = k0 + n * 8 + 2 * tq + e;
        const float p_lo = key < lim_lo ? exp2_approx(fmaf(s[n][e], sl2, -l_lo)) : 0.f;
        const float p_hi = key < lim_hi ? exp2_approx(fmaf(s[n][2 + e], sl2, -l_hi)) : 0.f;
        dp[n][e] = p_lo * (dp[n][e] - del_lo);
        dp[n][2 + e] = p_hi * (dp[n][2 + e] - del_hi);
      }
    accumulate_times<kD, kBc, kHalf>(dq, dp, sK, lane);  // dQ += dS K (k-dim: the keys)
    __syncthreads();                                     // buffer t & 1 is free for step t + 2
  }
  cp_async_wait<0>();
  store_acc_rows<kD>(p.dq + base * p.d, dq, row0 + warp * 16, sq, p.d, p.scale, g, tq);
}

}  // namespace lc::cuda::kern
