// bf16/fp16 flash attention forward for Hopper (sm_90a): wgmma.mma_async with fp32
// accumulators, FlashAttention-3 style. One block = 1 + kCons warpgroups: warpgroup 0 is the
// producer (one thread issues TMA loads of Q and of K/V tiles into a kStages-deep ring of
// 128B-swizzled shared tiles, completing on mbarriers); each consumer owns 64 query rows.
// S = Q K^T reads both operands from shared memory (K-major descriptors); P stays in registers
// (the accumulator layout of S is the A-fragment layout) and O += P V reads V through a
// transposed (MN-major) descriptor. Within a warpgroup, S_{t+1} = Q K_{t+1} is issued before
// O += P_t V_t and the softmax of S_{t+1} runs while the tensor cores do P_t V_t.
// Inputs are the 16-bit copies padded to kD (attention_pack16_kernel); tensor maps are 3-D
// (kD, rows, batch*heads) so tails read zeros from TMA's out-of-bounds fill.
#pragma once

#include <cmath>

#include "attention_common.cuh"
#include "attention_wgmma_ptx.cuh"

namespace lc::cuda::kern {

struct AttnWgmmaParams {
  float* out;   // (B*H, Sq, dv) fp32
  float* lse2;  // optional (B*H, Sq)
  int heads, kv_heads;
  int sq, sk, dv;
  float scale_log2;
  bool causal;
  int bh0;  // first batch*head of this launch (gridDim.y is capped at 65535)
  // V descriptor strides (MN-major): column-block stride and 8-key-group stride, in bytes.
  unsigned v_lbo, v_sbo;
};

// Measured on H100 (B4 H16 S4096, docs/perf-notes.md): head dim 64 runs 3 consumer warpgroups
// (more softmax/GEMM overlap: 463 vs 381 TFLOP/s), 128 runs 2 (registers) with 3 K/V stages.
template <int kD_, int kStages_ = (kD_ <= 64 ? 4 : 3), int kCons_ = (kD_ <= 64 ? 3 : 2),
          int kBc_ = 128>
struct WgmmaFwdCfg {
  static constexpr int kD = kD_;
  static constexpr int kCons = kCons_;  // consumer warpgroups, 64 query rows each
  static constexpr int kBr = 64 * kCons;
  static constexpr int kBc = kBc_;          // keys per tile
  static constexpr int kStages = kStages_;  // K/V ring depth (3 x 64 KB fills D128's smem)
  static constexpr int kHalves = kD / 64;   // 128-byte column blocks (TMA box width)
  static constexpr int kQBytes = kBr * kD * 2;
  static constexpr int kKvBytes = kBc * kD * 2;
  static constexpr int kThreads = 128 * (kCons + 1);
  // setmaxnreg budgets (64K registers per SM, one block): producer / consumer warpgroups.
  static constexpr int kProdRegs = kCons == 3 ? 24 : 40;
  static constexpr int kConsRegs = kCons == 3 ? 160 : 232;
  static constexpr int kSmemBytes = 1024 + kQBytes + 2 * kStages * kKvBytes + 8 * (1 + 4 * kStages);
};

// S (64 x kBc per warpgroup) = Q K^T over kD, operands from shared memory.
template <class Cfg, bool kHalf>
__device__ __forceinline__ void wg_issue_qk(float (&s)[Cfg::kBc / 2], std::uint32_t q_addr,
                                            std::uint32_t k_addr) {
#pragma unroll
  for (int kk = 0; kk < Cfg::kD / 16; ++kk) {
    const std::uint32_t qa = q_addr + (kk >> 2) * (Cfg::kBr * 128) + (kk & 3) * 32;
    const std::uint32_t ka = k_addr + (kk >> 2) * (Cfg::kBc * 128) + (kk & 3) * 32;
    wgmma_ss<Cfg::kBc, kHalf>(s, smem_desc(qa, 16, 1024), smem_desc(ka, 16, 1024), kk > 0);
  }
  wgmma_commit();
}

// O (64 x kD) += P (registers) V (shared, keys x kD, read transposed).
template <class Cfg, bool kHalf>
__device__ __forceinline__ void wg_issue_pv(float (&o)[Cfg::kD / 2],
                                            const std::uint32_t (&pa)[Cfg::kBc / 16][4],
                                            std::uint32_t v_addr, unsigned lbo, unsigned sbo) {
#pragma unroll
  for (int kk = 0; kk < Cfg::kBc / 16; ++kk)
    wgmma_rs_t<Cfg::kD, kHalf>(o, pa[kk], smem_desc(v_addr + kk * 16 * 128, lbo, sbo));
  wgmma_commit();
}

// Online softmax of one S tile (rows r_lo = g, r_hi = g + 8 of this warp; element 4j + e of
// n-tile j is key 8j + 2tq + (e & 1), row hi for e >= 2). Leaves 2^(s*scale - m) in s and
// returns the correction factors of the previous maxima.
template <int kBc>
__device__ __forceinline__ void wg_softmax(float (&s)[kBc / 2], float& m_lo, float& m_hi,
                                           float& l_lo, float& l_hi, float& al_lo, float& al_hi,
                                           bool need_mask, int key0, int lim_lo, int lim_hi, int tq,
                                           float sl2) {
  if (need_mask) {
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = key0 + j * 8 + 2 * tq + e;
        if (key >= lim_lo) s[4 * j + e] = -INFINITY;
        if (key >= lim_hi) s[4 * j + 2 + e] = -INFINITY;
      }
  }
  float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
  for (int j = 0; j < kBc / 8; ++j) {
    mx_lo = fmaxf(mx_lo, fmaxf(s[4 * j], s[4 * j + 1]));
    mx_hi = fmaxf(mx_hi, fmaxf(s[4 * j + 2], s[4 * j + 3]));
  }
#pragma unroll
  for (int o2 = 1; o2 < 4; o2 <<= 1) {
    mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, o2));
    mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, o2));
  }
  const float mn_lo = fmaxf(m_lo, mx_lo * sl2), mn_hi = fmaxf(m_hi, mx_hi * sl2);
  const float mu_lo = mn_lo == -INFINITY ? 0.f : mn_lo, mu_hi = mn_hi == -INFINITY ? 0.f : mn_hi;
  al_lo = exp2_approx(m_lo - mu_lo);
  al_hi = exp2_approx(m_hi - mu_hi);
  m_lo = mn_lo;
  m_hi = mn_hi;
  float rs_lo = 0.f, rs_hi = 0.f;
