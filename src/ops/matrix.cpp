// matrix family front-ends: transpose of the last two axes, softmax / log_softmax and
// sum / mean / max over the last axis. float32 and float64. Layer/RMS norm: norm.cpp.
#include "backends/backend.h"
#include "ops/in_place.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

constexpr const char* kReduceNames[] = {"sum", "mean", "max"};
constexpr const char* kReduceIntoNames[] = {"sum_into", "mean_into", "max_into"};

void check_rank_at_least(OpContext& ctx, const TensorView& x, int rank) {
  ctx.input("x", x);
  if (x.rank() < rank)
    ctx.fail("expected x with at least ", rank, rank == 1 ? " dimension" : " dimensions",
             ", got shape ", x.shape.str());
}

// ---- transpose -----------------------------------------------------------------------------
Shape transpose_shape(OpContext& ctx, const TensorView& x) {
  check_rank_at_least(ctx, x, 2);
  Shape s = x.shape;
  std::swap(s[-1], s[-2]);
  return s;
}

void run_transpose(OpContext& ctx, const TensorView& x) {
  ctx.require(backend::OpKind::transpose);
  const TensorView X = ctx.stage(x), out = ctx.target();  // never in place: copied on overlap
  if (out.numel() > 0) ctx.backend().transpose({X, out});
  ctx.finish();
}

// ---- softmax -------------------------------------------------------------------------------
void run_softmax(OpContext& ctx, const TensorView& x, bool log) {
  ctx.require(backend::OpKind::softmax);
  const TensorView out = ctx.target();
  const TensorView* in[] = {&x};
  TensorView X[1];
  ops::stage_in_place(ctx, out, in, X);
  if (out.numel() > 0) ctx.backend().softmax({X[0], out, log});
  ctx.finish();
}

Tensor softmax_alloc(const char* name, const TensorView& x, bool log, const Policy& policy) {
  OpContext ctx(name, policy, Dtypes::f32_f64);
  check_rank_at_least(ctx, x, 1);
  Tensor out(x.shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_softmax(ctx, x, log);
  return out;
}

void softmax_to(const char* name, const TensorView& x, const TensorView& out, bool log,
                const Policy& policy) {
  OpContext ctx(name, policy, Dtypes::f32_f64);
  check_rank_at_least(ctx, x, 1);
  ctx.output("out", out, x.shape);
  run_softmax(ctx, x, log);
}

// ---- reduce --------------------------------------------------------------------------------
Shape reduce_shape(OpContext& ctx, ReduceOp op, const TensorView& x) {
  check_rank_at_least(ctx, x, 1);
  if (x.shape[-1] == 0 && op != ReduceOp::sum)
    ctx.fail("expected a non-empty last axis (the ", kReduceNames[static_cast<int>(op)],
             " of nothing is undefined), got shape ", x.shape.str());
  Shape s;
  for (int i = 0; i + 1 < x.rank(); ++i) s.push_back(x.shape[i]);
  return s;
}

void run_reduce(OpContext& ctx, ReduceOp op, const TensorView& x) {
  ctx.require(backend::OpKind::reduce);
  const TensorView X = ctx.stage(x), out = ctx.target();
  if (out.numel() > 0) ctx.backend().reduce({op, X, out});  // sum of empty rows: zeros
  ctx.finish();
}

}  // namespace

Tensor transpose(const TensorView& x, const Policy& policy) {
  OpContext ctx("transpose", policy, Dtypes::f32_f64);
  const Shape shape = transpose_shape(ctx, x);  // checks x, which sets the dtype
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_transpose(ctx, x);
  return out;
}

void transpose_into(const TensorView& x, const TensorView& out, const Policy& policy) {
  OpContext ctx("transpose_into", policy, Dtypes::f32_f64);
  ctx.output("out", out, transpose_shape(ctx, x));
  run_transpose(ctx, x);
}

Tensor softmax(const TensorView& x, const Policy& policy) {
  return softmax_alloc("softmax", x, false, policy);
}
void softmax_into(const TensorView& x, const TensorView& out, const Policy& policy) {
  softmax_to("softmax_into", x, out, false, policy);
}
Tensor log_softmax(const TensorView& x, const Policy& policy) {
  return softmax_alloc("log_softmax", x, true, policy);
}
void log_softmax_into(const TensorView& x, const TensorView& out, const Policy& policy) {
  softmax_to("log_softmax_into", x, out, true, policy);
}

Tensor reduce(ReduceOp op, const TensorView& x, const Policy& policy) {
  OpContext ctx(kReduceNames[static_cast<int>(op)], policy, Dtypes::f32_f64);
  const Shape shape = reduce_shape(ctx, op, x);  // checks x, which sets the dtype
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_reduce(ctx, op, x);
  return out;
}

void reduce_into(ReduceOp op, const TensorView& x, const TensorView& out, const Policy& policy) {
  OpContext ctx(kReduceIntoNames[static_cast<int>(op)], policy, Dtypes::f32_f64);
  ctx.output("out", out, reduce_shape(ctx, op, x));
  run_reduce(ctx, op, x);
}

}  // namespace lc
