// Row-wise kernels over the last axis (device code): softmax / log-softmax, layer norm,
// RMS norm and sum/mean/max. x and y may be the same array (in-place ops), hence no
// __restrict__ on them. A group of TPR threads owns a row: one warp (TPR = 32, several
// rows per block) or the whole block. Rows that fit are loaded once into registers, so each
// element is read once and written once; longer rows are streamed (two or three reads).
#pragma once

#include <cstdint>

#include "pdl.cuh"
#include "reduce.cuh"
#include "vec.cuh"

namespace lc::cuda::kernels {

inline constexpr int kWarpRowsPerBlock = 4;

template <int TPR>
struct RowIndex {
  __device__ static int lane() { return TPR == 32 ? threadIdx.x % 32 : threadIdx.x; }
  __device__ static std::int64_t first() {
    return TPR == 32 ? static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32
                     : static_cast<std::int64_t>(blockIdx.x);
  }
  __device__ static std::int64_t step() {
    return TPR == 32 ? static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32) : gridDim.x;
  }
};

// The VPT values of one row this thread holds. kVec: float4 accesses at columns
// (j * TPR + lane) * 4 (needs cols % 4 == 0 and an aligned row); else scalars at j * TPR + lane.
// Either way a warp's access is contiguous (coalesced).
template <int TPR, int VPT, bool kVec>
struct RowRegs {
  static_assert(!kVec || VPT % 4 == 0, "float4 accesses");
  float v[VPT];

  __device__ static int col(int i, int lane) {
    if constexpr (kVec)
      return ((i / 4) * TPR + lane) * 4 + i % 4;
    else
      return i * TPR + lane;
  }
  __device__ void load(const float* row, int cols, int lane, float fill) {
    if constexpr (kVec) {
#pragma unroll
      for (int j = 0; j < VPT / 4; ++j) {
        const int c = (j * TPR + lane) * 4;
        Vec<float, 4> q;
        if (c < cols)
          q = load_vec<float, 4>(row + c);
        else
          q.v[0] = q.v[1] = q.v[2] = q.v[3] = fill;
#pragma unroll
        for (int k = 0; k < 4; ++k) v[j * 4 + k] = q.v[k];
      }
    } else {
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        const int c = col(i, lane);
        v[i] = c < cols ? row[c] : fill;
      }
    }
  }
  __device__ void store(float* row, int cols, int lane) const {
    if constexpr (kVec) {
#pragma unroll
      for (int j = 0; j < VPT / 4; ++j) {
        const int c = (j * TPR + lane) * 4;
        if (c < cols)
          store_vec<float, 4>(row + c,
                              Vec<float, 4>{{v[j * 4], v[j * 4 + 1], v[j * 4 + 2], v[j * 4 + 3]}});
      }
    } else {
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        const int c = col(i, lane);
        if (c < cols) row[c] = v[i];
      }
    }
  }
};

template <int TPR>
constexpr int block_threads() {
  return TPR == 32 ? 32 * kWarpRowsPerBlock : TPR;
}

// ---- register-resident rows (cols <= TPR * VPT) -------------------------------------------

template <int TPR, int VPT, bool kVec>
__global__ void __launch_bounds__(block_threads<TPR>())
    softmax_regs(const float* x, float* y, std::int64_t rows, int cols, bool log) {
  pdl_sync();
  __shared__ float smem[32];
  const int lane = RowIndex<TPR>::lane();
  for (std::int64_t r = RowIndex<TPR>::first(); r < rows; r += RowIndex<TPR>::step()) {
    RowRegs<TPR, VPT, kVec> t;
    t.load(x + r * cols, cols, lane, -INFINITY);
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < VPT; ++i) m = MaxOp{}(m, t.v[i]);
    m = RowGroup<TPR>::reduce(m, MaxOp{}, smem);
    float s = 0.f;
    if (log) {
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        t.v[i] -= m;
        s += expf(t.v[i]);
      }
      s = RowGroup<TPR>::reduce(s, SumOp{}, smem);
      const float ls = logf(s);
#pragma unroll
      for (int i = 0; i < VPT; ++i) t.v[i] -= ls;
    } else {
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        t.v[i] = expf(t.v[i] - m);
        s += t.v[i];
      }
      s = RowGroup<TPR>::reduce(s, SumOp{}, smem);
      const float inv = 1.f / s;
