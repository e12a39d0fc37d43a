// Elementwise functors and the generic kernels that apply them (device code).
// One contiguous kernel, vectorised to 16-byte accesses when every pointer allows it, and one
// strided kernel for broadcasting (stride 0) operands.
#pragma once

#include <cstdint>
#include <type_traits>

#include "pdl.cuh"
#include "vec.cuh"

namespace lc::cuda::kernels {

// ---- functors (float and double; accurate libm functions, no fast-math intrinsics) ----------

template <class T>
__device__ __forceinline__ T exp_t(T x) {
  if constexpr (std::is_same_v<T, float>)
    return expf(x);
  else
    return exp(x);
}

// NaN stays NaN (x < 0 is false for NaN), as IEEE arithmetic and PyTorch do.
struct ReluF {
  template <class T>
  __device__ T operator()(T x) const {
    return x < T(0) ? T(0) : x;
  }
};
// The exact (erf) GELU, PyTorch's default.
struct GeluF {
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>)
      return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    else
      return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
  }
};
struct SiluF {
  template <class T>
  __device__ T operator()(T x) const {
    return x / (T(1) + exp_t(-x));
  }
};
struct SigmoidF {
  template <class T>
  __device__ T operator()(T x) const {
    return T(1) / (T(1) + exp_t(-x));
  }
};
struct TanhF {
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>)
      return tanhf(x);
    else
      return tanh(x);
  }
};
struct ExpF {
  template <class T>
  __device__ T operator()(T x) const {
    return exp_t(x);
  }
};
struct NegF {
  template <class T>
  __device__ T operator()(T x) const {
    return -x;
  }
};
struct AbsF {
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>)
      return fabsf(x);
    else
      return fabs(x);
  }
};
struct SqrtF {
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>)
      return sqrtf(x);
    else
      return sqrt(x);
  }
};
struct IdentityF {
  template <class T>
  __device__ T operator()(T x) const {
    return x;
  }
};

struct AddF {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct SubF {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a - b;
  }
};
struct MulF {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a * b;
  }
};
struct DivF {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a / b;
  }
};
// alpha * x + y, rounded as the CPU computes it (no fused multiply-add).
template <class T>
struct AxpyF {
  T alpha;
  __device__ T operator()(T x, T y) const { return add_rn(mul_rn(alpha, x), y); }
  __device__ static T mul_rn(T a, T b) {
    if constexpr (std::is_same_v<T, float>)
      return __fmul_rn(a, b);
    else
      return __dmul_rn(a, b);
  }
  __device__ static T add_rn(T a, T b) {
    if constexpr (std::is_same_v<T, float>)
      return __fadd_rn(a, b);
    else
      return __dadd_rn(a, b);
  }
};
// beta * x, or exactly 0 when beta is 0 (NaN in x included), as BLAS treats beta = 0.
template <class T>
struct ScaleF {
  T beta;
  __device__ T operator()(T x) const { return beta == T(0) ? T(0) : beta * x; }
};

// ---- generic kernels ---------------------------------------------------------------------

template <class F, class T, int kIn>
__device__ __forceinline__ T apply(const F& f, T a, T b) {
  if constexpr (kIn == 1)
    return f(a);
  else
    return f(a, b);
}

// out[i] = f(a[i] (, b[i])) over n elements; V elements per access (V = 1 when a pointer is
// not 16-byte aligned). Grid-stride loop over vectors, then a scalar tail. out may alias an
// input (in-place ops): each element is read and written by one thread, so no __restrict__.
template <class T, class F, int kIn, int V>
__global__ void map_contiguous(F f, T* out, const T* a, const T* b, std::int64_t n) {
  pdl_sync();
  const std::int64_t nvec = n / V;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < nvec;
       i += step) {
    Vec<T, V> va = load_vec<T, V>(a + i * V), vb{}, vo;
    if constexpr (kIn == 2) vb = load_vec<T, V>(b + i * V);
#pragma unroll
    for (int k = 0; k < V; ++k) vo.v[k] = apply<F, T, kIn>(f, va.v[k], vb.v[k]);
    store_vec<T, V>(out + i * V, vo);
  }
  for (std::int64_t i = nvec * V + static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < n; i += step)
    out[i] = apply<F, T, kIn>(f, a[i], kIn == 2 ? b[i] : T(0));
}

// Shapes and strides of a broadcast binary op after collapsing dimensions (out contiguous).
struct StridedShape {
  static constexpr int kMaxRank = 8;
  int rank = 0;  // of the outer dimensions (all but the last)
  std::int64_t outer_shape[kMaxRank] = {};
  std::int64_t a_stride[kMaxRank] = {};
  std::int64_t b_stride[kMaxRank] = {};
  std::int64_t inner = 1;                 // extent of the last dimension
  std::int64_t a_inner = 0, b_inner = 0;  // operand strides along it (0 or 1 usually)
  std::int64_t outer = 1;                 // product of outer_shape
};

// One row (an outer index) per y-thread; x-threads walk the last dimension, so the usual
// strides of 1 and 0 coalesce. Offsets are computed once per row.
template <class T, class F>
__global__ void map_strided(F f, T* out, const T* a, const T* b, StridedShape s) {
  pdl_sync();
  const std::int64_t row_step = static_cast<std::int64_t>(gridDim.y) * blockDim.y;
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
       r < s.outer; r += row_step) {
    std::int64_t oa = 0, ob = 0, rem = r;
    for (int d = s.rank - 1; d >= 0; --d) {
      const std::int64_t idx = rem % s.outer_shape[d];
      rem /= s.outer_shape[d];
      oa += idx * s.a_stride[d];
      ob += idx * s.b_stride[d];
    }
    T* o = out + r * s.inner;
    for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         j < s.inner; j += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
      o[j] = f(a[oa + j * s.a_inner], b[ob + j * s.b_inner]);
  }
}

// c[r, j] = act(c[r, j] + bias[j]) for a row-major (rows, cols) matrix; bias may be null.
template <class T, class Act>
__global__ void bias_act_rows(Act act, T* c, const T* bias, std::int64_t rows, std::int64_t cols) {
  pdl_sync();
  const std::int64_t row_step = static_cast<std::int64_t>(gridDim.y) * blockDim.y;
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows;
       r += row_step) {
    T* row = c + r * cols;
    for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         j < cols; j += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
      row[j] = act(bias ? row[j] + bias[j] : row[j]);
  }
}

}  // namespace lc::cuda::kernels
