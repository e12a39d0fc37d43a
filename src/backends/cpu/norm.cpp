// Layer norm and RMS norm over the last axis. Row statistics are two-pass sums accumulated
// in float64 (exact enough for any row length); the normalisation itself runs in T.
#include <cmath>
#include <type_traits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/rowwise.h"
#include "backends/cpu/simd_pack.h"

namespace lc::cpu {
namespace {

using std::int64_t;

// y = (x - shift) * scale [* w] [+ b] over one row; reads x[i] before writing y[i]. The shift
// comes as hi + lo so that a mean far from zero (1e4 + noise) is not rounded away: x - hi
// is exact where it matters (Sterbenz).
template <bool kW, bool kB, class T>
void normalize_row(const T* x, T* y, int64_t n, double shift, T scale, const T* w, const T* b) {
  using V = simd::vec<T>;
  constexpr int L = simd::lanes_v<V>;
  const T hi = static_cast<T>(shift), lo = static_cast<T>(shift - hi);
  auto apply = [&](V v, int64_t i, int c) {
    v = ((v - hi) - lo) * scale;
    if constexpr (kW) v *= c == L ? simd::load<V>(w + i) : simd::load_partial<V>(w + i, c);
    if constexpr (kB) v += c == L ? simd::load<V>(b + i) : simd::load_partial<V>(b + i, c);
    return v;
  };
  int64_t i = 0;
  for (; i + L <= n; i += L) simd::store(y + i, apply(simd::load<V>(x + i), i, L));
  if (i < n) {
    const int c = static_cast<int>(n - i);
    simd::store_partial(y + i, apply(simd::load_partial<V>(x + i, c), i, c), c);
  }
}

template <bool kW, bool kB, class T>
void norm_rows(const backend::NormProblem& p) {
  const int64_t cols = p.x.shape[-1];
  const T* x = p.x.ptr<const T>();
  T* y = p.out.ptr<T>();
  const T* w = static_cast<const T*>(p.weight);
  const T* b = static_cast<const T*>(p.bias);
  const bool layer = p.kind == backend::NormKind::layer;
  for_rows(p.x.numel() / cols, cols, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;
      double mean = 0, ms;
      if (layer) {
        mean = row_sum(xr, cols) / cols;
        ms = row_accumulate(xr, cols, [mean](auto v) { return (v - mean) * (v - mean); }) / cols;
      } else {
        ms = row_accumulate(xr, cols, [](auto v) { return v * v; }) / cols;
      }
      const double scale = 1.0 / std::sqrt(ms + p.eps);
      normalize_row<kW, kB>(xr, y + r * cols, cols, mean, static_cast<T>(scale), w, b);
    }
  });
}

}  // namespace

void norm(const backend::NormProblem& p) {
  if (p.x.numel() == 0) return;
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (p.weight && p.bias)
      norm_rows<true, true, T>(p);
    else if (p.weight)
      norm_rows<true, false, T>(p);
    else if (p.bias)
      norm_rows<false, true, T>(p);
    else
      norm_rows<false, false, T>(p);
  });
}

}  // namespace lc::cpu