#pragma unroll
      for (int i = 0; i < VPT; ++i) t.v[i] *= inv;
    }
    t.store(y + r * cols, cols, lane);
  }
}

// Layer norm (kRms = false: (x - mean) / sqrt(var + eps) * w + b) or RMS norm
// (x / sqrt(mean(x^2) + eps) * w). Variance from the registers: exact two-pass arithmetic.
// One warp per row (TPR = 32): the block stages weight and bias in shared memory, loading them
// while its first rows' loads are in flight, so the stores never wait on a global load.
template <int TPR, int VPT, bool kVec, bool kRms>
__global__ void __launch_bounds__(block_threads<TPR>())
    norm_regs(const float* x, float* y, const float* __restrict__ w, const float* __restrict__ b,
              std::int64_t rows, int cols, float eps) {
  pdl_sync();
  using Regs = RowRegs<TPR, VPT, kVec>;
  constexpr bool kStaged = TPR == 32;
  constexpr int kBlock = block_threads<TPR>();
  constexpr int kStagedCols = kStaged ? 32 * VPT : 4;
  __shared__ float smem[32];
  __shared__ __align__(16) float sw[kStagedCols];
  __shared__ __align__(16) float sb[kStagedCols];
  const int lane = RowIndex<TPR>::lane();
  const float inv_cols = 1.f / static_cast<float>(cols);
  std::int64_t r = RowIndex<TPR>::first();
  Regs t;
  if (r < rows) t.load(x + r * cols, cols, lane, 0.f);
  if constexpr (kStaged) {
    constexpr int kPer = (kStagedCols + kBlock - 1) / kBlock;
    float tw[kPer], tb[kPer];
#pragma unroll
    for (int j = 0; j < kPer; ++j) {  // every load issued before the first shared store
      const int c = j * kBlock + threadIdx.x;
      tw[j] = c < cols && w ? w[c] : 1.f;
      tb[j] = c < cols && !kRms && b ? b[c] : 0.f;
    }
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int c = j * kBlock + threadIdx.x;
      if (c < kStagedCols) {
        sw[c] = tw[j];
        sb[c] = tb[j];
      }
    }
    __syncthreads();
  }
  for (; r < rows;) {
    float mean = 0.f, scale;
    if constexpr (kRms) {
      float ss = 0.f;
#pragma unroll
      for (int i = 0; i < VPT; ++i) ss += t.v[i] * t.v[i];
      ss = RowGroup<TPR>::reduce(ss, SumOp{}, smem);
      scale = 1.f / sqrtf(ss * inv_cols + eps);
    } else {
      float s = 0.f;
#pragma unroll
      for (int i = 0; i < VPT; ++i) s += t.v[i];
      mean = RowGroup<TPR>::reduce(s, SumOp{}, smem) * inv_cols;
      float ss = 0.f;
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        const float d = Regs::col(i, lane) < cols ? t.v[i] - mean : 0.f;
        ss += d * d;
      }
      ss = RowGroup<TPR>::reduce(ss, SumOp{}, smem);
      scale = 1.f / sqrtf(ss * inv_cols + eps);
    }
    float* out = y + r * cols;
    if constexpr (kVec) {
#pragma unroll
      for (int j = 0; j < VPT / 4; ++j) {
        const int c = (j * TPR + lane) * 4;
        if (c >= cols) continue;
        Vec<float, 4> o;
#pragma unroll
        for (int k = 0; k < 4; ++k) o.v[k] = (t.v[j * 4 + k] - mean) * scale;
        if (kStaged || w) {
          const Vec<float, 4> wv =
              kStaged ? *reinterpret_cast<const Vec<float, 4>*>(sw + c) : load_vec<float, 4>(w + c);
#pragma unroll
          for (int k = 0; k < 4; ++k) o.v[k] *= wv.v[k];
        }
        if (!kRms && (kStaged || b)) {
          const Vec<float, 4> bv =
              kStaged ? *reinterpret_cast<const Vec<float, 4>*>(sb + c) : load_vec<float, 4>(b + c);
#pragma unroll
          for (int k = 0; k < 4; ++k) o.v[k] += bv.v[k];
        }
        store_vec<float, 4>(out + c, o);
      }
    } else {
#pragma unroll
      for (int i = 0; i < VPT; ++i) {
        const int c = Regs::col(i, lane);
        if (c >= cols) continue;
        float o = (t.v[i] - mean) * scale;
        if constexpr (kStaged) {
          o = o * sw[c] + (kRms ? 0.f : sb[c]);
        } else {
          if (w) o *= w[c];
          if (!kRms && b) o += b[c];
        }
        out[c] = o;
      }
    }
    r += RowIndex<TPR>::step();
    if (r < rows) t.load(x + r * cols, cols, lane, 0.f);
  }
}

