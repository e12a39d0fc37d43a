// max/avg pooling over NCHW, one thread per output element (PyTorch semantics: implicit -inf
// padding for max, NaN propagates; avg divides by the padded window clipped to H+pad, or by
// the valid count when count_include_pad is false).
#pragma once

#include <cmath>
#include <cstdint>

namespace lc::cuda::kern {

struct PoolParams {
  const float* x;
  float* out;
  std::int64_t planes;  // N*C
  int h, w, oh, ow;
  int kh, kw, sh, sw, ph, pw;
  bool count_include_pad;
};

template <bool kMax>
__global__ void pool2d_kernel(PoolParams p) {
  const std::int64_t n = p.planes * p.oh * p.ow;
  for (std::int64_t idx = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const int ox = static_cast<int>(idx % p.ow);
    const int oy = static_cast<int>((idx / p.ow) % p.oh);
    const std::int64_t plane = idx / (static_cast<std::int64_t>(p.ow) * p.oh);
    const float* xp = p.x + plane * p.h * p.w;
    int y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    int y1 = min(y0 + p.kh, p.h + p.ph), x1 = min(x0 + p.kw, p.w + p.pw);
    const int window = (y1 - y0) * (x1 - x0);
    y0 = max(y0, 0);
    x0 = max(x0, 0);
    y1 = min(y1, p.h);
    x1 = min(x1, p.w);
    if constexpr (kMax) {
      float m = -INFINITY;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const float v = __ldg(xp + y * p.w + x);
          if (v > m || isnan(v)) m = v;
          if (isnan(m)) break;
        }
      p.out[idx] = m;
    } else {
      float s = 0.f;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) s += __ldg(xp + y * p.w + x);
      const int div = p.count_include_pad ? window : (y1 - y0) * (x1 - x0);
      p.out[idx] = s / static_cast<float>(div);
    }
  }
}

}  // namespace lc::cuda::kern
