// Elementwise launchers: unary, binary (with broadcasting), axpy, and the GEMM helpers
// (float32 -> 16-bit conversion, bias + activation epilogue, beta scaling).
#include <algorithm>
#include <cstdint>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/convert.cuh"
#include "backends/cuda/kernels/elementwise.cuh"

namespace lc::cuda {
namespace {

using namespace kernels;
constexpr int kThreads = 256;

template <class T, class F, int kIn>
void launch_map(Context& ctx, F f, T* out, const T* a, const T* b, std::int64_t n) {
  if (n <= 0) return;
  constexpr int V = kVec16<T>;
  const bool vec = is_aligned16(out) && is_aligned16(a) && (kIn == 1 || is_aligned16(b));
  if (vec && n >= V) {
    launch(ctx, map_contiguous<T, F, kIn, V>, grid_for(n / V, kThreads, ctx), kThreads, 0, f, out,
           a, b, n);
  } else {
    launch(ctx, map_contiguous<T, F, kIn, 1>, grid_for(n, kThreads, ctx), kThreads, 0, f, out, a, b,
           n);
  }
  LC_CUDA_CHECK_LAUNCH();
}

template <class F>
decltype(auto) with_unary(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::relu:
      return f(ReluF{});
    case UnaryOp::gelu:
      return f(GeluF{});
    case UnaryOp::silu:
      return f(SiluF{});
    case UnaryOp::sigmoid:
      return f(SigmoidF{});
    case UnaryOp::tanh:
      return f(TanhF{});
    case UnaryOp::exp:
      return f(ExpF{});
    case UnaryOp::neg:
      return f(NegF{});
    case UnaryOp::abs:
      return f(AbsF{});
    case UnaryOp::sqrt:
      return f(SqrtF{});
  }
  fail<NotSupportedError>("unary", "expected a known unary op, got ", static_cast<int>(op));
}

template <class F>
decltype(auto) with_binary(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add:
      return f(AddF{});
    case BinaryOp::sub:
      return f(SubF{});
    case BinaryOp::mul:
      return f(MulF{});
    case BinaryOp::div:
      return f(DivF{});
  }
  fail<NotSupportedError>("binary", "expected a known binary op, got ", static_cast<int>(op));
}

// Drops extent-1 dimensions and merges neighbours that are contiguous for both operands, so
// the common broadcasts ((M,N) + (N), (M,N) * (M,1)) become rank 2 with strides 1 and 0.
StridedShape collapse(const TensorView& out, const TensorView& a, const TensorView& b) {
  std::int64_t shape[Shape::kMaxRank], sa[Shape::kMaxRank], sb[Shape::kMaxRank];
  int r = 0;
  for (int d = 0; d < out.rank(); ++d) {
    if (out.shape[d] == 1) continue;
    if (r > 0 && sa[r - 1] == a.strides[d] * out.shape[d] &&
        sb[r - 1] == b.strides[d] * out.shape[d]) {
      shape[r - 1] *= out.shape[d];
      sa[r - 1] = a.strides[d];
      sb[r - 1] = b.strides[d];
      continue;
    }
    shape[r] = out.shape[d];
    sa[r] = a.strides[d];
    sb[r] = b.strides[d];
    ++r;
  }
  StridedShape s;
  if (r == 0) {  // a single element
    shape[0] = 1;
    sa[0] = sb[0] = 0;
    r = 1;
  }
  s.inner = shape[r - 1];
  s.a_inner = sa[r - 1];
  s.b_inner = sb[r - 1];
  s.rank = r - 1;
  for (int d = 0; d < s.rank; ++d) {
    s.outer_shape[d] = shape[d];
    s.a_stride[d] = sa[d];
    s.b_stride[d] = sb[d];
    s.outer *= shape[d];
  }
  return s;
}

