// Row-wise kernels over the last axis (softmax, log_softmax, sum/mean/max) and the blocked
// transpose of the last two axes. Layer/RMS norm are in norm.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/rowwise.h"
#include "backends/cpu/simd_pack.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

using std::int64_t;

// Transpose tile edge. 16, not 32: with power-of-two row lengths 32 rows of a tile map to the
// same cache sets and the 2048x1024 transpose runs 5x slower (measured).
constexpr int64_t kTile = 16;

// Stable softmax of one row: max, then exp(x - max) (stored) and its sum, then the scaling.
// Each element is read before it is written, so y may be x (in place).
template <class T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  using V = simd::vec<T>;
  constexpr int L = simd::lanes_v<V>;
  const T m = row_max(x, n);
  const int c = static_cast<int>(n % L);
  const int64_t body = n - c;
  const T ninf = -std::numeric_limits<T>::infinity();  // padding: exp(-inf - m) = 0
  V s = {};
  if (log) {
    for (int64_t i = 0; i < body; i += L) s += simd::exp<V>(simd::load<V>(x + i) - m);
    if (c) s += simd::exp<V>(simd::load_partial<V>(x + body, c, ninf) - m);
    const T ls = std::log(simd::hsum(s));
    for (int64_t i = 0; i < body; i += L) simd::store(y + i, (simd::load<V>(x + i) - m) - ls);
    if (c) simd::store_partial(y + body, (simd::load_partial<V>(x + body, c) - m) - ls, c);
    return;
  }
  for (int64_t i = 0; i < body; i += L) {
    const V e = simd::exp<V>(simd::load<V>(x + i) - m);
    simd::store(y + i, e);
    s += e;
  }
  if (c) {
    const V e = simd::exp<V>(simd::load_partial<V>(x + body, c, ninf) - m);
    simd::store_partial(y + body, e, c);
    s += e;
  }
  const T inv = T(1) / simd::hsum(s);
  for (int64_t i = 0; i < body; i += L) simd::store(y + i, simd::load<V>(y + i) * inv);
  for (int64_t i = body; i < n; ++i) y[i] *= inv;
}

// (B, R, C) -> (B, C, R) in square tiles, so that both sides stay in L1.
template <class T>
void transpose_tiles(const T* x, T* y, int64_t rows, int64_t cols, int64_t r0, int64_t r1) {
  for (int64_t rb = r0; rb < r1; rb += kTile) {
    const int64_t re = std::min(r1, rb + kTile);
    for (int64_t cb = 0; cb < cols; cb += kTile) {
      const int64_t ce = std::min(cols, cb + kTile);
      for (int64_t c = cb; c < ce; ++c)
        for (int64_t r = rb; r < re; ++r) y[c * rows + r] = x[r * cols + c];
    }
  }
}

}  // namespace

void softmax(const backend::SoftmaxProblem& p) {
  const int64_t cols = p.x.shape[-1];
  if (p.x.numel() == 0) return;
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    T* y = p.out.ptr<T>();
    for_rows(p.x.numel() / cols, cols, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) softmax_row(x + r * cols, y + r * cols, cols, p.log);
    });
  });
}

void reduce(const backend::ReduceProblem& p) {
  const int64_t cols = p.x.shape[-1];
  const int64_t rows = p.out.numel();
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    T* y = p.out.ptr<T>();
    for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * cols;
        switch (p.op) {
          case ReduceOp::sum:
            y[r] = static_cast<T>(row_sum(row, cols));
            break;
          case ReduceOp::mean:
            y[r] = static_cast<T>(row_sum(row, cols) / cols);
            break;
          case ReduceOp::max:
            y[r] = row_max(row, cols);
            break;
        }
      }
    });
  });
}

void transpose(const backend::TransposeProblem& p) {
  const int r = p.x.rank();
  const int64_t rows = p.x.shape[r - 2], cols = p.x.shape[r - 1];
  const int64_t plane = rows * cols;
  if (plane == 0) return;
  const int64_t batch = p.x.numel() / plane;
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    T* y = p.out.ptr<T>();
    // Tasks are (plane, band of kTile rows) pairs.
    const int64_t bands = (rows + kTile - 1) / kTile;
    for_rows(batch * bands, kTile * cols, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / bands, band = t % bands;
        transpose_tiles(x + b * plane, y + b * plane, rows, cols, band * kTile,
                        std::min(rows, band * kTile + kTile));
      }
    });
  });
}

}  // namespace lc::cpu
