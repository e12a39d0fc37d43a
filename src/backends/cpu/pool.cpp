// CPU max/avg pooling, NCHW, over (N*C) independent planes. Windows are clipped to the input;
// padding never wins a max and counts in the average only with count_include_pad.
#include <algorithm>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

using std::int64_t;

// Below this many window reads the work runs on the calling thread.
constexpr int64_t kParallelReads = int64_t{1} << 17;

struct PoolGeom {
  int64_t h, w, oh, ow, kh, kw, sh, sw, ph, pw;
  bool include_pad;
};

template <class T, backend::PoolKind Kind>
inline T combine(T acc, T v) {
  if constexpr (Kind == backend::PoolKind::max)
    return ((acc < v) | (v != v)) ? v : acc;  // NaN wins
  else
    return acc + v;
}

template <class T, backend::PoolKind Kind>
constexpr T identity() {
  if constexpr (Kind == backend::PoolKind::max)
    return -std::numeric_limits<T>::infinity();
  else
    return T(0);
}

// One output value from its window clipped to the input: rows [h0, h1), columns [w0, w1).
template <class T, backend::PoolKind Kind>
T pool_window(const PoolGeom& g, const T* xp, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  T r = identity<T, Kind>();
  for (int64_t ih = h0; ih < h1; ++ih)
    for (int64_t iw = w0; iw < w1; ++iw) r = combine<T, Kind>(r, xp[ih * g.w + iw]);
  if constexpr (Kind == backend::PoolKind::max) return r;
  // With PyTorch's padding rule a window never passes the padded border: the padded count
  // is always KH*KW.
  const int64_t count = g.include_pad ? g.kh * g.kw : (h1 - h0) * (w1 - w0);
  return r / static_cast<T>(count);
}

// Planes [begin, end) of x (planes,H,W) into out (planes,OH,OW). Columns whose window lies
// inside the row are done a row chunk at a time (the inner loop runs along ow and
// vectorises); the few edge columns one window at a time.
template <class T, backend::PoolKind Kind, bool UnitStride>
void pool_planes(const PoolGeom& g, const T* x, T* out, int64_t begin, int64_t end) {
  constexpr int64_t kChunk = 256;
  const int64_t sw = UnitStride ? 1 : g.sw;
  // Interior columns: ow*sw - pw >= 0 and ow*sw - pw + kw <= W.
  const int64_t lo = std::min(g.ow, (g.pw + sw - 1) / sw);
  const int64_t hi =
      g.w - g.kw + g.pw < 0 ? lo : std::clamp<int64_t>((g.w - g.kw + g.pw) / sw + 1, lo, g.ow);
  T acc[kChunk];
  for (int64_t pl = begin; pl < end; ++pl) {
    const T* xp = x + pl * g.h * g.w;
    T* op = out + pl * g.oh * g.ow;
    for (int64_t oh = 0; oh < g.oh; ++oh, op += g.ow) {
      const int64_t hs = oh * g.sh - g.ph;
      const int64_t h0 = std::max<int64_t>(hs, 0), h1 = std::min(hs + g.kh, g.h);
      auto edge = [&](int64_t ow) {
        const int64_t ws = ow * sw - g.pw;
        op[ow] =
            pool_window<T, Kind>(g, xp, h0, h1, std::max<int64_t>(ws, 0), std::min(ws + g.kw, g.w));
      };
      for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
      for (int64_t ow = hi; ow < g.ow; ++ow) edge(ow);
      const T count = static_cast<T>(g.include_pad ? g.kh * g.kw : (h1 - h0) * g.kw);
      for (int64_t c0 = lo; c0 < hi; c0 += kChunk) {
        const int64_t n = std::min(kChunk, hi - c0);
        std::fill(acc, acc + n, identity<T, Kind>());
        for (int64_t ih = h0; ih < h1; ++ih) {
          const T* xr = xp + ih * g.w + c0 * sw - g.pw;
          for (int64_t s = 0; s < g.kw; ++s)
            for (int64_t i = 0; i < n; ++i) acc[i] = combine<T, Kind>(acc[i], xr[i * sw + s]);
        }
        if constexpr (Kind == backend::PoolKind::max)
          std::copy(acc, acc + n, op + c0);
        else
          for (int64_t i = 0; i < n; ++i) op[c0 + i] = acc[i] / count;
      }
    }
  }
}

template <class T, backend::PoolKind Kind>
void pool_typed(const PoolGeom& g, const T* x, T* out, int64_t planes) {
  const int64_t plane_reads = std::max<int64_t>(1, g.oh * g.ow * g.kh * g.kw);
  if (planes * plane_reads < kParallelReads) {
    if (g.sw == 1)
      pool_planes<T, Kind, true>(g, x, out, 0, planes);
    else
      pool_planes<T, Kind, false>(g, x, out, 0, planes);
    return;
  }
  parallel_for(planes, std::max<int64_t>(1, kParallelReads / 4 / plane_reads),
               [&](int64_t b, int64_t e) {
                 if (g.sw == 1)
                   pool_planes<T, Kind, true>(g, x, out, b, e);
                 else
                   pool_planes<T, Kind, false>(g, x, out, b, e);
               });
}

}  // namespace

void pool2d(const backend::Pool2dProblem& p) {
  if (p.out.numel() == 0) return;
  const Pool2dParams& q = p.params;
  const PoolGeom g{p.x.shape[2], p.x.shape[3], p.out.shape[2],     p.out.shape[3],
                   q.kernel_h,   q.kernel_w,   q.stride_h,         q.stride_w,
                   q.pad_h,      q.pad_w,      q.count_include_pad};
  const int64_t planes = p.x.shape[0] * p.x.shape[1];
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    T* out = p.out.ptr<T>();
    if (p.kind == backend::PoolKind::max)
      pool_typed<T, backend::PoolKind::max>(g, x, out, planes);
    else
      pool_typed<T, backend::PoolKind::avg>(g, x, out, planes);
  });
}

}  // namespace lc::cpu
