// Direct NCHW convolution for small problems, where cuDNN's setup and launch cost dominates:
// one thread per output element, bias and ReLU fused, groups and dilation, fp32 arithmetic on
// inputs rounded per the precision policy. Consecutive threads take consecutive output columns
// of one channel, so the weight reads are warp-uniform (broadcast) and the input reads coalesce.
#pragma once

#include <cstdint>

#include "attention_common.cuh"

namespace lc::cuda::kern {

struct ConvDirectParams {
  const float* x;     // (N, C, H, W)
  const float* w;     // (O, C/groups, KH, KW)
  const float* bias;  // (O) or null
  float* out;         // (N, O, OH, OW)
  int n, c, h, w_in, o, kh, kw, oh, ow;
  int sh, sw, ph, pw, dh, dw, groups;
  bool relu;
};

template <int kRound>
__global__ void __launch_bounds__(256) conv2d_direct_kernel(ConvDirectParams p) {
  const std::int64_t total = static_cast<std::int64_t>(p.n) * p.o * p.oh * p.ow;
  const int cg = p.c / p.groups, og = p.o / p.groups;
  for (std::int64_t idx = blockIdx.x * 256ll + threadIdx.x; idx < total; idx += 256ll * gridDim.x) {
    const int ox = static_cast<int>(idx % p.ow);
    std::int64_t t = idx / p.ow;
    const int oy = static_cast<int>(t % p.oh);
    t /= p.oh;
    const int oc = static_cast<int>(t % p.o);
    const int b = static_cast<int>(t / p.o);
    const int g = oc / og;
    const float* xb =
        p.x +
        (static_cast<std::int64_t>(b) * p.c + static_cast<std::int64_t>(g) * cg) * p.h * p.w_in;
    const float* wo = p.w + static_cast<std::int64_t>(oc) * cg * p.kh * p.kw;
    const int y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    float acc = 0.f;
    for (int ci = 0; ci < cg; ++ci) {
      const float* xc = xb + static_cast<std::int64_t>(ci) * p.h * p.w_in;
      const float* wc = wo + ci * p.kh * p.kw;
      for (int ky = 0; ky < p.kh; ++ky) {
        const int y = y0 + ky * p.dh;
        if (y < 0 || y >= p.h) continue;
        for (int kx = 0; kx < p.kw; ++kx) {
          const int x = x0 + kx * p.dw;
          if (x < 0 || x >= p.w_in) continue;
          acc = fmaf(round_input<kRound>(__ldg(xc + y * p.w_in + x)),
                     round_input<kRound>(__ldg(wc + ky * p.kw + kx)), acc);
        }
      }
    }
    if (p.bias) acc += __ldg(p.bias + oc);
    if (p.relu) acc = acc > 0.f ? acc : (acc == acc ? 0.f : acc);  // NaN stays NaN
    p.out[idx] = acc;
  }
}

// out (N, O, plane) += bias[o], then ReLU: the epilogue after a cuDNN convolution.
__global__ void __launch_bounds__(256)
    conv_bias_relu_kernel(float* out, const float* bias, std::int64_t total, std::int64_t plane,
                          int o, bool relu) {
  for (std::int64_t idx = blockIdx.x * 256ll + threadIdx.x; idx < total; idx += 256ll * gridDim.x) {
    float v = out[idx];
    if (bias) v += __ldg(bias + (idx / plane) % o);
    if (relu) v = v > 0.f ? v : (v == v ? 0.f : v);
    out[idx] = v;
  }
}

// dst[i] = src[i] rounded to bf16/fp16 and widened back to fp32.
template <int kRound>
__global__ void __launch_bounds__(256)
    round_copy_kernel(const float* src, float* dst, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x)
    dst[i] = round_input<kRound>(src[i]);
}

}  // namespace lc::cuda::kern
