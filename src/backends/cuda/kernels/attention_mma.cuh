// bf16/fp16 flash attention forward on tensor cores (mma.sync m16n8k16, fp32 accumulation),
// FlashAttention-2 style: each warp owns 16 query rows; S = Q K^T and O += P V run from
// ldmatrix fragments of XOR-swizzled shared tiles; P stays in registers (the accumulator
// layout of S is the A-operand layout of P V). Inputs are 16-bit copies padded to the
// head-dim bucket kD (attention_pack16_kernel), so every row is whole 16-byte chunks.
#pragma once

#include <cmath>

#include "attention_common.cuh"
#include "attention_ptx.cuh"

namespace lc::cuda::kern {

// Element offset of 16-byte chunk c of row r in a (rows, kD) 16-bit tile: chunks XOR-swizzled
// so that the 8 rows one ldmatrix phase reads land in 8 different bank groups.
template <int kD>
__device__ __forceinline__ int swz(int r, int c) {
  constexpr int kChunks = kD / 8;
  if constexpr (kChunks >= 8)
    return r * kD + ((c ^ (r & 7)) << 3);
  else
    return r * kD + ((c ^ ((r >> 1) & 3)) << 3);  // kD = 32: two rows per 128 bytes
}

// A kernel configuration: kWarps warps, each owning kMT x 16 query rows (kMT = 2 reuses every
// K/V fragment for two MMAs, as FlashAttention-2 does); Q fragments kept in registers or
// re-read from shared memory; kMinBlocks caps registers so that many blocks share an SM.
template <int kD_, int kWarps_, int kMT_, bool kQInRegs_, int kMinBlocks_, int kBc_ = 64>
struct MmaTraits {
  static constexpr int kD = kD_, kWarps = kWarps_, kMT = kMT_, kMinBlocks = kMinBlocks_;
  static constexpr bool kQInRegs = kQInRegs_;
  static constexpr int kBr = 16 * kMT * kWarps;
  static constexpr int kBc = kBc_;  // keys per tile
  static constexpr int kSmemBytes = (kBr + 2 * kBc) * kD * 2;
};

// The configuration each head-dim bucket runs. Measured on H100 (B4 H16 S4096, kernel only,
// docs/perf-notes.md): two m-tiles per warp beat one (D128 285 vs 251 TFLOP/s, D64 278 vs 229);
// at D128 Q no longer fits in registers next to 2x the accumulators. D256 keeps one m-tile.
template <int kD>
struct MmaFwdConfigFor {
  using type = MmaTraits<kD, 4, kD == 256 ? 1 : 2, (kD <= 64), 1>;
};
template <int kD>
using MmaFwdConfig = typename MmaFwdConfigFor<kD>::type;

// dst (rows, dp) 16-bit <- src (rows, d) fp32, zero-padded; blockIdx.y picks one of 3 tensors.
struct Pack16Args {
  const float* src[3];
  void* dst[3];
  std::int64_t rows[3];
  int d[3];
  int dp;
  bool vec;  // every src 16-byte aligned: float4 loads where d % 4 == 0
};
template <bool kHalf>
__global__ void __launch_bounds__(256) attention_pack16_kernel(Pack16Args a) {
  // Constant indices only: a run-time index into the parameter block would copy it to the stack.
  const int t = blockIdx.y;
  const float* src = t == 0 ? a.src[0] : t == 1 ? a.src[1] : a.src[2];
  if (src == nullptr) return;
  const int d = t == 0 ? a.d[0] : t == 1 ? a.d[1] : a.d[2];
  const int dp = a.dp, chunks = dp / 8;
  const std::int64_t total = (t == 0 ? a.rows[0] : t == 1 ? a.rows[1] : a.rows[2]) * chunks;
  uint4* dst = static_cast<uint4*>(t == 0 ? a.dst[0] : t == 1 ? a.dst[1] : a.dst[2]);
  for (std::int64_t idx = blockIdx.x * 256ll + threadIdx.x; idx < total; idx += 256ll * gridDim.x) {
    const std::int64_t r = idx / chunks;
    const int c = static_cast<int>(idx - r * chunks) * 8;
    const float* s = src + r * d + c;
    float v[8];
    if (a.vec && c + 8 <= d && (d & 3) == 0) {
      const float4 lo = *reinterpret_cast<const float4*>(s);
      const float4 hi = *reinterpret_cast<const float4*>(s + 4);
      v[0] = lo.x;
      v[1] = lo.y;
      v[2] = lo.z;
      v[3] = lo.w;
      v[4] = hi.x;
      v[5] = hi.y;
      v[6] = hi.z;
      v[7] = hi.w;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] = c + e < d ? s[e] : 0.f;
    }
    uint4 out;
    out.x = pack2<kHalf>(v[0], v[1]);
    out.y = pack2<kHalf>(v[2], v[3]);
    out.z = pack2<kHalf>(v[4], v[5]);
    out.w = pack2<kHalf>(v[6], v[7]);
    dst[idx] = out;
  }
}

