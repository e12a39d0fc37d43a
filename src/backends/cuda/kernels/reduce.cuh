// Warp and block reductions (device code). Every thread of the group gets the result.
#pragma once

#include <cmath>

namespace lc::cuda::kernels {

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return a + b;
  }
  template <class T>
  __device__ __forceinline__ static T identity() {
    return T(0);
  }
};

// Propagates NaN (fmaxf would drop it), as the CPU reference and NumPy do.
struct MaxOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return (b > a || b != b) ? b : a;
  }
  template <class T>
  __device__ __forceinline__ static T identity() {
    return -INFINITY;
  }
};

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Threads per row: 32 (one warp per row, several rows per block) or the whole block (one row).
// `smem` holds at least 32 values; the reduction synchronises the block when kThreads > 32.
template <int kThreads>
struct RowGroup {
  static_assert(kThreads == 32 || (kThreads % 32 == 0 && kThreads <= 1024), "warp or block");
  template <class T, class Op>
  __device__ __forceinline__ static T reduce(T v, Op op, T* smem) {
    v = warp_reduce(v, op);
    if constexpr (kThreads == 32) {
      return v;
    } else {
      constexpr int kWarps = kThreads / 32;
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
      __syncthreads();  // smem may still be read by a previous reduction
      if (lane == 0) smem[warp] = v;
      __syncthreads();
      T r = lane < kWarps ? smem[lane] : Op::template identity<T>();
      return warp_reduce(r, op);
    }
  }
};

// Welford partials (count, mean, M2), merged with Chan's formula.
struct Welford {
  float n = 0.f, mean = 0.f, m2 = 0.f;
  __device__ __forceinline__ void add(float x) {
    n += 1.f;
    const float d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  __device__ __forceinline__ void merge(const Welford& o) {
    if (o.n == 0.f) return;
    if (n == 0.f) {
      *this = o;
      return;
    }
    const float t = n + o.n, d = o.mean - mean;
    mean += d * (o.n / t);
    m2 += o.m2 + d * d * (n * o.n / t);
    n = t;
  }
};

__device__ __forceinline__ Welford warp_welford(Welford w) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Welford other;
    other.n = __shfl_xor_sync(0xffffffffu, w.n, o);
    other.mean = __shfl_xor_sync(0xffffffffu, w.mean, o);
    other.m2 = __shfl_xor_sync(0xffffffffu, w.m2, o);
    w.merge(other);
  }
  return w;
}

}  // namespace lc::cuda::kernels
