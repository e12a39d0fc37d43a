// GEMM in dot-product form for c = a (M,K) @ w(N,K)^T with few rows M (linear layers and RNN
// gates at small batch) or few columns N (matrix-vector): rows of a and w are both contiguous
// along K, so no packing at all (packing w^T would cost as much as the product when M is small).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backends/cpu/gemm_kernel.h"

namespace lc::cpu::gemm_detail {

template <class S>
inline typename S::T hsum(typename S::V v) {
  alignas(64) typename S::T buf[S::kLanes];
  S::store(buf, v, S::mask(S::kLanes));
  typename S::T s = 0;
  for (int i = 0; i < S::kLanes; ++i) s += buf[i];
  return s;
}

#if defined(__AVX512F__)
// GCC 12 flags the _mm512_undefined_* inside the reduction intrinsics once inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <>
inline float hsum<Simd<float>>(__m512 v) {
  return _mm512_reduce_add_ps(v);
}
template <>
inline double hsum<Simd<double>>(__m512d v) {
  return _mm512_reduce_add_pd(v);
}
#pragma GCC diagnostic pop
#endif

// r[i][j] = sum_l a[i*lda + l] * w[j*ldw + l] for i < MI, j < NJ.
template <class S, int MI, int NJ>
void dot_block(std::int64_t k, const typename S::T* a, std::int64_t lda, const typename S::T* w,
               std::int64_t ldw, typename S::T (&r)[4][4]) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  constexpr int U = MI * NJ <= 8 ? 2 : 1;  // few accumulators: two sets to hide FMA latency
  V acc[U][MI][NJ];
#pragma GCC unroll 2
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int i = 0; i < MI; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NJ; ++j) acc[u][i][j] = S::zero();
  std::int64_t l = 0;
  auto step = [&](int u, std::int64_t at, auto masked, typename S::Mask mask) {
    V wv[NJ];
#pragma GCC unroll 4
    for (int j = 0; j < NJ; ++j) {
      if constexpr (decltype(masked)::value)
        wv[j] = S::load(w + j * ldw + at, mask);
      else
        wv[j] = S::load(w + j * ldw + at);
    }
#pragma GCC unroll 4
    for (int i = 0; i < MI; ++i) {
      V av;
      if constexpr (decltype(masked)::value)
        av = S::load(a + i * lda + at, mask);
      else
        av = S::load(a + i * lda + at);
#pragma GCC unroll 4
      for (int j = 0; j < NJ; ++j) acc[u][i][j] = S::fma(av, wv[j], acc[u][i][j]);
    }
  };
  const auto full = S::mask(L);
  for (; l + U * L <= k; l += U * L)
#pragma GCC unroll 2
    for (int u = 0; u < U; ++u) step(u, l + u * L, std::false_type{}, full);
  for (; l + L <= k; l += L) step(0, l, std::false_type{}, full);
  if (l < k) step(0, l, std::true_type{}, S::mask(static_cast<int>(k - l)));
#pragma GCC unroll 4
  for (int i = 0; i < MI; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NJ; ++j) {
      V s = acc[0][i][j];
      if constexpr (U == 2) s = S::add(s, acc[1][i][j]);
      r[i][j] = hsum<S>(s);
    }
}

template <class S>
using DotFn = void (*)(std::int64_t, const typename S::T*, std::int64_t, const typename S::T*,
                       std::int64_t, typename S::T (&)[4][4]);

template <class S, int MI, int... NJ>
constexpr void fill_dot_row(DotFn<S> (&row)[4], std::integer_sequence<int, NJ...>) {
  ((row[NJ] = &dot_block<S, MI + 1, NJ + 1>), ...);
}

template <class S>
struct DotBlocks {
  DotFn<S> fn[4][4] = {};
  template <int... MI>
  constexpr explicit DotBlocks(std::integer_sequence<int, MI...>) {
    (fill_dot_row<S, MI>(fn[MI], std::make_integer_sequence<int, 4>{}), ...);
  }
};

// Rows [r0, r1) x columns [c0, c1) of c (ldc = n) = alpha * a @ w^T + beta * c + bias, then the
// activation. a rows are lda apart, w rows k apart. When the rows of a are too long to stay in
// L1 together, K is taken in blocks of 1 KiB per row so that they do while every w row streams
// past once, partial sums accumulating in c; otherwise each w row is read whole, in one
// sequential stream (a K-blocked pass would read every w row in 1 KiB pieces a row stride
// apart, which the prefetchers follow poorly: 2.5x slower for a (1, 1024) x (1024, 1024)^T).
template <class S>
void dot_product(std::int64_t k, const typename S::T* a, std::int64_t lda, const typename S::T* w,
                 typename S::T* c, std::int64_t ldc, std::int64_t r0, std::int64_t r1,
                 std::int64_t c0, std::int64_t c1, const TileEpilogue<typename S::T>& ep) {
  using T = typename S::T;
  static constexpr DotBlocks<S> kBlocks(std::make_integer_sequence<int, 4>{});
  const std::int64_t rows_bytes = (r1 - r0) * k * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t kKc = rows_bytes <= 32 * 1024 ? std::max<std::int64_t>(k, 1)
                                                   : static_cast<std::int64_t>(1024 / sizeof(T));
  for (std::int64_t p0 = 0;; p0 += kKc) {
    const std::int64_t kc = std::min(kKc, k - p0);
    const bool first = p0 == 0;
    for (std::int64_t j = c0; j < c1; j += 4) {
      const int nj = static_cast<int>(std::min<std::int64_t>(4, c1 - j));
      for (std::int64_t i0 = r0; i0 < r1; i0 += 4) {
        const int mi = static_cast<int>(std::min<std::int64_t>(4, r1 - i0));
        T r[4][4];
        kBlocks.fn[mi - 1][nj - 1](kc, a + i0 * lda + p0, lda, w + j * k + p0, k, r);
        for (int i = 0; i < mi; ++i)
          for (int q = 0; q < nj; ++q) {
            T& out = c[(i0 + i) * ldc + j + q];
            if (!first) {
              out += ep.alpha * r[i][q];
              continue;
            }
            T v = ep.alpha * r[i][q];
            if (ep.beta != T(0)) v += ep.beta * out;
            if (ep.bias) v += ep.bias[j + q];
            out = v;
          }
      }
    }
    if (p0 + kc >= k) break;
  }
  if (ep.act == Activation::none) return;
  // The activation over the finished block, vectorised.
  for (std::int64_t i = r0; i < r1; ++i)
    for (std::int64_t j = c0; j < c1; j += S::kLanes) {
      const auto m = S::mask(static_cast<int>(std::min<std::int64_t>(S::kLanes, c1 - j)));
      const auto v = S::load(c + i * ldc + j, m);
      S::store(c + i * ldc + j, ep.act == Activation::relu ? S::relu(v) : S::gelu(v), m);
    }
}

}  // namespace lc::cpu::gemm_detail