template <int kD, int kRows, int kThreads>
__device__ __forceinline__ void mma_load_tile(std::uint16_t* dst, const std::uint16_t* src,
                                              int row0, int total) {
  constexpr int kChunks = kD / 8;
  for (int idx = threadIdx.x; idx < kRows * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c = idx % kChunks, row = row0 + r;
    const bool ok = row < total;
    cp_async16(dst + swz<kD>(r, c), ok ? src + static_cast<std::int64_t>(row) * kD + c * 8 : src,
               ok ? 16 : 0);
  }
}

template <class Cfg, bool kHalf>
__global__ void __launch_bounds__(Cfg::kWarps * 32, Cfg::kMinBlocks)
    attention_mma_kernel(AttnFwd16Params p) {
  constexpr int kD = Cfg::kD, kWarps = Cfg::kWarps, kMT = Cfg::kMT;
  constexpr int kBr = Cfg::kBr, kBc = Cfg::kBc, kThreads = kWarps * 32;
  constexpr int kKc = kD / 16;  // k-steps of Q K^T
  constexpr int kNt = kBc / 8;  // n-tiles of S
  constexpr int kDt = kD / 8;   // n-tiles of O
  extern __shared__ uint4 mma_smem[];
  std::uint16_t* sQ = reinterpret_cast<std::uint16_t*>(mma_smem);
  std::uint16_t* sK = sQ + kBr * kD;
  std::uint16_t* sV = sK + kBc * kD;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int sq = p.sq, sk = p.sk, dv = p.dv, diag = sk - sq;
  const int bh = blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int bkv = b * p.kv_heads + h / (p.heads / p.kv_heads);
  // Causal: the longest query tiles first, so the short ones fill the tail of the grid.
  const int qtile = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const int row0 = qtile * kBr;
  const std::uint16_t* qg =
      static_cast<const std::uint16_t*>(p.q16) + static_cast<std::int64_t>(bh) * sq * kD;
  const std::uint16_t* kg =
      static_cast<const std::uint16_t*>(p.k16) + static_cast<std::int64_t>(bkv) * sk * kD;
  const std::uint16_t* vg =
      static_cast<const std::uint16_t*>(p.v16) + static_cast<std::int64_t>(bkv) * sk * kD;

  const int last_row = min(row0 + kBr, sq) - 1;
  const int kend = key_limit(last_row, sq, sk, p.causal);
  const int ntiles = kend > 0 ? (kend + kBc - 1) / kBc : 0;
  const int wrow0 = warp * 16 * kMT;  // first row of this warp within the tile

  float o[kMT][kDt][4];
  float m_lo[kMT], m_hi[kMT], l_lo[kMT], l_hi[kMT];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    m_lo[mt] = m_hi[mt] = -INFINITY;
    l_lo[mt] = l_hi[mt] = 0.f;
#pragma unroll
    for (int i = 0; i < kDt; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
  }

  if (ntiles > 0) {
    mma_load_tile<kD, kBr, kThreads>(sQ, qg, row0, sq);
    mma_load_tile<kD, kBc, kThreads>(sK, kg, 0, sk);
    cp_async_commit();
    mma_load_tile<kD, kBc, kThreads>(sV, vg, 0, sk);
    cp_async_commit();
  }
  // Per-lane ldmatrix coordinates (see the fragment layouts of mma.m16n8k16).
  const int a_row = wrow0 + (lane & 7) + 8 * ((lane >> 3) & 1), a_col = lane >> 4;
  const int k_row = (lane & 7) + 8 * (lane >> 4), k_col = (lane >> 3) & 1;
  const int v_row = (lane & 7) + 8 * ((lane >> 3) & 1), v_col = lane >> 4;

  std::uint32_t qf[Cfg::kQInRegs ? kMT : 1][Cfg::kQInRegs ? kKc : 1][4];
  for (int t = 0; t < ntiles; ++t) {
    cp_async_wait<1>();  // K_t (and Q)
    __syncthreads();
    if constexpr (Cfg::kQInRegs) {
      if (t == 0) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
          for (int kc = 0; kc < kKc; ++kc)
            ldmatrix_x4(qf[mt][kc], sQ + swz<kD>(a_row + 16 * mt, 2 * kc + a_col));
      }
    }
    float s[kMT][kNt][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int n = 0; n < kNt; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < kKc; ++kc) {
      std::uint32_t a[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        if constexpr (Cfg::kQInRegs) {
          a[mt][0] = qf[mt][kc][0];
          a[mt][1] = qf[mt][kc][1];
          a[mt][2] = qf[mt][kc][2];
          a[mt][3] = qf[mt][kc][3];
        } else {
          ldmatrix_x4(a[mt], sQ + swz<kD>(a_row + 16 * mt, 2 * kc + a_col));
        }
      }
#pragma unroll
      for (int np = 0; np < kNt / 2; ++np) {
        std::uint32_t bk[4];
        ldmatrix_x4(bk, sK + swz<kD>(np * 16 + k_row, 2 * kc + k_col));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816<kHalf>(s[mt][2 * np], a[mt], bk[0], bk[1]);
          mma_16816<kHalf>(s[mt][2 * np + 1], a[mt], bk[2], bk[3]);
        }
      }
    }
    __syncthreads();  // sK consumed
    if (t + 1 < ntiles) mma_load_tile<kD, kBc, kThreads>(sK, kg, (t + 1) * kBc, sk);
    cp_async_commit();

    const int key0 = t * kBc;
    const bool need_mask = key0 + kBc > sk || (p.causal && key0 + kBc - 1 > row0 + diag);
    const float sl2 = p.scale_log2;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      const int r_lo = row0 + wrow0 + 16 * mt + g, r_hi = r_lo + 8;
      if (need_mask) {
        const int lim_lo = key_limit(r_lo, sq, sk, p.causal),
                  lim_hi = key_limit(r_hi, sq, sk, p.causal);
#pragma unroll
        for (int n = 0; n < kNt; ++n)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int key = key0 + n * 8 + 2 * tq + e;
            if (key >= lim_lo) s[mt][n][e] = -INFINITY;
            if (key >= lim_hi) s[mt][n][2 + e] = -INFINITY;
          }
      }
      float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
      for (int n = 0; n < kNt; ++n) {
        mx_lo = fmaxf(mx_lo, fmaxf(s[mt][n][0], s[mt][n][1]));
        mx_hi = fmaxf(mx_hi, fmaxf(s[mt][n][2], s[mt][n][3]));
      }
