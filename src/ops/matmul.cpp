// matmul family front-ends: matmul2d, matmul (batched, NumPy broadcasting), gemm, linear.
// Each checks its arguments, shapes the output and ends in backend GEMM calls.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {

Activation parse_activation(std::string_view name, const char* op) {
  if (name == "none") return Activation::none;
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  fail(op, "expected activation 'none', 'relu' or 'gelu', got '", name, "'");
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    default:
      return "none";
  }
}

namespace {

using ops::Dtypes;
using ops::OpContext;

// A 2-D operand as the backend reads it: contiguous data, and whether that data holds the
// transpose. An F-contiguous input (x.T of a C-contiguous array) is read as the transpose of
// its memory instead of being copied.
struct Operand {
  TensorView view;
  bool trans;
};

Operand orient(OpContext& ctx, const TensorView& v, bool trans) {
  if (v.rank() == 2 && !v.is_contiguous() && v.strides[0] == 1 && v.strides[1] == v.shape[0]) {
    TensorView t(v.data, v.dtype, Shape{v.shape[1], v.shape[0]}, v.device);
    t.writable = v.writable;
    return {ctx.stage(t), !trans};
  }
  return {ctx.stage(v), trans};
}

// One backend call: c = alpha * op(a) @ op(b) + beta * c (+ bias, act) over `batch` items.
struct GemmCall {
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  bool trans_a = false, trans_b = false;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
  const void* bias = nullptr;
  Activation act = Activation::none;
};

void call_gemm(OpContext& ctx, const GemmCall& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  backend::GemmProblem p;
  p.a = g.a;
  p.b = g.b;
  p.c = g.c;
  p.dtype = ctx.dtype();
  p.batch = g.batch;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.stride_a = g.stride_a;
  p.stride_b = g.stride_b;
  p.stride_c = g.stride_c;
  p.trans_a = g.trans_a;
  p.trans_b = g.trans_b;
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.bias = g.bias;
  p.act = g.act;
  p.precision = ctx.policy().precision;
  ctx.backend().gemm(p);
}

// ---- matmul2d / gemm (2-D) -----------------------------------------------------------------

struct Gemm2d {
  Shape out;
  std::int64_t m, n, k;
};

Gemm2d gemm2d_shape(OpContext& ctx, const TensorView& a, const TensorView& b, bool trans_a,
                    bool trans_b) {
  ctx.input("a", a, 2);
  ctx.input("b", b, 2);
  const std::int64_t m = a.shape[trans_a ? 1 : 0], ka = a.shape[trans_a ? 0 : 1];
  const std::int64_t kb = b.shape[trans_b ? 1 : 0], n = b.shape[trans_b ? 0 : 1];
  if (ka != kb) {
    if (!trans_a && !trans_b)
      ctx.fail("expected a (M, K) and b (K, N) with matching K, got a ", a.shape.str(), " and b ",
               b.shape.str());
    ctx.fail("expected op(a) (M, K) and op(b) (K, N) with matching K, got a ", a.shape.str(),
             trans_a ? " transposed" : "", " and b ", b.shape.str(), trans_b ? " transposed" : "");
  }
  return {Shape{m, n}, m, n, ka};
}

// out (M, N) = alpha * op(a) @ op(b) + beta * out.
void run_gemm2d(OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out,
                const Gemm2d& s, bool trans_a, bool trans_b, double alpha, double beta) {
  ctx.require(backend::OpKind::gemm);
  const Operand A = orient(ctx, a, trans_a), B = orient(ctx, b, trans_b);
  const TensorView C = ctx.target();
  if (beta != 0.0 && C.data != out.data) copy_into(out, C);  // staged output: C is read
  GemmCall g;
  g.a = A.view.data;
  g.b = B.view.data;
  g.c = C.data;
  g.trans_a = A.trans;
  g.trans_b = B.trans;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.alpha = alpha;
  g.beta = beta;
  call_gemm(ctx, g);
  ctx.finish();
}

// ---- matmul (batched, broadcast) -------------------------------------------------------------

struct MatmulPlan {
  Shape out;
  std::int64_t m, n, k;
  // Broadcast batch axes: extent, and element strides into contiguous a, b, out (0 = broadcast).
  std::vector<std::array<std::int64_t, 4>> axes;
};

MatmulPlan matmul_plan(OpContext& ctx, const TensorView& a, const TensorView& b) {
  ctx.input("a", a);
  ctx.input("b", b);
  if (a.rank() < 1) ctx.fail("expected a with at least 1 dimension, got shape ", a.shape.str());
  if (b.rank() < 1) ctx.fail("expected b with at least 1 dimension, got shape ", b.shape.str());
  const bool a_vec = a.rank() == 1, b_vec = b.rank() == 1;
  MatmulPlan pl;
  pl.m = a_vec ? 1 : a.shape[-2];
  pl.k = a.shape[-1];
  pl.n = b_vec ? 1 : b.shape[-1];
  const std::int64_t kb = b_vec ? b.shape[0] : b.shape[-2];
  if (pl.k != kb)
    ctx.fail("expected a (..., M, K) and b (..., K, N) with matching K, got a ", a.shape.str(),
             " and b ", b.shape.str());
  const int ra = std::max(a.rank() - 2, 0), rb = std::max(b.rank() - 2, 0);
  const int r = std::max(ra, rb);
  const Shape sa = contiguous_strides(a.shape), sb = contiguous_strides(b.shape);
  for (int d = 0; d < r; ++d) {
    const int da = d - (r - ra), db = d - (r - rb);
    const std::int64_t ea = da >= 0 ? a.shape[da] : 1, eb = db >= 0 ? b.shape[db] : 1;
    if (ea != eb && ea != 1 && eb != 1)
      ctx.fail("expected batch dimensions that broadcast, got a ", a.shape.str(), " and b ",
               b.shape.str());
    const std::int64_t e = ea == 1 ? eb : ea;
    pl.out.push_back(e);
    pl.axes.push_back({e, ea == 1 ? 0 : sa[da], eb == 1 ? 0 : sb[db], 0});
  }
  if (!a_vec) pl.out.push_back(pl.m);
  if (!b_vec) pl.out.push_back(pl.n);
  std::int64_t sc = pl.m * pl.n;
  for (int d = r - 1; d >= 0; --d) {
    pl.axes[d][3] = sc;
    sc *= pl.axes[d][0];
  }
  // Drop extent-1 axes, then merge neighbours whose strides chain for all three operands.
  std::vector<std::array<std::int64_t, 4>> merged;
  for (const auto& ax : pl.axes) {
    if (ax[0] == 1) continue;
    if (!merged.empty()) {
      auto& prev = merged.back();
      bool chain = true;
      for (int o = 1; o < 4; ++o) chain = chain && prev[o] == ax[o] * ax[0];
      if (chain) {
        prev[0] *= ax[0];
        for (int o = 1; o < 4; ++o) prev[o] = ax[o];
        continue;
      }
    }
    merged.push_back(ax);
  }
  pl.axes = merged;
  return pl;
}

void run_matmul(OpContext& ctx, const TensorView& a, const TensorView& b, const MatmulPlan& pl) {
  ctx.require(backend::OpKind::gemm);
  const TensorView A = ctx.stage(a), B = ctx.stage(b), C = ctx.target();
  const auto es = static_cast<std::int64_t>(dtype_size(ctx.dtype()));
  GemmCall g;
  g.m = pl.m;
  g.n = pl.n;
  g.k = pl.k;
  const int outer = static_cast<int>(pl.axes.size()) - 1;  // axes before the innermost
  if (outer >= 0) {
    const auto& in = pl.axes.back();
    g.batch = in[0];
    g.stride_a = in[1];
    g.stride_b = in[2];
    g.stride_c = in[3];
  }
  // b shared by every item and a's items back to back: one (batch*M, K) @ (K, N) product.
  if (outer <= 0 && g.batch > 1 && g.stride_b == 0 && g.stride_a == g.m * g.k) {
    g.m *= g.batch;
    g.batch = 1;
  }
  // Axes no single stride expresses: one call per index of the outer axes.
  std::int64_t calls = 1;
  for (int d = 0; d < outer; ++d) calls *= pl.axes[d][0];
  for (std::int64_t idx = 0; idx < calls; ++idx) {
    std::int64_t rem = idx, off[3] = {0, 0, 0};
    for (int d = outer - 1; d >= 0; --d) {
      const std::int64_t i = rem % pl.axes[d][0];
      rem /= pl.axes[d][0];
      for (int o = 0; o < 3; ++o) off[o] += i * pl.axes[d][o + 1];
    }
    g.a = static_cast<const char*>(A.data) + off[0] * es;
    g.b = static_cast<const char*>(B.data) + off[1] * es;
    g.c = static_cast<char*>(C.data) + off[2] * es;
    call_gemm(ctx, g);
  }
  ctx.finish();
}

// ---- linear -----------------------------------------------------------------------------------

struct LinearPlan {
  Shape out;
  std::int64_t m, n, k;
};

LinearPlan linear_plan(OpContext& ctx, const TensorView& x, const TensorView& weight,
                       const OptView& bias) {
  ctx.input("x", x);
  ctx.input("weight", weight, 2);
  const bool has_bias = ctx.input("bias", bias, 1);
  if (x.rank() < 1)
    ctx.fail("expected x (..., in) with at least 1 dimension, got shape ", x.shape.str());
  LinearPlan pl;
  pl.k = x.shape[-1];
  pl.n = weight.shape[0];
  if (weight.shape[1] != pl.k)
    ctx.fail("expected weight of shape (out, ", pl.k, ") for x of shape ", x.shape.str(), ", got ",
             weight.shape.str());
  if (has_bias && bias->shape[0] != pl.n)
    ctx.fail("expected bias of shape ", Shape{pl.n}.str(), ", got ", bias->shape.str());
  pl.m = 1;
  for (int d = 0; d + 1 < x.rank(); ++d) {
    pl.out.push_back(x.shape[d]);
    pl.m *= x.shape[d];
  }
  pl.out.push_back(pl.n);
  return pl;
}

void run_linear(OpContext& ctx, const TensorView& x, const TensorView& weight, const OptView& bias,
                const LinearPlan& pl, Activation act) {
  ctx.require(backend::OpKind::gemm);
  const TensorView X = ctx.stage(x);
  const Operand W = orient(ctx, weight, true);
  GemmCall g;
  g.bias = ctx.stage_ptr(bias);
  const TensorView C = ctx.target();
  g.a = X.data;
  g.b = W.view.data;
  g.c = C.data;
  g.trans_b = W.trans;
  g.m = pl.m;
  g.n = pl.n;
  g.k = pl.k;
  g.act = act;
  call_gemm(ctx, g);
  ctx.finish();
}

}  // namespace

