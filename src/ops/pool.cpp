// max_pool2d / avg_pool2d front-ends over x (N,C,H,W) -> (N,C,OH,OW), PyTorch's rules
// (ceil_mode=False): stride 0 means the kernel size, padding at most half the kernel.
#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

// Checks every argument; resolves the strides in `p` and returns the output shape.
Shape pool2d_shape(OpContext& ctx, const TensorView& x, Pool2dParams& p) {
  ctx.input("x", x, 4);
  if (p.kernel_h <= 0 || p.kernel_w <= 0)
    ctx.fail("expected kernel_h, kernel_w >= 1, got (", p.kernel_h, ", ", p.kernel_w, ")");
  if (p.stride_h < 0 || p.stride_w < 0)
    ctx.fail("expected stride_h, stride_w >= 1 (or 0 for the kernel size), got (", p.stride_h, ", ",
             p.stride_w, ")");
  if (p.pad_h < 0 || p.pad_w < 0)
    ctx.fail("expected pad_h, pad_w >= 0, got (", p.pad_h, ", ", p.pad_w, ")");
  if (p.pad_h > p.kernel_h / 2 || p.pad_w > p.kernel_w / 2)
    ctx.fail("expected padding at most half the kernel (pad_h <= ", p.kernel_h / 2,
             ", pad_w <= ", p.kernel_w / 2, "), got (", p.pad_h, ", ", p.pad_w, ")");
  if (p.stride_h == 0) p.stride_h = p.kernel_h;
  if (p.stride_w == 0) p.stride_w = p.kernel_w;
  const std::int64_t h = x.shape[2], w = x.shape[3];
  if (h == 0 || w == 0) ctx.fail("expected x with non-zero H and W, got ", x.shape.str());
  const std::int64_t hp = h + 2 * std::int64_t{p.pad_h}, wp = w + 2 * std::int64_t{p.pad_w};
  if (p.kernel_h > hp || p.kernel_w > wp)
    ctx.fail("expected the kernel (", p.kernel_h, ", ", p.kernel_w, ") to fit the padded input (",
             hp, ", ", wp, "), got x ", x.shape.str());
  return Shape{x.shape[0], x.shape[1], (hp - p.kernel_h) / p.stride_h + 1,
               (wp - p.kernel_w) / p.stride_w + 1};
}

void run_pool2d(OpContext& ctx, const TensorView& x, const Pool2dParams& params,
                backend::PoolKind kind) {
  ctx.require(backend::OpKind::pool2d);
  backend::Pool2dProblem p;
  p.out = ctx.target();
  p.x = ctx.stage(x);
  p.params = params;
  p.kind = kind;
  if (p.out.numel() > 0) ctx.backend().pool2d(p);
  ctx.finish();
}

Tensor pool2d(const char* op, const TensorView& x, Pool2dParams params, backend::PoolKind kind,
              const Policy& policy) {
  OpContext ctx(op, policy, Dtypes::f32);
  const Shape shape = pool2d_shape(ctx, x, params);  // checks inputs first
  Tensor out(shape, ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_pool2d(ctx, x, params, kind);
  return out;
}

void pool2d_into(const char* op, const TensorView& x, const TensorView& out, Pool2dParams params,
                 backend::PoolKind kind, const Policy& policy) {
  OpContext ctx(op, policy, Dtypes::f32);
  ctx.output("out", out, pool2d_shape(ctx, x, params));
  run_pool2d(ctx, x, params, kind);
}

}  // namespace

Tensor max_pool2d(const TensorView& x, const Pool2dParams& params, const Policy& policy) {
  return pool2d("max_pool2d", x, params, backend::PoolKind::max, policy);
}
void max_pool2d_into(const TensorView& x, const TensorView& out, const Pool2dParams& params,
                     const Policy& policy) {
  pool2d_into("max_pool2d_into", x, out, params, backend::PoolKind::max, policy);
}
Tensor avg_pool2d(const TensorView& x, const Pool2dParams& params, const Policy& policy) {
  return pool2d("avg_pool2d", x, params, backend::PoolKind::avg, policy);
}
void avg_pool2d_into(const TensorView& x, const TensorView& out, const Pool2dParams& params,
                     const Policy& policy) {
  pool2d_into("avg_pool2d_into", x, out, params, backend::PoolKind::avg, policy);
}

}  // namespace lc