#pragma unroll
      for (int o2 = 1; o2 < 4; o2 <<= 1) {
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, o2));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, o2));
      }
      const float mn_lo = fmaxf(m_lo[mt], mx_lo * sl2), mn_hi = fmaxf(m_hi[mt], mx_hi * sl2);
      const float mu_lo = mn_lo == -INFINITY ? 0.f : mn_lo,
                  mu_hi = mn_hi == -INFINITY ? 0.f : mn_hi;
      const float al_lo = exp2_approx(m_lo[mt] - mu_lo), al_hi = exp2_approx(m_hi[mt] - mu_hi);
      m_lo[mt] = mn_lo;
      m_hi[mt] = mn_hi;
      float rs_lo = 0.f, rs_hi = 0.f;
#pragma unroll
      for (int n = 0; n < kNt; ++n) {
        s[mt][n][0] = exp2_approx(fmaf(s[mt][n][0], sl2, -mu_lo));
        s[mt][n][1] = exp2_approx(fmaf(s[mt][n][1], sl2, -mu_lo));
        s[mt][n][2] = exp2_approx(fmaf(s[mt][n][2], sl2, -mu_hi));
        s[mt][n][3] = exp2_approx(fmaf(s[mt][n][3], sl2, -mu_hi));
        rs_lo += s[mt][n][0] + s[mt][n][1];
        rs_hi += s[mt][n][2] + s[mt][n][3];
      }
      l_lo[mt] = l_lo[mt] * al_lo + rs_lo;
      l_hi[mt] = l_hi[mt] * al_hi + rs_hi;