void matmul2d_into(const TensorView& a, const TensorView& b, const TensorView& out,
                   const Policy& policy) {
  OpContext ctx("matmul2d_into", policy, Dtypes::f32_f64);
  const Gemm2d s = gemm2d_shape(ctx, a, b, false, false);
  ctx.output("out", out, s.out);
  run_gemm2d(ctx, a, b, out, s, false, false, 1.0, 0.0);
}

Tensor matmul2d(const TensorView& a, const TensorView& b, const Policy& policy) {
  OpContext ctx("matmul2d", policy, Dtypes::f32_f64);
  const Gemm2d s = gemm2d_shape(ctx, a, b, false, false);
  Tensor out(s.out, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_gemm2d(ctx, a, b, out, s, false, false, 1.0, 0.0);
  return out;
}

void matmul_into(const TensorView& a, const TensorView& b, const TensorView& out,
                 const Policy& policy) {
  OpContext ctx("matmul_into", policy, Dtypes::f32_f64);
  const MatmulPlan pl = matmul_plan(ctx, a, b);
  ctx.output("out", out, pl.out);
  run_matmul(ctx, a, b, pl);
}

Tensor matmul(const TensorView& a, const TensorView& b, const Policy& policy) {
  OpContext ctx("matmul", policy, Dtypes::f32_f64);
  const MatmulPlan pl = matmul_plan(ctx, a, b);
  Tensor out(pl.out, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_matmul(ctx, a, b, pl);
  return out;
}

void gemm_into(const TensorView& a, const TensorView& b, const TensorView& out, bool trans_a,
               bool trans_b, double alpha, double beta, const Policy& policy) {
  OpContext ctx("gemm_into", policy, Dtypes::f32_f64);
  const Gemm2d s = gemm2d_shape(ctx, a, b, trans_a, trans_b);
  ctx.output("out", out, s.out);
  run_gemm2d(ctx, a, b, out, s, trans_a, trans_b, alpha, beta);
}

Tensor gemm(const TensorView& a, const TensorView& b, bool trans_a, bool trans_b, double alpha,
            const Policy& policy) {
  OpContext ctx("gemm", policy, Dtypes::f32_f64);
  const Gemm2d s = gemm2d_shape(ctx, a, b, trans_a, trans_b);
  Tensor out(s.out, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_gemm2d(ctx, a, b, out, s, trans_a, trans_b, alpha, 0.0);
  return out;
}

void linear_into(const TensorView& x, const TensorView& weight, const OptView& bias,
                 const TensorView& out, Activation act, const Policy& policy) {
  OpContext ctx("linear_into", policy, Dtypes::f32_f64);
  const LinearPlan pl = linear_plan(ctx, x, weight, bias);
  ctx.output("out", out, pl.out);
  run_linear(ctx, x, weight, bias, pl, act);
}

Tensor linear(const TensorView& x, const TensorView& weight, const OptView& bias, Activation act,
              const Policy& policy) {
  OpContext ctx("linear", policy, Dtypes::f32_f64);
  const LinearPlan pl = linear_plan(ctx, x, weight, bias);
  Tensor out(pl.out, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_linear(ctx, x, weight, bias, pl, act);
  return out;
}

}  // namespace lc
