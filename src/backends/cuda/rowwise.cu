// Row-wise launchers: softmax / log_softmax, layer_norm / rms_norm, sum / mean / max over the
// last axis. The shape -> kernel choice is in pick_row_kernel (one place, with the reason).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/rowwise.cuh"

namespace lc::cuda {
namespace {

using namespace kernels;
template <int N>
using Int = std::integral_constant<int, N>;
template <bool B>
using Bool = std::integral_constant<bool, B>;

constexpr int kBlockRowThreads = 256;  // threads per row when a row is too long for a warp
constexpr int kStreamThreads = 512;    // threads per row beyond the register-resident sizes
constexpr int kMaxRegisterCols = kBlockRowThreads * 32;

struct Rows {
  std::int64_t rows = 0, cols = 0;
};

Rows rows_of(const TensorView& x) {
  Rows r;
  r.cols = x.rank() ? x.shape[x.rank() - 1] : 1;
  r.rows = r.cols ? x.numel() / r.cols : 0;
  return r;
}

// Register-resident rows: the smallest (threads per row, values per thread) that holds `cols`,
// one warp per row up to 1024 columns (no block barriers), a 256-thread block up to 8192.
// Calls run_kernel(TPR, VPT, kVec) with compile-time constants; returns false beyond 8192 columns.
template <class Launch>
bool pick_row_kernel(std::int64_t cols, bool vec, Launch&& run_kernel) {
  auto go = [&](auto tpr, auto vpt) {
    if (vec)
      run_kernel(tpr, vpt, Bool<true>{});
    else
      run_kernel(tpr, vpt, Bool<false>{});
    return true;
  };
  if (cols <= 32 && !vec) return run_kernel(Int<32>{}, Int<1>{}, Bool<false>{}), true;
  if (cols <= 128) return go(Int<32>{}, Int<4>{});
  if (cols <= 256) return go(Int<32>{}, Int<8>{});
  if (cols <= 512) return go(Int<32>{}, Int<16>{});
  if (cols <= 1024) return go(Int<32>{}, Int<32>{});
  if (cols <= 2048) return go(Int<kBlockRowThreads>{}, Int<8>{});
  if (cols <= 4096) return go(Int<kBlockRowThreads>{}, Int<16>{});
  if (cols <= kMaxRegisterCols) return go(Int<kBlockRowThreads>{}, Int<32>{});
  return false;
}

// Blocks for `rows` rows, TPR threads each; grid-stride beyond a few waves.
template <int TPR>
unsigned row_blocks(const Context& ctx, std::int64_t rows) {
  const std::int64_t per_block = TPR == 32 ? kWarpRowsPerBlock : 1;
  const std::int64_t want = (rows + per_block - 1) / per_block;
  const std::int64_t cap = static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 64;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(want, cap)));
}

unsigned stream_blocks(const Context& ctx, std::int64_t rows) {
  const std::int64_t cap = static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 4;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(rows, cap)));
}

bool aligned(const void* p) { return p == nullptr || is_aligned16(p); }

}  // namespace

// float64 rows all take the streamed one-block-per-row kernels (correct for any length; the
// register-resident fast paths are float32 only).
void softmax(Context& ctx, const backend::SoftmaxProblem& p) {
  const Rows s = rows_of(p.x);
  if (s.rows == 0 || s.cols == 0) return;
  const unsigned sgrid = stream_blocks(ctx, s.rows);
  if (p.x.dtype == DType::f64) {
    launch(ctx, softmax_stream<double, kStreamThreads, false>, sgrid, kStreamThreads, 0,
           p.x.ptr<const double>(), p.out.ptr<double>(), s.rows, s.cols, p.log);
    LC_CUDA_CHECK_LAUNCH();
    return;
  }
  const float* x = p.x.ptr<const float>();
  float* y = p.out.ptr<float>();
  const bool vec = s.cols % 4 == 0 && aligned(x) && aligned(y);
  const bool done = pick_row_kernel(s.cols, vec, [&](auto tpr, auto vpt, auto v) {
    constexpr int TPR = decltype(tpr)::value;
    launch(ctx, softmax_regs<TPR, decltype(vpt)::value, decltype(v)::value>,
           row_blocks<TPR>(ctx, s.rows), block_threads<TPR>(), 0, x, y, s.rows,
           static_cast<int>(s.cols), p.log);
  });
  if (!done) {
    if (vec)
      launch(ctx, softmax_stream<float, kStreamThreads, true>, sgrid, kStreamThreads, 0, x, y,
             s.rows, s.cols, p.log);
    else
      launch(ctx, softmax_stream<float, kStreamThreads, false>, sgrid, kStreamThreads, 0, x, y,
             s.rows, s.cols, p.log);
  }
  LC_CUDA_CHECK_LAUNCH();
}

