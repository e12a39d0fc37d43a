// Conv2d variant choice: a pure function of the problem, testable without a GPU.
#pragma once

#include <cstdint>

namespace lc::cuda::convh {

enum class ConvVariant { direct, cudnn };

struct ConvShape {
  std::int64_t n = 1, c = 1, h = 1, w = 1, o = 1, kh = 1, kw = 1, oh = 1, ow = 1, groups = 1;
  bool cudnn_available = false;
};

struct ConvPlan {
  ConvVariant variant = ConvVariant::direct;
  const char* reason = "";
};

inline std::int64_t conv_macs(const ConvShape& s) {
  return s.n * s.o * s.oh * s.ow * (s.c / (s.groups > 0 ? s.groups : 1)) * s.kh * s.kw;
}

// Up to ~16M multiply-adds one direct launch (a few microseconds) beats cuDNN's descriptor
// setup and dispatch; past that cuDNN's implicit-GEMM/Winograd/FFT engines win.
inline ConvPlan plan_conv(const ConvShape& s) {
  if (!s.cudnn_available) return {ConvVariant::direct, "no cuDNN in this build: direct kernel"};
  if (conv_macs(s) <= (std::int64_t{1} << 24))
    return {ConvVariant::direct,
            "small convolution: launch-bound, one direct kernel with fused bias/ReLU"};
  return {ConvVariant::cudnn, "large convolution: cuDNN (algorithm searched once per shape)"};
}

}  // namespace lc::cuda::convh
