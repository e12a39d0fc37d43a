// vector family front-ends: unary activations, binary arithmetic with NumPy broadcasting,
// axpy and scale. float32 and float64. Elementwise ops may write in place: an input that is
// exactly the output is used as is; one that only partly overlaps it is copied first.
#include <algorithm>

#include "backends/backend.h"
#include "ops/in_place.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;
using ops::stage_in_place;

constexpr const char* kUnaryNames[] = {"relu", "gelu", "silu", "sigmoid", "tanh",
                                       "exp",  "neg",  "abs",  "sqrt"};
constexpr const char* kUnaryIntoNames[] = {"relu_into",    "gelu_into", "silu_into",
                                           "sigmoid_into", "tanh_into", "exp_into",
                                           "neg_into",     "abs_into",  "sqrt_into"};
constexpr const char* kBinaryNames[] = {"add", "sub", "mul", "div"};
constexpr const char* kBinaryIntoNames[] = {"add_into", "sub_into", "mul_into", "div_into"};

// NumPy broadcasting of two shapes.
Shape broadcast_shape(OpContext& ctx, const TensorView& a, const TensorView& b) {
  const int r = std::max(a.rank(), b.rank());
  Shape s;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const std::int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("expected a and b with broadcastable shapes, got a ", a.shape.str(), " and b ",
               b.shape.str());
    s.push_back(da == 1 ? db : da);
  }
  return s;
}

// A staged (contiguous) operand seen with the output's shape: stride 0 on broadcast axes.
TensorView broadcast_view(const TensorView& v, const Shape& shape) {
  const Shape cs = contiguous_strides(v.shape);
  Shape strides;
  const int off = shape.rank() - v.rank();
  for (int i = 0; i < shape.rank(); ++i) {
    const int j = i - off;
    strides.push_back(j < 0 || (v.shape[j] == 1 && shape[i] != 1) ? 0 : cs[j]);
  }
  return TensorView(v.data, v.dtype, shape, strides, v.device);
}

void run_unary(OpContext& ctx, UnaryOp op, const TensorView& x) {
  ctx.require(backend::OpKind::unary);
  TensorView out = ctx.target();
  const TensorView* in[] = {&x};
  TensorView X[1];
  stage_in_place(ctx, out, in, X);
  if (out.numel() > 0) ctx.backend().unary({op, X[0], out});
  ctx.finish();
}

void run_binary(OpContext& ctx, BinaryOp op, const TensorView& a, const TensorView& b) {
  ctx.require(backend::OpKind::binary);
  TensorView out = ctx.target();
  const TensorView* in[] = {&a, &b};
  TensorView S[2];
  stage_in_place(ctx, out, in, S);
  if (out.numel() > 0)
    ctx.backend().binary(
        {op, broadcast_view(S[0], out.shape), broadcast_view(S[1], out.shape), out});
  ctx.finish();
}

Shape axpy_shape(OpContext& ctx, const TensorView& x, const TensorView& y) {
  ctx.input("x", x);
  ctx.input("y", y);
  if (x.shape != y.shape)
    ctx.fail("expected x and y of the same shape, got x ", x.shape.str(), " and y ", y.shape.str());
  return x.shape;
}

void run_axpy(OpContext& ctx, double alpha, const TensorView& x, const TensorView& y) {
  ctx.require(backend::OpKind::axpy);
  TensorView out = ctx.target();
  const TensorView* in[] = {&x, &y};
  TensorView S[2];
  stage_in_place(ctx, out, in, S);
  if (out.numel() > 0) ctx.backend().axpy({alpha, S[0], S[1], out});
  ctx.finish();
}

// scale is mul by alpha held in a one-element tensor broadcast over x: every backend that
// multiplies runs it, and alpha is rounded to the element type as axpy rounds it.
void run_scale(OpContext& ctx, const TensorView& x, double alpha) {
  const TensorView s = ctx.scratch(Shape{});
  dispatch_float(ctx.dtype(), [&](auto tag) {
    const auto a = static_cast<decltype(tag)>(alpha);
    ctx.backend().copy_from_host(s.data, &a, sizeof(a));
  });
  run_binary(ctx, BinaryOp::mul, x, s);
}

}  // namespace

const char* unary_name(UnaryOp op) { return kUnaryNames[static_cast<int>(op)]; }
const char* binary_name(BinaryOp op) { return kBinaryNames[static_cast<int>(op)]; }

Tensor unary(UnaryOp op, const TensorView& x, const Policy& policy) {
  OpContext ctx(unary_name(op), policy, Dtypes::f32_f64);
  ctx.input("x", x);
  Tensor out(x.shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_unary(ctx, op, x);
  return out;
}

void unary_into(UnaryOp op, const TensorView& x, const TensorView& out, const Policy& policy) {
  OpContext ctx(kUnaryIntoNames[static_cast<int>(op)], policy, Dtypes::f32_f64);
  ctx.input("x", x);
  ctx.output("out", out, x.shape);
  run_unary(ctx, op, x);
}

Tensor binary(BinaryOp op, const TensorView& a, const TensorView& b, const Policy& policy) {
  OpContext ctx(binary_name(op), policy, Dtypes::f32_f64);
  ctx.input("a", a);
  ctx.input("b", b);
  const Shape shape = broadcast_shape(ctx, a, b);  // checks inputs first
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_binary(ctx, op, a, b);
  return out;
}

void binary_into(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                 const Policy& policy) {
  OpContext ctx(kBinaryIntoNames[static_cast<int>(op)], policy, Dtypes::f32_f64);
  ctx.input("a", a);
  ctx.input("b", b);
  ctx.output("out", out, broadcast_shape(ctx, a, b));
  run_binary(ctx, op, a, b);
}

Tensor axpy(double alpha, const TensorView& x, const TensorView& y, const Policy& policy) {
  OpContext ctx("axpy", policy, Dtypes::f32_f64);
  const Shape shape = axpy_shape(ctx, x, y);  // checks the inputs, which set the dtype
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_axpy(ctx, alpha, x, y);
  return out;
}

void axpy_into(double alpha, const TensorView& x, const TensorView& y, const TensorView& out,
               const Policy& policy) {
  OpContext ctx("axpy_into", policy, Dtypes::f32_f64);
  ctx.output("out", out, axpy_shape(ctx, x, y));
  run_axpy(ctx, alpha, x, y);
}

Tensor scale(const TensorView& x, double alpha, const Policy& policy) {
  OpContext ctx("scale", policy, Dtypes::f32_f64);
  ctx.input("x", x);
  Tensor out(x.shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_scale(ctx, x, alpha);
  return out;
}

void scale_into(const TensorView& x, double alpha, const TensorView& out, const Policy& policy) {
  OpContext ctx("scale_into", policy, Dtypes::f32_f64);
  ctx.input("x", x);
  ctx.output("out", out, x.shape);
  run_scale(ctx, x, alpha);
}

}  // namespace lc