// ---- streamed rows (any length, float or double): one block per row -----------------------

template <class T>
__device__ __forceinline__ T exp_of(T x) {
  if constexpr (sizeof(T) == 4)
    return expf(x);
  else
    return exp(x);
}
template <class T>
__device__ __forceinline__ T log_of(T x) {
  if constexpr (sizeof(T) == 4)
    return logf(x);
  else
    return log(x);
}
template <class T>
__device__ __forceinline__ T sqrt_of(T x) {
  if constexpr (sizeof(T) == 4)
    return sqrtf(x);
  else
    return sqrt(x);
}

// Calls f(column, value) for this thread's columns of a row, float4 at a time when kVec.
template <class T, bool kVec, class F>
__device__ __forceinline__ void for_row(const T* row, std::int64_t cols, F&& f) {
  if constexpr (kVec) {
    for (std::int64_t c = static_cast<std::int64_t>(threadIdx.x) * 4; c < cols;
         c += blockDim.x * 4) {
      const Vec<T, 4> q = load_vec<T, 4>(row + c);
#pragma unroll
      for (int k = 0; k < 4; ++k) f(c + k, q.v[k]);
    }
  } else {
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) f(c, row[c]);
  }
}

// out[c] = g(c, in[c]) for this thread's columns (in may be out: each element is read, then
// written, by one thread).
template <class T, bool kVec, class G>
__device__ __forceinline__ void map_row(const T* in, T* out, std::int64_t cols, G&& g) {
  if constexpr (kVec) {
    for (std::int64_t c = static_cast<std::int64_t>(threadIdx.x) * 4; c < cols;
         c += blockDim.x * 4) {
      Vec<T, 4> q = load_vec<T, 4>(in + c);
#pragma unroll
      for (int k = 0; k < 4; ++k) q.v[k] = g(c + k, q.v[k]);
      store_vec<T, 4>(out + c, q);
    }
  } else {
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[c] = g(c, in[c]);
  }
}

