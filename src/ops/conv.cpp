// conv2d_nchw front-ends: x (N,C,H,W) * weight (O,C/groups,KH,KW) + bias (O) -> (N,O,OH,OW),
// with stride, zero padding, dilation, groups and a fused ReLU. Shapes as PyTorch's conv2d.
#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

void check_conv_params(OpContext& ctx, const Conv2dParams& p) {
  if (p.stride_h <= 0 || p.stride_w <= 0)
    ctx.fail("expected stride_h, stride_w >= 1, got (", p.stride_h, ", ", p.stride_w, ")");
  if (p.pad_h < 0 || p.pad_w < 0)
    ctx.fail("expected pad_h, pad_w >= 0, got (", p.pad_h, ", ", p.pad_w, ")");
  if (p.dilation_h <= 0 || p.dilation_w <= 0)
    ctx.fail("expected dilation_h, dilation_w >= 1, got (", p.dilation_h, ", ", p.dilation_w, ")");
  if (p.groups <= 0) ctx.fail("expected groups >= 1, got ", p.groups);
}

// Checks every argument and returns the output shape (N,O,OH,OW).
Shape conv2d_shape(OpContext& ctx, const TensorView& x, const TensorView& w, const OptView& bias,
                   const Conv2dParams& p) {
  ctx.input("x", x, 4);
  ctx.input("weight", w, 4);
  const bool has_bias = ctx.input("bias", bias, 1);
  check_conv_params(ctx, p);
  const std::int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const std::int64_t o = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  if (c % p.groups != 0)
    ctx.fail("expected x's channels divisible by groups = ", p.groups, ", got x ", x.shape.str());
  if (o % p.groups != 0)
    ctx.fail("expected weight's output channels divisible by groups = ", p.groups, ", got weight ",
             w.shape.str());
  if (w.shape[1] != c / p.groups)
    ctx.fail("expected weight of shape (O, ", c / p.groups, ", KH, KW) for x ", x.shape.str(),
             " and groups = ", p.groups, ", got ", w.shape.str());
  if (kh == 0 || kw == 0) ctx.fail("expected a kernel of at least 1x1, got weight ", w.shape.str());
  if (has_bias && bias->shape[0] != o)
    ctx.fail("expected bias of shape (", o, ",), got ", bias->shape.str());
  const std::int64_t ekh = (kh - 1) * p.dilation_h + 1, ekw = (kw - 1) * p.dilation_w + 1;
  const std::int64_t hp = h + 2 * std::int64_t{p.pad_h}, wp = wd + 2 * std::int64_t{p.pad_w};
  if (ekh > hp || ekw > wp)
    ctx.fail("expected the dilated kernel (", ekh, ", ", ekw, ") to fit the padded input (", hp,
             ", ", wp, "), got x ", x.shape.str(), " and weight ", w.shape.str());
  return Shape{n, o, (hp - ekh) / p.stride_h + 1, (wp - ekw) / p.stride_w + 1};
}

void run_conv2d(OpContext& ctx, const TensorView& x, const TensorView& w, const OptView& bias,
                const Conv2dParams& params) {
  ctx.require(backend::OpKind::conv2d);
  backend::Conv2dProblem p;
  p.out = ctx.target();
  p.x = ctx.stage(x);
  p.weight = ctx.stage(w);
  p.bias = static_cast<const float*>(ctx.stage_ptr(bias));
  p.params = params;
  p.precision = ctx.policy().precision;
  if (p.out.numel() > 0) ctx.backend().conv2d(p);
  ctx.finish();
}

}  // namespace

Tensor conv2d_nchw(const TensorView& x, const TensorView& weight, const OptView& bias,
                   const Conv2dParams& params, const Policy& policy) {
  OpContext ctx("conv2d_nchw", policy, Dtypes::f32);
  const Shape shape = conv2d_shape(ctx, x, weight, bias, params);  // checks inputs first
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_conv2d(ctx, x, weight, bias, params);
  return out;
}

void conv2d_nchw_into(const TensorView& x, const TensorView& weight, const OptView& bias,
                      const TensorView& out, const Conv2dParams& params, const Policy& policy) {
  OpContext ctx("conv2d_nchw_into", policy, Dtypes::f32);
  ctx.output("out", out, conv2d_shape(ctx, x, weight, bias, params));
  run_conv2d(ctx, x, weight, bias, params);
}

}  // namespace lc
