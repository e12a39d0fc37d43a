// Packing for the GEMM micro-kernel. A block -> MR-row micro-panels, element (i, l) at
// panel[l*MR + i]; B block -> NR-column micro-panels, element (l, j) at panel[l*NR + j]. Edge
// panels keep the full stride; the tiles read only their valid rows/columns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace lc::cpu::gemm_detail {

// dst[l*ldd + i] = src[i*lds + l] for i < rows, l < cols: the transposing copy the packers
// need (rows of a stored A, or of a stored B^T). AVX-512 moves 16x16 (8x8 double) blocks
// through registers so each source line is read once; elsewhere a plain loop.
template <class T>
void transpose_into(T* dst, std::int64_t ldd, const T* src, std::int64_t lds, std::int64_t rows,
                    std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i) {
    const T* s = src + i * lds;
    for (std::int64_t l = 0; l < cols; ++l) dst[l * ldd + i] = s[l];
  }
}

#if defined(__AVX512F__)

// GCC 12 flags the _mm512_undefined_* inside the shuffle intrinsics once they are inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4g + c]: rows 4g..4g+3 at column 4*lane + c.
  for (int g = 0; g < 4; ++g) {
    const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
    r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  __m512 o[16];
  for (int c = 0; c < 4; ++c) {
    const __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    const __m512 u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    const __m512 u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    o[c] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    o[8 + c] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
    o[4 + c] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    o[12 + c] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
  }
  for (int i = 0; i < 16; ++i) r[i] = o[i];
}

inline void transpose8x8(__m512d r[8]) {
  __m512d t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  // t[2p + c]: rows 2p, 2p+1 at column 2*lane + c.
  for (int c = 0; c < 2; ++c) {
    const __m512d u0 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x88);
    const __m512d u1 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xdd);
    const __m512d u2 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x88);
    const __m512d u3 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xdd);
    r[c] = _mm512_shuffle_f64x2(u0, u2, 0x88);
    r[4 + c] = _mm512_shuffle_f64x2(u0, u2, 0xdd);
    r[2 + c] = _mm512_shuffle_f64x2(u1, u3, 0x88);
    r[6 + c] = _mm512_shuffle_f64x2(u1, u3, 0xdd);
  }
}

inline void transpose_into(float* dst, std::int64_t ldd, const float* src, std::int64_t lds,
                           std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i0 = 0; i0 < rows; i0 += 16) {
    const int ri = static_cast<int>(std::min<std::int64_t>(16, rows - i0));
    const auto store_mask = static_cast<__mmask16>((1u << ri) - 1u);
    for (std::int64_t l0 = 0; l0 < cols; l0 += 16) {
      const int lc = static_cast<int>(std::min<std::int64_t>(16, cols - l0));
      const auto load_mask = static_cast<__mmask16>((1u << lc) - 1u);
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < ri ? _mm512_maskz_loadu_ps(load_mask, src + (i0 + i) * lds + l0)
                      : _mm512_setzero_ps();
      transpose16x16(r);
      for (int t = 0; t < lc; ++t)
        _mm512_mask_storeu_ps(dst + (l0 + t) * ldd + i0, store_mask, r[t]);
    }
  }
}

inline void transpose_into(double* dst, std::int64_t ldd, const double* src, std::int64_t lds,
                           std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i0 = 0; i0 < rows; i0 += 8) {
    const int ri = static_cast<int>(std::min<std::int64_t>(8, rows - i0));
    const auto store_mask = static_cast<__mmask8>((1u << ri) - 1u);
    for (std::int64_t l0 = 0; l0 < cols; l0 += 8) {
      const int lc = static_cast<int>(std::min<std::int64_t>(8, cols - l0));
      const auto load_mask = static_cast<__mmask8>((1u << lc) - 1u);
      __m512d r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = i < ri ? _mm512_maskz_loadu_pd(load_mask, src + (i0 + i) * lds + l0)
                      : _mm512_setzero_pd();
      transpose8x8(r);
      for (int t = 0; t < lc; ++t)
        _mm512_mask_storeu_pd(dst + (l0 + t) * ldd + i0, store_mask, r[t]);
    }
  }
}

#pragma GCC diagnostic pop
#endif

// A(i, l) = a[i*lda + l], or a[l*lda + i] when `trans`; rows [0, mc), k [0, kc).
template <class T, int MR>
void pack_a(T* dst, const T* a, std::int64_t lda, bool trans, std::int64_t mc, std::int64_t kc) {
  for (std::int64_t r0 = 0; r0 < mc; r0 += MR) {
    const int mr = static_cast<int>(std::min<std::int64_t>(MR, mc - r0));
    T* d = dst + r0 * kc;
    if (trans) {
      const T* s = a + r0;
      for (std::int64_t l = 0; l < kc; ++l, s += lda, d += MR)
        for (int i = 0; i < mr; ++i) d[i] = s[i];
    } else {
      transpose_into(d, MR, a + r0 * lda, lda, mr, kc);
    }
  }
}

// B(l, j) = b[l*ldb + j], or b[j*ldb + l] when `trans`; columns [0, nc), k [0, kc).
template <class T, int NR>
void pack_b(T* dst, const T* b, std::int64_t ldb, bool trans, std::int64_t nc, std::int64_t kc) {
  if (trans) {
    for (std::int64_t q0 = 0; q0 < nc; q0 += NR)
      transpose_into(dst + q0 * kc, NR, b + q0 * ldb, ldb, std::min<std::int64_t>(NR, nc - q0), kc);
    return;
  }
  // Row by row, so each source row is read front to back (rows are far apart in a large B).
  const std::int64_t full = nc / NR * NR;
  for (std::int64_t l = 0; l < kc; ++l) {
    const T* s = b + l * ldb;
    T* d = dst + l * NR;
    for (std::int64_t q0 = 0; q0 < full; q0 += NR) std::memcpy(d + q0 * kc, s + q0, sizeof(T) * NR);
    if (full < nc)
      std::memcpy(d + full * kc, s + full, sizeof(T) * static_cast<std::size_t>(nc - full));
  }
}

}  // namespace lc::cpu::gemm_detail