#pragma unroll
  for (int j = 0; j < kBc / 8; ++j) {
    s[4 * j] = exp2_approx(fmaf(s[4 * j], sl2, -mu_lo));
    s[4 * j + 1] = exp2_approx(fmaf(s[4 * j + 1], sl2, -mu_lo));
    s[4 * j + 2] = exp2_approx(fmaf(s[4 * j + 2], sl2, -mu_hi));
    s[4 * j + 3] = exp2_approx(fmaf(s[4 * j + 3], sl2, -mu_hi));
    rs_lo += s[4 * j] + s[4 * j + 1];
    rs_hi += s[4 * j + 2] + s[4 * j + 3];
  }
  l_lo = l_lo * al_lo + rs_lo;
  l_hi = l_hi * al_hi + rs_hi;
}

template <int kBc, bool kHalf>
__device__ __forceinline__ void wg_pack_p(std::uint32_t (&pa)[kBc / 16][4],
                                          const float (&s)[kBc / 2]) {
#pragma unroll
  for (int kk = 0; kk < kBc / 16; ++kk) {
    pa[kk][0] = pack2<kHalf>(s[8 * kk], s[8 * kk + 1]);
    pa[kk][1] = pack2<kHalf>(s[8 * kk + 2], s[8 * kk + 3]);
    pa[kk][2] = pack2<kHalf>(s[8 * kk + 4], s[8 * kk + 5]);
    pa[kk][3] = pack2<kHalf>(s[8 * kk + 6], s[8 * kk + 7]);
  }
}

template <int kD, bool kHalf, int kStages_ = WgmmaFwdCfg<kD>::kStages,
          int kCons = WgmmaFwdCfg<kD>::kCons, int kBcT = 128>
