// matmul family front-ends: matmul2d, matmul (batched), gemm, linear.
#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

Shape matmul2d_shape(OpContext& ctx, const TensorView& a, const TensorView& b) {
  ctx.input("a", a, 2);
  ctx.input("b", b, 2);
  if (a.shape[1] != b.shape[0])
    ctx.fail("expected a (M, K) and b (K, N) with matching K, got a ", a.shape.str(), " and b ",
             b.shape.str());
  return Shape{a.shape[0], b.shape[1]};
}

void run_matmul2d(OpContext& ctx, const TensorView& a, const TensorView& b) {
  ctx.require(backend::OpKind::gemm);
  backend::GemmProblem p;
  const TensorView A = ctx.stage(a), B = ctx.stage(b), C = ctx.target();
  p.a = A.data;
  p.b = B.data;
  p.c = C.data;
  p.dtype = ctx.dtype();
  p.m = a.shape[0];
  p.k = a.shape[1];
  p.n = b.shape[1];
  p.precision = ctx.policy().precision;
  ctx.backend().gemm(p);
  ctx.finish();
}

}  // namespace

void matmul2d_into(const TensorView& a, const TensorView& b, const TensorView& out,
                   const Policy& policy) {
  OpContext ctx("matmul2d_into", policy, Dtypes::f32_f64);
  ctx.output("out", out, matmul2d_shape(ctx, a, b));
  run_matmul2d(ctx, a, b);
}

Tensor matmul2d(const TensorView& a, const TensorView& b, const Policy& policy) {
  OpContext ctx("matmul2d", policy, Dtypes::f32_f64);
  Tensor out(matmul2d_shape(ctx, a, b), ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_matmul2d(ctx, a, b);
  return out;
}

}  // namespace lc