// Block and grid for a (rows, cols) walk: x-threads along cols, y-threads along rows.
void rows_config(const Context& ctx, std::int64_t rows, std::int64_t cols, dim3& grid,
                 dim3& block) {
  int bx = 32;
  while (bx < kThreads && bx < cols) bx *= 2;
  block = dim3(bx, kThreads / bx);
  const std::int64_t gx = std::min<std::int64_t>((cols + bx - 1) / bx, 1024);
  const std::int64_t cap = std::max<std::int64_t>(1, ctx.props.multiProcessorCount * 8 / gx);
  const std::int64_t gy = std::min<std::int64_t>({(rows + block.y - 1) / block.y, cap, 65535});
  grid = dim3(static_cast<unsigned>(gx), static_cast<unsigned>(std::max<std::int64_t>(gy, 1)));
}

}  // namespace

void unary(Context& ctx, const backend::UnaryProblem& p) {
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_unary(p.op, [&](auto f) {
      launch_map<T, decltype(f), 1>(ctx, f, p.out.ptr<T>(), p.x.ptr<T>(), nullptr, p.out.numel());
    });
  });
}

void binary(Context& ctx, const backend::BinaryProblem& p) {
  const std::int64_t n = p.out.numel();
  if (n == 0) return;
  dispatch_float(p.out.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_binary(p.op, [&](auto f) {
      using F = decltype(f);
      if (p.a.is_contiguous() && p.b.is_contiguous()) {
        launch_map<T, F, 2>(ctx, f, p.out.ptr<T>(), p.a.ptr<T>(), p.b.ptr<T>(), n);
        return;
      }
      const StridedShape s = collapse(p.out, p.a, p.b);
      dim3 grid, block;
      rows_config(ctx, s.outer, s.inner, grid, block);
      launch(ctx, map_strided<T, F>, grid, block, 0, f, p.out.ptr<T>(), p.a.ptr<T>(), p.b.ptr<T>(),
             s);
      LC_CUDA_CHECK_LAUNCH();
    });
  });
}

void axpy(Context& ctx, const backend::AxpyProblem& p) {
  dispatch_float(p.out.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_map<T, AxpyF<T>, 2>(ctx, AxpyF<T>{static_cast<T>(p.alpha)}, p.out.ptr<T>(), p.x.ptr<T>(),
                               p.y.ptr<T>(), p.out.numel());
  });
}

// ---- GEMM helpers --------------------------------------------------------------------------

void convert_f32_to_half(Context& ctx, const float* src, void* dst, std::int64_t n, HalfKind kind) {
  if (n <= 0) return;
  const bool vec = is_aligned16(src) && is_aligned16(dst);
  const unsigned grid = grid_for(vec ? std::max<std::int64_t>(n / 8, 1) : n, kThreads, ctx);
  auto run_kernel = [&](auto half_tag) {
    using H = decltype(half_tag);
    if (vec)
      launch(ctx, convert_f32<H, true>, grid, kThreads, 0, src, static_cast<H*>(dst), n);
    else
      launch(ctx, convert_f32<H, false>, grid, kThreads, 0, src, static_cast<H*>(dst), n);
  };
  if (kind == HalfKind::bf16)
    run_kernel(__nv_bfloat16{});
  else
    run_kernel(__half{});
  LC_CUDA_CHECK_LAUNCH();
}

void bias_activation(Context& ctx, DType dtype, void* c, const void* bias, std::int64_t rows,
                     std::int64_t cols, Activation act) {
  if (rows <= 0 || cols <= 0 || (!bias && act == Activation::none)) return;
  dim3 grid, block;
  rows_config(ctx, rows, cols, grid, block);
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    auto run_kernel = [&](auto f) {
      launch(ctx, bias_act_rows<T, decltype(f)>, grid, block, 0, f, static_cast<T*>(c),
             static_cast<const T*>(bias), rows, cols);
    };
    if (act == Activation::relu)
      run_kernel(ReluF{});
    else if (act == Activation::gelu)
      run_kernel(GeluF{});
    else
      run_kernel(IdentityF{});
  });
  LC_CUDA_CHECK_LAUNCH();
}

void scale_in_place(Context& ctx, DType dtype, void* c, std::int64_t n, double beta) {
  if (beta == 1.0) return;
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_map<T, ScaleF<T>, 1>(ctx, ScaleF<T>{static_cast<T>(beta)}, static_cast<T*>(c),
                                static_cast<const T*>(c), nullptr, n);
  });
}

}  // namespace lc::cuda
