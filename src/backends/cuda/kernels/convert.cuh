// float32 -> bf16 / fp16 conversion for the tensor-core GEMM paths (device code).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "pdl.cuh"
#include "vec.cuh"

namespace lc::cuda::kernels {

template <class H>
__device__ __forceinline__ H to_half(float x) {
  if constexpr (std::is_same_v<H, __nv_bfloat16>)
    return __float2bfloat16_rn(x);
  else
    return __float2half_rn(x);
}

// dst[i] = round-to-nearest-even(src[i]); 8 elements (32 bytes in, 16 out) per access when
// kVector (both pointers 16-byte aligned).
template <class H, bool kVector>
__global__ void convert_f32(const float* __restrict__ src, H* __restrict__ dst, std::int64_t n) {
  pdl_sync();
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t start = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  std::int64_t done = 0;
  if constexpr (kVector) {
    const std::int64_t groups = n / 8;
    for (std::int64_t i = start; i < groups; i += step) {
      const Vec<float, 4> lo = load_vec<float, 4>(src + i * 8),
                          hi = load_vec<float, 4>(src + i * 8 + 4);
      Vec<H, 8> o;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        o.v[k] = to_half<H>(lo.v[k]);
        o.v[k + 4] = to_half<H>(hi.v[k]);
      }
      store_vec<H, 8>(dst + i * 8, o);
    }
    done = groups * 8;
  }
  for (std::int64_t i = done + start; i < n; i += step) dst[i] = to_half<H>(src[i]);
}

}  // namespace lc::cuda::kernels
