// A few rows of A times a row-major B (matrix-vector and its neighbours): B streamed once, row
// after row, into accumulators for a column chunk that stay in L1. The register-tile kernels walk
// B down a column strip instead, a row stride (often 4 KB, a page) per step, which defeats the
// hardware prefetchers: for (1, 1024) x (1024, 1024) that was ~2.5x slower than this.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "backends/cpu/gemm_kernel.h"
#include "backends/cpu/gemm_simd.h"

namespace lc::cpu::gemm_detail {

// Whether the streamed form fits: at most kStreamRows rows of A stored by rows, B by rows and
// wide enough to fill vectors.
inline constexpr int kStreamRows = 8;
inline bool gemm_use_stream(std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a,
                            bool trans_b) {
  return m >= 1 && m <= kStreamRows && !trans_a && !trans_b && n >= 64 && k >= 4;
}

// Columns [c0, c1) of C (m x n) = epilogue(A (m x k) B (k x n)), A and B row-major.
template <class S, int M>
void stream_rows(std::int64_t n, std::int64_t k, const typename S::T* a, const typename S::T* b,
                 typename S::T* c, std::int64_t c0, std::int64_t c1,
                 const TileEpilogue<typename S::T>& ep) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  constexpr std::int64_t kChunk = 16 * 1024 / sizeof(T) / M / L * L;  // acc: 16 KB of L1
  constexpr int kKU = M <= 4 ? 4 : 2;  // rows of B per pass: M x kKU broadcasts in registers
  // A load whose address matches an in-flight store's low 12 bits waits for it ("4K
  // aliasing"): with B rows 4 KB apart (n = 1024) and the accumulators at the wrong offset, one
  // thread of a split (1, 1024) x (1024, 1024) ran 6x slower, depending on where its stack fell.
  // So the accumulator rows sit between a quarter and three quarters of a page away from B's
  // columns modulo 4 KB: the first at +1 KB, the next ones kSpacing further each.
  constexpr std::int64_t kPage = 4096;
  constexpr std::int64_t kSpacing =
      M == 1 ? 0 : std::min<std::int64_t>(1024, kPage / 2 / M / 64 * 64);
  constexpr std::int64_t kRowBytes =
      M == 1
          ? kChunk * sizeof(T)
          : (kChunk * static_cast<std::int64_t>(sizeof(T)) - kSpacing + kPage - 1) / kPage * kPage +
                kSpacing;
  constexpr std::int64_t kRow = kRowBytes / static_cast<std::int64_t>(sizeof(T));  // acc row stride
  alignas(64) T acc_store[(M - 1) * kRow + kChunk + kPage / sizeof(T)];
  for (std::int64_t j0 = c0; j0 < c1; j0 += kChunk) {
    const std::int64_t w = std::min(kChunk, c1 - j0);
    const auto gap = (reinterpret_cast<std::uintptr_t>(b + j0) + kPage / 4 -
                      reinterpret_cast<std::uintptr_t>(acc_store)) &
                     static_cast<std::uintptr_t>(kPage - 64);
    T* acc = acc_store + gap / sizeof(T);
    for (int i = 0; i < M; ++i) std::fill(acc + i * kRow, acc + i * kRow + kChunk, T(0));
    const std::int64_t full = w / L * L;
    const auto tail = S::mask(static_cast<int>(w - full > 0 ? w - full : 1));
    std::int64_t kk = 0;
    for (; kk + kKU <= k; kk += kKU) {  // kKU rows of B per pass over the accumulators
      const T* b0 = b + kk * n + j0;
      V x[M][kKU];
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
        for (int q = 0; q < kKU; ++q) x[i][q] = S::set1(a[i * k + kk + q]);
      auto step = [&](std::int64_t j, auto mask) {
        V v[kKU];
#pragma GCC unroll 4
        for (int q = 0; q < kKU; ++q) v[q] = S::load(b0 + q * n + j, mask);
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i) {
          V r = S::load(acc + i * kRow + j, mask);
#pragma GCC unroll 4
          for (int q = 0; q < kKU; ++q) r = S::fma(x[i][q], v[q], r);
          S::store(acc + i * kRow + j, r, mask);
        }
      };
      for (std::int64_t j = 0; j < full; j += L) step(j, S::mask(L));
      if (full < w) step(full, tail);
    }
    for (; kk < k; ++kk) {
      const T* b0 = b + kk * n + j0;
      for (int i = 0; i < M; ++i) {
        const V x = S::set1(a[i * k + kk]);
        for (std::int64_t j = 0; j < w; j += L) {
          const auto mask = j + L <= w ? S::mask(L) : tail;
          S::store(acc + i * kRow + j,
                   S::fma(x, S::load(b0 + j, mask), S::load(acc + i * kRow + j, mask)), mask);
        }
      }
    }
    // Epilogue, as the register tiles write theirs: alpha, beta * C, bias, activation.
    const V alpha = S::set1(ep.alpha), beta = S::set1(ep.beta);
    for (int i = 0; i < M; ++i) {
      T* crow = c + i * n + j0;
      for (std::int64_t j = 0; j < w; j += L) {
        const auto mask = j + L <= w ? S::mask(L) : tail;
        V r = S::mul(S::load(acc + i * kRow + j, mask), alpha);
        if (ep.beta != T(0)) r = S::fma(beta, S::load(crow + j, mask), r);
        if (ep.bias) r = S::add(r, S::load(ep.bias + j0 + j, mask));
        if (ep.act == Activation::relu) r = S::relu(r);
        S::store(crow + j, r, mask);
      }
    }
    if (ep.act == Activation::gelu) gelu_tile<S>(c + j0, n, M, static_cast<int>(w));
  }
}

// stream_rows for each row count 1..kStreamRows, indexed by m - 1.
template <class S, int... I>
constexpr auto stream_kernel_table(std::integer_sequence<int, I...>) {
  return std::array{&stream_rows<S, I + 1>...};
}
template <class S>
const auto& stream_kernels() {
  static constexpr auto table =
      stream_kernel_table<S>(std::make_integer_sequence<int, kStreamRows>{});
  return table;
}

}  // namespace lc::cpu::gemm_detail