__global__ void __launch_bounds__(WgmmaFwdCfg<kD, kStages_, kCons, kBcT>::kThreads, 1)
    attention_wgmma_kernel(const __grid_constant__ CUtensorMap tmq,
                           const __grid_constant__ CUtensorMap tmk,
                           const __grid_constant__ CUtensorMap tmv, const AttnWgmmaParams p) {
  using Cfg = WgmmaFwdCfg<kD, kStages_, kCons, kBcT>;
  constexpr int kBr = Cfg::kBr, kBc = Cfg::kBc, kStages = Cfg::kStages;
  extern __shared__ __align__(1024) std::uint8_t wg_smem[];
  const std::uint32_t raw = smem_addr(wg_smem);
  std::uint8_t* sQ = wg_smem + (((raw + 1023u) & ~1023u) - raw);
  std::uint8_t* sK = sQ + Cfg::kQBytes;
  std::uint8_t* sV = sK + kStages * Cfg::kKvBytes;
  std::uint64_t* bar_q = reinterpret_cast<std::uint64_t*>(sV + kStages * Cfg::kKvBytes);
  std::uint64_t* full_k = bar_q + 1;
  std::uint64_t* full_v = full_k + kStages;
  std::uint64_t* empty_k = full_v + kStages;   // K slot free once S = Q K^T has completed
  std::uint64_t* empty_v = empty_k + kStages;  // V slot free once O += P V has completed

  const int sq = p.sq, sk = p.sk, diag = sk - sq;
  const int bh = p.bh0 + blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  // Causal: the longest query tiles first, so the short ones fill the tail of the grid.
  const int qtile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const int row0 = qtile * kBr;
  const int kend = key_limit(min(row0 + kBr, sq) - 1, sq, sk, p.causal);
  const int ntiles = kend > 0 ? (kend + kBc - 1) / kBc : 0;

  if (threadIdx.x == 0) {
    mbar_init(bar_q, 1);
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbar_init(&full_k[s], 1);
      mbar_init(&full_v[s], 1);
      mbar_init(&empty_k[s], 4 * kCons);  // one arrive per consumer warp
      mbar_init(&empty_v[s], 4 * kCons);
    }
    mbar_init_fence();
  }
  __syncthreads();

  const int wg = threadIdx.x >> 7;
  if (wg == 0) {  // producer
    setmaxnreg_dec<Cfg::kProdRegs>();
    if (threadIdx.x == 0 && ntiles > 0) {
      tma_prefetch_desc(&tmq);
      tma_prefetch_desc(&tmk);
      tma_prefetch_desc(&tmv);
      mbar_expect_tx(bar_q, Cfg::kQBytes);
#pragma unroll
      for (int c = 0; c < Cfg::kHalves; ++c)
        tma_load_3d(sQ + c * kBr * 128, &tmq, 64 * c, row0, bh, bar_q);
      for (int t = 0; t < ntiles; ++t) {
        const int st = t % kStages, eph = ((t / kStages) - 1) & 1;
        std::uint8_t* k_dst = sK + st * Cfg::kKvBytes;
        std::uint8_t* v_dst = sV + st * Cfg::kKvBytes;
        if (t >= kStages) mbar_wait(&empty_k[st], eph);
        mbar_expect_tx(&full_k[st], Cfg::kKvBytes);
#pragma unroll
        for (int c = 0; c < Cfg::kHalves; ++c)
          tma_load_3d(k_dst + c * kBc * 128, &tmk, 64 * c, t * kBc, bkv, &full_k[st]);
        if (t >= kStages) mbar_wait(&empty_v[st], eph);
        mbar_expect_tx(&full_v[st], Cfg::kKvBytes);
#pragma unroll
        for (int c = 0; c < Cfg::kHalves; ++c)
          tma_load_3d(v_dst + c * kBc * 128, &tmv, 64 * c, t * kBc, bkv, &full_v[st]);
      }
    }
    return;
  }
  setmaxnreg_inc<Cfg::kConsRegs>();

  // Consumer warpgroup cw owns rows [wrow0, wrow0 + 64) of the tile.
  const int cw = wg - 1;
  const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int wrow0 = row0 + cw * 64;
  const int r_lo = wrow0 + warp * 16 + g, r_hi = r_lo + 8;
  const int lim_lo = key_limit(r_lo, sq, sk, p.causal), lim_hi = key_limit(r_hi, sq, sk, p.causal);
  const float sl2 = p.scale_log2;
  const std::uint32_t q_addr = smem_addr(sQ) + cw * 64 * 128;
  const std::uint32_t k_base = smem_addr(sK), v_base = smem_addr(sV);

  float o[kD / 2];