// Online softmax: pass 1 keeps a running (max, sum) per thread, pass 2 writes.
template <class T, int kThreads, bool kVec>
__global__ void __launch_bounds__(kThreads)
    softmax_stream(const T* x, T* y, std::int64_t rows, std::int64_t cols, bool log) {
  pdl_sync();
  __shared__ T smem[32];
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* in = x + r * cols;
    T m = -INFINITY, s = 0;
    for_row<T, kVec>(in, cols, [&](std::int64_t, T v) {
      if (v > m || v != v) {  // a NaN becomes the max, so the whole row turns NaN
        s = s * exp_of(m - v) + T(1);
        m = v;
      } else {
        s += exp_of(v - m);
      }
    });
    const T mr = RowGroup<kThreads>::reduce(m, MaxOp{}, smem);
    s = m == -INFINITY ? T(0) : s * exp_of(m - mr);
    s = RowGroup<kThreads>::reduce(s, SumOp{}, smem);
    if (log) {
      const T shift = mr + log_of(s);
      map_row<T, kVec>(in, y + r * cols, cols, [&](std::int64_t, T v) { return v - shift; });
    } else {
      const T inv = T(1) / s;
      map_row<T, kVec>(in, y + r * cols, cols,
                       [&](std::int64_t, T v) { return exp_of(v - mr) * inv; });
    }
  }
}

// Layer norm: mean, then the variance about it (two reads, exact), then the write; RMS norm
// skips the mean.
template <class T, int kThreads, bool kVec, bool kRms>
__global__ void __launch_bounds__(kThreads)
    norm_stream(const T* x, T* y, const T* __restrict__ w, const T* __restrict__ b,
                std::int64_t rows, std::int64_t cols, T eps) {
  pdl_sync();
  __shared__ T smem[32];
  const T inv_cols = T(1) / static_cast<T>(cols);
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* in = x + r * cols;
    T mean = 0, acc = 0;
    if constexpr (!kRms) {
      for_row<T, kVec>(in, cols, [&](std::int64_t, T v) { acc += v; });
      mean = RowGroup<kThreads>::reduce(acc, SumOp{}, smem) * inv_cols;
      acc = 0;
    }
    for_row<T, kVec>(in, cols, [&](std::int64_t, T v) { acc += (v - mean) * (v - mean); });
    const T scale = T(1) / sqrt_of(RowGroup<kThreads>::reduce(acc, SumOp{}, smem) * inv_cols + eps);
    map_row<T, kVec>(in, y + r * cols, cols, [&](std::int64_t c, T v) {
      T o = (v - mean) * scale;
      if (w) o *= w[c];
      if (!kRms && b) o += b[c];
      return o;
    });
  }
}

// ---- reductions ----------------------------------------------------------------------------

// out[v] = scale * reduce(x[row, begin:end]) for each virtual row v = row * splits + part; each
// part covers `part_len` columns (a multiple of 4 when kVec). splits = 1 reduces whole rows.
template <class T, int TPR, bool kVec, class Op>
__global__ void __launch_bounds__(block_threads<TPR>())
    reduce_rows(const T* __restrict__ x, T* __restrict__ out, std::int64_t rows, std::int64_t cols,
                int splits, std::int64_t part_len, T scale) {
  pdl_sync();
  __shared__ T smem[32];
  const int lane = RowIndex<TPR>::lane();
  const std::int64_t vrows = rows * splits;
  const Op op;
  for (std::int64_t vr = RowIndex<TPR>::first(); vr < vrows; vr += RowIndex<TPR>::step()) {
    const std::int64_t r = vr / splits, begin = (vr % splits) * part_len;
    const std::int64_t end = begin + part_len < cols ? begin + part_len : cols;
    const T* row = x + r * cols;
    T acc = Op::template identity<T>();
    if constexpr (kVec) {
      for (std::int64_t c = begin + static_cast<std::int64_t>(lane) * 4; c < end; c += TPR * 4) {
        const Vec<T, 4> q = load_vec<T, 4>(row + c);
        acc = op(acc, op(op(q.v[0], q.v[1]), op(q.v[2], q.v[3])));
      }
    } else {
      for (std::int64_t c = begin + lane; c < end; c += TPR) acc = op(acc, row[c]);
    }
    acc = RowGroup<TPR>::reduce(acc, op, smem);
    if (lane == 0) out[vr] = acc * scale;
  }
}

}  // namespace lc::cuda::kernels