#pragma unroll
      for (int i = 0; i < kDt; ++i) {
        o[mt][i][0] *= al_lo;
        o[mt][i][1] *= al_lo;
        o[mt][i][2] *= al_hi;
        o[mt][i][3] *= al_hi;
      }
    }
    cp_async_wait<1>();  // V_t
    __syncthreads();
#pragma unroll
    for (int kc = 0; kc < kBc / 16; ++kc) {
      std::uint32_t pa[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        pa[mt][0] = pack2<kHalf>(s[mt][2 * kc][0], s[mt][2 * kc][1]);
        pa[mt][1] = pack2<kHalf>(s[mt][2 * kc][2], s[mt][2 * kc][3]);
        pa[mt][2] = pack2<kHalf>(s[mt][2 * kc + 1][0], s[mt][2 * kc + 1][1]);
        pa[mt][3] = pack2<kHalf>(s[mt][2 * kc + 1][2], s[mt][2 * kc + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kD / 16; ++dp) {
        std::uint32_t bv[4];
        ldmatrix_x4_trans(bv, sV + swz<kD>(kc * 16 + v_row, 2 * dp + v_col));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816<kHalf>(o[mt][2 * dp], pa[mt], bv[0], bv[1]);
          mma_16816<kHalf>(o[mt][2 * dp + 1], pa[mt], bv[2], bv[3]);
        }
      }
    }
    __syncthreads();  // sV consumed
    if (t + 1 < ntiles) mma_load_tile<kD, kBc, kThreads>(sV, vg, (t + 1) * kBc, sk);
    cp_async_commit();
  }
  cp_async_wait<0>();

  float* og = p.out + static_cast<std::int64_t>(bh) * sq * dv;
  const bool pairs = (dv & 1) == 0;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    float ll = l_lo[mt], lh = l_hi[mt];
#pragma unroll
    for (int o2 = 1; o2 < 4; o2 <<= 1) {
      ll += __shfl_xor_sync(0xffffffffu, ll, o2);
      lh += __shfl_xor_sync(0xffffffffu, lh, o2);
    }
    const float inv_lo = ll > 0.f ? 1.f / ll : 0.f, inv_hi = lh > 0.f ? 1.f / lh : 0.f;
    const int r_lo = row0 + wrow0 + 16 * mt + g, r_hi = r_lo + 8;
#pragma unroll
    for (int i = 0; i < kDt; ++i) {
      const int col = i * 8 + 2 * tq;
      if (col >= dv) continue;
      if (r_lo < sq) {
        float* dst = og + static_cast<std::int64_t>(r_lo) * dv + col;
        if (pairs)
          *reinterpret_cast<float2*>(dst) = make_float2(o[mt][i][0] * inv_lo, o[mt][i][1] * inv_lo);
        else {
          dst[0] = o[mt][i][0] * inv_lo;
          if (col + 1 < dv) dst[1] = o[mt][i][1] * inv_lo;
        }
      }
      if (r_hi < sq) {
        float* dst = og + static_cast<std::int64_t>(r_hi) * dv + col;
        if (pairs)
          *reinterpret_cast<float2*>(dst) = make_float2(o[mt][i][2] * inv_hi, o[mt][i][3] * inv_hi);
        else {
          dst[0] = o[mt][i][2] * inv_hi;
          if (col + 1 < dv) dst[1] = o[mt][i][3] * inv_hi;
        }
      }
    }
    if (p.lse2 && tq == 0) {
      const std::int64_t base = static_cast<std::int64_t>(bh) * sq;
      if (r_lo < sq) p.lse2[base + r_lo] = ll > 0.f ? m_lo[mt] + log2f(ll) : INFINITY;
      if (r_hi < sq) p.lse2[base + r_hi] = lh > 0.f ? m_hi[mt] + log2f(lh) : INFINITY;
    }
  }
}

}  // namespace lc::cuda::kern
