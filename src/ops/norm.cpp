// layer_norm and rms_norm front-ends: normalisation over the last axis with optional
// per-column weight (and bias for layer_norm). float32 and float64; may run in place.
#include "backends/backend.h"
#include "ops/in_place.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

void check_norm(OpContext& ctx, const TensorView& x, const OptView& weight, const OptView& bias,
                double eps) {
  ctx.input("x", x);
  if (x.rank() < 1) ctx.fail("expected x with at least 1 dimension, got shape ", x.shape.str());
  const std::int64_t n = x.shape[-1];
  const char* names[] = {"weight", "bias"};
  const OptView* params[] = {&weight, &bias};
  for (int i = 0; i < 2; ++i) {
    if (!ctx.input(names[i], *params[i])) continue;
    const TensorView& p = **params[i];
    if (p.rank() != 1 || p.shape[0] != n)
      ctx.fail("expected ", names[i], " of shape (", n, ",), got ", p.shape.str());
  }
  if (!(eps >= 0)) ctx.fail("expected eps >= 0, got ", eps);
}

void run_norm(OpContext& ctx, backend::NormKind kind, const TensorView& x, const OptView& weight,
              const OptView& bias, double eps) {
  ctx.require(backend::OpKind::norm);
  const TensorView out = ctx.target();
  backend::NormProblem p{kind, {}, out, ctx.stage_ptr(weight), ctx.stage_ptr(bias), eps};
  const TensorView* in[] = {&x};
  TensorView X[1];
  ops::stage_in_place(ctx, out, in, X);  // last: weight/bias overlapping out are copied
  p.x = X[0];
  if (out.numel() > 0) ctx.backend().norm(p);
  ctx.finish();
}

}  // namespace

Tensor layer_norm(const TensorView& x, const OptView& weight, const OptView& bias, double eps,
                  const Policy& policy) {
  OpContext ctx("layer_norm", policy, Dtypes::f32_f64);
  check_norm(ctx, x, weight, bias, eps);
  Tensor out(x.shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_norm(ctx, backend::NormKind::layer, x, weight, bias, eps);
  return out;
}

void layer_norm_into(const TensorView& x, const OptView& weight, const OptView& bias,
                     const TensorView& out, double eps, const Policy& policy) {
  OpContext ctx("layer_norm_into", policy, Dtypes::f32_f64);
  check_norm(ctx, x, weight, bias, eps);
  ctx.output("out", out, x.shape);
  run_norm(ctx, backend::NormKind::layer, x, weight, bias, eps);
}

Tensor rms_norm(const TensorView& x, const OptView& weight, double eps, const Policy& policy) {
  OpContext ctx("rms_norm", policy, Dtypes::f32_f64);
  check_norm(ctx, x, weight, std::nullopt, eps);
  Tensor out(x.shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_norm(ctx, backend::NormKind::rms, x, weight, std::nullopt, eps);
  return out;
}

void rms_norm_into(const TensorView& x, const OptView& weight, const TensorView& out, double eps,
                   const Policy& policy) {
  OpContext ctx("rms_norm_into", policy, Dtypes::f32_f64);
  check_norm(ctx, x, weight, std::nullopt, eps);
  ctx.output("out", out, x.shape);
  run_norm(ctx, backend::NormKind::rms, x, weight, std::nullopt, eps);
}

}  // namespace lc