#pragma unroll
  for (int i = 0; i < kD / 2; ++i) o[i] = 0.f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.f, l_hi = 0.f;

  if (ntiles > 0) {
    float s[kBc / 2];
    std::uint32_t pa[kBc / 16][4];
    float al_lo = 1.f, al_hi = 1.f;
    auto needs_mask = [&](int key0) {
      return key0 + kBc > sk || (p.causal && key0 + kBc - 1 > wrow0 + diag);
    };
    // Finishing tile t-1 (waiting for P_{t-2} V_{t-2}, rescaling O, packing P_{t-1}) opens the
    // loop body: ptxas hoists a wait_group 0 to the top of its basic block, so a wait placed
    // after the softmax would run before the exponentials and they would no longer overlap
    // P V; at the top of the next iteration it cannot move above them.
    auto finish_tile = [&](int t) {  // t: the tile whose softmax is in s
      wgmma_wait<0>();
      fence_regs(o);
      fence_regs(pa);
      // Frees V of tile t-2 (conservative: t-1's P V is also done here; releasing it instead
      // would give the producer one more tile of lead, not measured yet).
      mbar_arrive_if(&empty_v[(t - 2 + kStages) % kStages], lane == 0 && t >= 2);
#pragma unroll
      for (int j = 0; j < kD / 8; ++j) {
        o[4 * j] *= al_lo;
        o[4 * j + 1] *= al_lo;
        o[4 * j + 2] *= al_hi;
        o[4 * j + 3] *= al_hi;
      }
      wg_pack_p<kBc, kHalf>(pa, s);
    };
    mbar_wait(bar_q, 0);
    mbar_wait(&full_k[0], 0);
    wgmma_fence();
    wg_issue_qk<Cfg, kHalf>(s, q_addr, k_base);
    wgmma_wait<0>();
    fence_regs(s);
    mbar_arrive_if(&empty_k[0], lane == 0);
    wg_softmax<kBc>(s, m_lo, m_hi, l_lo, l_hi, al_lo, al_hi, needs_mask(0), 0, lim_lo, lim_hi, tq,
                    sl2);
    for (int t = 1; t < ntiles; ++t) {
      finish_tile(t - 1);
      const int st = t % kStages, ph = (t / kStages) & 1;
      const int pst = (t - 1) % kStages, pph = ((t - 1) / kStages) & 1;
      mbar_wait(&full_k[st], ph);
      mbar_wait(&full_v[pst], pph);  // both before the fence: no branch between the GEMMs
      wgmma_fence();
      wg_issue_qk<Cfg, kHalf>(s, q_addr, k_base + st * Cfg::kKvBytes);
      wg_issue_pv<Cfg, kHalf>(o, pa, v_base + pst * Cfg::kKvBytes, p.v_lbo, p.v_sbo);
      wgmma_wait<1>();  // S_t is ready; P_{t-1} V_{t-1} may still run
      fence_regs(s);
      mbar_arrive_if(&empty_k[st], lane == 0);
      wg_softmax<kBc>(s, m_lo, m_hi, l_lo, l_hi, al_lo, al_hi, needs_mask(t * kBc), t * kBc, lim_lo,
                      lim_hi, tq, sl2);
    }
    finish_tile(ntiles - 1);
    const int lst = (ntiles - 1) % kStages, lph = ((ntiles - 1) / kStages) & 1;
    mbar_wait(&full_v[lst], lph);
    wgmma_fence();
    wg_issue_pv<Cfg, kHalf>(o, pa, v_base + lst * Cfg::kKvBytes, p.v_lbo, p.v_sbo);
    wgmma_wait<0>();
    fence_regs(o);
    fence_regs(pa);
  }

  // Epilogue: quad sums of l, normalise, fp32 stores (pairs of columns per thread).
#pragma unroll
  for (int o2 = 1; o2 < 4; o2 <<= 1) {
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, o2);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, o2);
  }
  const float inv_lo = l_lo > 0.f ? 1.f / l_lo : 0.f, inv_hi = l_hi > 0.f ? 1.f / l_hi : 0.f;
  const int dv = p.dv;
  float* og = p.out + static_cast<std::int64_t>(bh) * sq * dv;
  const bool pairs = (dv & 1) == 0;
#pragma unroll
  for (int j = 0; j < kD / 8; ++j) {
    const int col = j * 8 + 2 * tq;
    if (col >= dv) continue;
    if (r_lo < sq) {
      float* dst = og + static_cast<std::int64_t>(r_lo) * dv + col;
      if (pairs)
        *reinterpret_cast<float2*>(dst) = make_float2(o[4 * j] * inv_lo, o[4 * j + 1] * inv_lo);
      else {
        dst[0] = o[4 * j] * inv_lo;
        if (col + 1 < dv) dst[1] = o[4 * j + 1] * inv_lo;
      }
    }
    if (r_hi < sq) {
      float* dst = og + static_cast<std::int64_t>(r_hi) * dv + col;
      if (pairs)
        *reinterpret_cast<float2*>(dst) = make_float2(o[4 * j + 2] * inv_hi, o[4 * j + 3] * inv_hi);
      else {
        dst[0] = o[4 * j + 2] * inv_hi;
        if (col + 1 < dv) dst[1] = o[4 * j + 3] * inv_hi;
      }
    }
  }
  if (p.lse2 && tq == 0) {
    const std::int64_t base = static_cast<std::int64_t>(bh) * sq;
    if (r_lo < sq) p.lse2[base + r_lo] = l_lo > 0.f ? m_lo + log2f(l_lo) : INFINITY;
    if (r_hi < sq) p.lse2[base + r_hi] = l_hi > 0.f ? m_hi + log2f(l_hi) : INFINITY;
  }
}

}  // namespace lc::cuda::kern
