// 16-bit staging for the cuDNN attention variant: Q/K/V packed dense (the mma kernel's pack with
// the row width equal to the head dim, so cuDNN sees plain [B,H,S,D] tensors) and O back to fp32.
#include <algorithm>
#include <cstdint>

#include <cuda_fp16.h>

#include "backends/cuda/attention_cudnn.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/attention_mma.cuh"

namespace lc::cuda {

namespace {

template <bool kFp16>
__device__ __forceinline__ float half_bits_to_float(unsigned bits) {
  if constexpr (kFp16)
    return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
  else
    return __uint_as_float(bits << 16);
}

// 8 values per step (16 bytes in, 32 out) where both pointers are 16-byte aligned.
template <bool kFp16>
__global__ void __launch_bounds__(256)
    attention_unpack16_kernel(const std::uint16_t* __restrict__ src, float* __restrict__ dst,
                              std::int64_t n, bool vec) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t start = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  std::int64_t done = 0;
  if (vec) {
    const std::int64_t groups = n / 8;
    for (std::int64_t i = start; i < groups; i += step) {
      const uint4 u = reinterpret_cast<const uint4*>(src)[i];
      const unsigned w[4] = {u.x, u.y, u.z, u.w};
      float v[8];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        v[2 * k] = half_bits_to_float<kFp16>(w[k] & 0xffffu);
        v[2 * k + 1] = half_bits_to_float<kFp16>(w[k] >> 16);
      }
      reinterpret_cast<float4*>(dst)[2 * i] = make_float4(v[0], v[1], v[2], v[3]);
      reinterpret_cast<float4*>(dst)[2 * i + 1] = make_float4(v[4], v[5], v[6], v[7]);
    }
    done = groups * 8;
  }
  for (std::int64_t i = done + start; i < n; i += step) dst[i] = half_bits_to_float<kFp16>(src[i]);
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; }

unsigned blocks_for(const Context& ctx, std::int64_t items) {
  return static_cast<unsigned>(std::max<std::int64_t>(
      1, std::min<std::int64_t>((items + 255) / 256,
                                static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 16)));
}

}  // namespace

void attention_pack16_dense(Context& ctx, const AttnFwdArgs& a, void* q16, void* k16, void* v16) {
  const AttnDims& d = a.dims;
  const bool fp16 = a.precision == Precision::fp16;
  const std::int64_t q_rows = d.batch * d.heads * d.sq, kv_rows = d.batch * d.kv_heads * d.sk;
  // One launch for the three when D == Dv (the kernel has one row width), else Q/K then V.
  auto pack = [&](bool qk, bool v, int dp) {
    kern::Pack16Args p{};
    p.src[0] = qk ? a.q : nullptr;
    p.src[1] = qk ? a.k : nullptr;
    p.src[2] = v ? a.v : nullptr;
    p.dst[0] = q16;
    p.dst[1] = k16;
    p.dst[2] = v16;
    p.rows[0] = q_rows;
    p.rows[1] = kv_rows;
    p.rows[2] = kv_rows;
    p.d[0] = d.d;
    p.d[1] = d.d;
    p.d[2] = d.dv;
    p.dp = dp;
    p.vec = aligned16(a.q) && aligned16(a.k) && aligned16(a.v);
    const unsigned blocks = blocks_for(ctx, std::max(q_rows, kv_rows) * (dp / 8));
    if (fp16)
      kern::attention_pack16_kernel<true><<<dim3(blocks, 3), 256, 0, ctx.stream>>>(p);
    else
      kern::attention_pack16_kernel<false><<<dim3(blocks, 3), 256, 0, ctx.stream>>>(p);
    LC_CUDA_CHECK_LAUNCH();
  };
  if (d.d == d.dv) {
    pack(true, true, d.d);
  } else {
    pack(true, false, d.d);
    pack(false, true, d.dv);
  }
}

void attention_pack16_rows(Context& ctx, const float* src, void* dst, std::int64_t rows, int d,
                           bool fp16) {
  kern::Pack16Args p{};
  p.src[0] = src;
  p.src[1] = p.src[2] = nullptr;
  p.dst[0] = dst;
  p.rows[0] = rows;
  p.d[0] = d;
  p.dp = d;
  p.vec = aligned16(src);
  const unsigned blocks = blocks_for(ctx, rows * (d / 8));
  if (fp16)
    kern::attention_pack16_kernel<true><<<dim3(blocks, 1), 256, 0, ctx.stream>>>(p);
  else
    kern::attention_pack16_kernel<false><<<dim3(blocks, 1), 256, 0, ctx.stream>>>(p);
  LC_CUDA_CHECK_LAUNCH();
}

void attention_unpack16(Context& ctx, const void* src, float* dst, std::int64_t n, bool fp16) {
  if (n <= 0) return;
  const bool vec = aligned16(src) && aligned16(dst);
  const unsigned blocks = blocks_for(ctx, vec ? std::max<std::int64_t>(n / 8, 1) : n);
  const auto* s = static_cast<const std::uint16_t*>(src);
  if (fp16)
    attention_unpack16_kernel<true><<<blocks, 256, 0, ctx.stream>>>(s, dst, n, vec);
  else
    attention_unpack16_kernel<false><<<blocks, 256, 0, ctx.stream>>>(s, dst, n, vec);
  LC_CUDA_CHECK_LAUNCH();
}

}  // namespace lc::cuda
