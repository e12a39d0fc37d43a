// Helpers of the row-wise kernels (softmax, norms, reductions over the last axis): the row
// split over the thread pool and vectorised row sums accumulated in float64.
#pragma once

#include <algorithm>
#include <cstdint>

#include "backends/cpu/simd_pack.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {

// body(row_begin, row_end) over [0, rows); on the pool when the array is large (tiny shapes
// take no thread and no heap allocation).
template <class Body>
void for_rows(std::int64_t rows, std::int64_t cols, const Body& body) {
  constexpr std::int64_t kParallelMin = 1 << 18;  // elements; below, one thread is faster
  constexpr std::int64_t kTask = 1 << 15;         // elements per task at least
  const std::int64_t width = std::max<std::int64_t>(cols, 1);
  if (rows < 2 || rows * width < kParallelMin) {
    body(std::int64_t{0}, rows);
    return;
  }
  parallel_for(rows, std::max<std::int64_t>(1, kTask / width),
               [&](std::int64_t r0, std::int64_t r1) { body(r0, r1); });
}

// sum over i < n of g(x[i]) in float64, where g maps a double (or a pack of them) to a
// double (or a pack). Four accumulators hide the add latency; the tail runs scalar.
template <class T, class G>
double row_accumulate(const T* x, std::int64_t n, const G& g) {
  using D = simd::vec<double>;
  constexpr int L = simd::lanes_v<D>;
  using VT = simd::vec<T, L>;
  auto at = [&](std::int64_t i) { return __builtin_convertvector(simd::load<VT>(x + i), D); };
  D a0{}, a1{}, a2{}, a3{};
  std::int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    a0 += g(at(i));
    a1 += g(at(i + L));
    a2 += g(at(i + 2 * L));
    a3 += g(at(i + 3 * L));
  }
  for (; i + L <= n; i += L) a0 += g(at(i));
  double tail = 0;
  for (; i < n; ++i) tail += g(static_cast<double>(x[i]));
  return simd::hsum<D>((a0 + a1) + (a2 + a3)) + tail;
}

template <class T>
double row_sum(const T* x, std::int64_t n) {
  return row_accumulate(x, n, [](auto v) { return v; });
}

// max with NaN propagating; -inf for n == 0.
template <class T>
T row_max(const T* x, std::int64_t n) {
  using V = simd::vec<T>;
  constexpr int L = simd::lanes_v<V>;
  const T lowest = -std::numeric_limits<T>::infinity();
  V m0 = simd::splat<V>(lowest), m1 = m0;
  std::int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    m0 = simd::max_nan(m0, simd::load<V>(x + i));
    m1 = simd::max_nan(m1, simd::load<V>(x + i + L));
  }
  for (; i + L <= n; i += L) m0 = simd::max_nan(m0, simd::load<V>(x + i));
  if (i < n) m1 = simd::max_nan(m1, simd::load_partial<V>(x + i, static_cast<int>(n - i), lowest));
  return simd::hmax_nan(simd::max_nan(m0, m1));
}

}  // namespace lc::cpu