void norm(Context& ctx, const backend::NormProblem& p) {
  const Rows s = rows_of(p.x);
  if (s.rows == 0 || s.cols == 0) return;
  const unsigned sgrid = stream_blocks(ctx, s.rows);
  const bool rms = p.kind == backend::NormKind::rms;
  if (p.x.dtype == DType::f64) {
    const auto* w = static_cast<const double*>(p.weight);
    const auto* b = rms ? nullptr : static_cast<const double*>(p.bias);
    auto run_kernel = [&](auto k) {
      launch(ctx, norm_stream<double, kStreamThreads, false, decltype(k)::value>, sgrid,
             kStreamThreads, 0, p.x.ptr<const double>(), p.out.ptr<double>(), w, b, s.rows, s.cols,
             p.eps);
    };
    if (rms)
      run_kernel(Bool<true>{});
    else
      run_kernel(Bool<false>{});
    LC_CUDA_CHECK_LAUNCH();
    return;
  }
  const float* x = p.x.ptr<const float>();
  float* y = p.out.ptr<float>();
  const auto* w = static_cast<const float*>(p.weight);
  const auto* b = rms ? nullptr : static_cast<const float*>(p.bias);
  const float eps = static_cast<float>(p.eps);
  const bool vec = s.cols % 4 == 0 && aligned(x) && aligned(y) && aligned(w) && aligned(b);
  auto run = [&](auto kind) {
    constexpr bool kRms = decltype(kind)::value;
    const bool done = pick_row_kernel(s.cols, vec, [&](auto tpr, auto vpt, auto v) {
      constexpr int TPR = decltype(tpr)::value;
      launch(ctx, norm_regs<TPR, decltype(vpt)::value, decltype(v)::value, kRms>,
             row_blocks<TPR>(ctx, s.rows), block_threads<TPR>(), 0, x, y, w, b, s.rows,
             static_cast<int>(s.cols), eps);
    });
    if (done) return;
    if (vec)
      launch(ctx, norm_stream<float, kStreamThreads, true, kRms>, sgrid, kStreamThreads, 0, x, y, w,
             b, s.rows, s.cols, eps);
    else
      launch(ctx, norm_stream<float, kStreamThreads, false, kRms>, sgrid, kStreamThreads, 0, x, y,
             w, b, s.rows, s.cols, eps);
  };
  if (rms)
    run(Bool<true>{});
  else
    run(Bool<false>{});
  LC_CUDA_CHECK_LAUNCH();
}

namespace {

template <class T, int TPR, class Op>
void launch_reduce(Context& ctx, bool vec, const T* x, T* out, std::int64_t rows, std::int64_t cols,
                   int splits, std::int64_t part_len, T scale) {
  const unsigned grid = row_blocks<TPR>(ctx, rows * splits);
  if constexpr (std::is_same_v<T, float>) {
    if (vec) {
      launch(ctx, reduce_rows<T, TPR, true, Op>, grid, block_threads<TPR>(), 0, x, out, rows, cols,
             splits, part_len, scale);
      LC_CUDA_CHECK_LAUNCH();
      return;
    }
  }
  launch(ctx, reduce_rows<T, TPR, false, Op>, grid, block_threads<TPR>(), 0, x, out, rows, cols,
         splits, part_len, scale);
  LC_CUDA_CHECK_LAUNCH();
}

template <class T, class Op>
void reduce_with(Context& ctx, const T* x, T* out, std::int64_t rows, std::int64_t cols, T scale) {
  const bool vec = cols % 4 == 0 && aligned(x);
  const std::int64_t sms = ctx.props.multiProcessorCount;
  // Few long rows would leave most SMs idle: split each row into parts, then reduce the parts.
  if (rows < 2 * sms && cols >= 32768) {
    const std::int64_t splits =
        std::clamp<std::int64_t>((4 * sms + rows - 1) / rows, 2, cols / 8192);
    std::int64_t part = (cols + splits - 1) / splits;
    part = (part + 3) / 4 * 4;
    Scratch partial = ctx.scratch(static_cast<std::size_t>(rows * splits) * sizeof(T));
    launch_reduce<T, kBlockRowThreads, Op>(ctx, vec, x, partial.as<T>(), rows, cols,
                                           static_cast<int>(splits), part, T(1));
    launch_reduce<T, 32, Op>(ctx, false, partial.as<T>(), out, rows, splits, 1, splits, scale);
    return;
  }
  if (cols <= 1024)
    launch_reduce<T, 32, Op>(ctx, vec, x, out, rows, cols, 1, cols, scale);
  else
    launch_reduce<T, kBlockRowThreads, Op>(ctx, vec, x, out, rows, cols, 1, cols, scale);
}

}  // namespace

void reduce(Context& ctx, const backend::ReduceProblem& p) {
  const Rows s = rows_of(p.x);
  if (s.rows == 0) return;
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    T* out = p.out.ptr<T>();
    switch (p.op) {
      case ReduceOp::sum:
        return reduce_with<T, SumOp>(ctx, x, out, s.rows, s.cols, T(1));
      // An empty row's mean is 0 * inf = NaN, as NumPy's.
      case ReduceOp::mean:
        return reduce_with<T, SumOp>(ctx, x, out, s.rows, s.cols, T(1) / static_cast<T>(s.cols));
      case ReduceOp::max:
        return reduce_with<T, MaxOp>(ctx, x, out, s.rows, s.cols, T(1));
    }
  });
}

}  // namespace lc::cuda
