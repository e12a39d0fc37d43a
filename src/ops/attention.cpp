// attention family front-ends: attention2d ([S,D]), attention ([B,H,S,D]; causal, scale, GQA)
// and attention_backward. The [S,D] form is the B = H = 1 case of the same backend call.
// float32, and float64 as an exact reference path (gradient checks).
//
// Zero-size rules: Sq = 0 or B/H = 0 gives an empty result; Sk = 0 gives zeros (every row
// sees no key); Dv = 0 gives an empty (.., Sq, 0) result. D = 0 is a ValueError: the scores
// would all be zero and the default scale 1/sqrt(D) infinite, so no answer is the natural one.
#include <cmath>

#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::Dtypes;
using ops::OpContext;

struct Dims {
  std::int64_t b, h, hkv, sq, sk, d, dv;
};

// Checks q, k, v of `rank` 2 ([S,D]) or 4 ([B,H,S,D]) dimensions against each other.
Dims attention_dims(OpContext& ctx, const TensorView& q, const TensorView& k, const TensorView& v,
                    int rank) {
  ctx.input("q", q, rank);
  ctx.input("k", k, rank);
  ctx.input("v", v, rank);
  const int s = rank - 2;  // the sequence axis
  if (k.shape[s + 1] != q.shape[s + 1])
    ctx.fail("expected q and k with the same head dim D, got q ", q.shape.str(), " and k ",
             k.shape.str());
  if (v.shape[s] != k.shape[s])
    ctx.fail("expected k and v with the same number of keys, got k ", k.shape.str(), " and v ",
             v.shape.str());
  Dims d{1, 1, 1, q.shape[s], k.shape[s], q.shape[s + 1], v.shape[s + 1]};
  if (rank == 4) {
    if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0])
      ctx.fail("expected q, k and v with the same batch B, got q ", q.shape.str(), ", k ",
               k.shape.str(), " and v ", v.shape.str());
    if (v.shape[1] != k.shape[1])
      ctx.fail("expected k and v with the same number of heads, got k ", k.shape.str(), " and v ",
               v.shape.str());
    d.b = q.shape[0];
    d.h = q.shape[1];
    d.hkv = k.shape[1];
    if (d.hkv == 0) ctx.fail("expected k and v with at least one head, got k ", k.shape.str());
    if (d.h % d.hkv != 0)
      ctx.fail("expected q's heads to be a multiple of k's heads (GQA), got H = ", d.h,
               " and Hkv = ", d.hkv);
  }
  if (d.d == 0)
    ctx.fail("expected a head dim D >= 1, got q ", q.shape.str(), " and k ", k.shape.str());
  return d;
}

double resolve_scale(OpContext& ctx, const AttentionParams& params, std::int64_t head_dim) {
  if (!params.scale) return 1.0 / std::sqrt(static_cast<double>(head_dim));
  const double s = *params.scale;
  if (!std::isfinite(s) || s <= 0) ctx.fail("expected scale finite and > 0, got ", s);
  return s;
}

Shape out_shape(const Dims& d, int rank) {
  return rank == 2 ? Shape{d.sq, d.dv} : Shape{d.b, d.h, d.sq, d.dv};
}

// A contiguous [S,X] view as [1,1,S,X], in place (the same memory).
TensorView as_heads(TensorView v) {
  if (v.rank() == 2) {
    const std::int64_t s = v.shape[0], x = v.shape[1];
    v.shape = Shape{1, 1, s, x};
    v.strides = Shape{s * x, s * x, x, 1};
  }
  return v;
}

void run_attention(OpContext& ctx, const TensorView& q, const TensorView& k, const TensorView& v,
                   bool causal, double scale) {
  ctx.require(backend::OpKind::attention);
  backend::AttentionProblem p;
  p.q = as_heads(ctx.stage(q));
  p.k = as_heads(ctx.stage(k));
  p.v = as_heads(ctx.stage(v));
  p.out = as_heads(ctx.target());
  p.causal = causal;
  p.scale = scale;
  p.precision = ctx.policy().precision;
  if (p.out.numel() > 0) ctx.backend().attention(p);
  ctx.finish();
}

}  // namespace

void attention2d_into(const TensorView& q, const TensorView& k, const TensorView& v,
                      const TensorView& out, bool causal, const Policy& policy) {
  OpContext ctx("attention2d_into", policy, Dtypes::f32_f64);
  const Dims d = attention_dims(ctx, q, k, v, 2);
  ctx.output("out", out, out_shape(d, 2));
  run_attention(ctx, q, k, v, causal, 1.0 / std::sqrt(static_cast<double>(d.d)));
}

Tensor attention2d(const TensorView& q, const TensorView& k, const TensorView& v, bool causal,
                   const Policy& policy) {
  OpContext ctx("attention2d", policy, Dtypes::f32_f64);
  const Dims d = attention_dims(ctx, q, k, v, 2);
  Tensor out(out_shape(d, 2), ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_attention(ctx, q, k, v, causal, 1.0 / std::sqrt(static_cast<double>(d.d)));
  return out;
}

void attention_into(const TensorView& q, const TensorView& k, const TensorView& v,
                    const TensorView& out, const AttentionParams& params, const Policy& policy) {
  OpContext ctx("attention_into", policy, Dtypes::f32_f64);
  const Dims d = attention_dims(ctx, q, k, v, 4);
  const double scale = resolve_scale(ctx, params, d.d);
  ctx.output("out", out, out_shape(d, 4));
  run_attention(ctx, q, k, v, params.causal, scale);
}

Tensor attention(const TensorView& q, const TensorView& k, const TensorView& v,
                 const AttentionParams& params, const Policy& policy) {
  OpContext ctx("attention", policy, Dtypes::f32_f64);
  const Dims d = attention_dims(ctx, q, k, v, 4);
  const double scale = resolve_scale(ctx, params, d.d);
  Tensor out(out_shape(d, 4), ctx.dtype(), ctx.result_device());
  ctx.output("out", out, out.shape());
  run_attention(ctx, q, k, v, params.causal, scale);
  return out;
}

AttentionGrads attention_backward(const TensorView& q, const TensorView& k, const TensorView& v,
                                  const TensorView& dout, const AttentionParams& params,
                                  const Policy& policy) {
  OpContext ctx("attention_backward", policy, Dtypes::f32_f64);
  const Dims d = attention_dims(ctx, q, k, v, 4);
  ctx.input("dout", dout, 4);
  const Shape expected = out_shape(d, 4);
  if (dout.shape != expected)
    ctx.fail("expected dout of shape ", expected.str(), " (the output's), got ", dout.shape.str());
  const double scale = resolve_scale(ctx, params, d.d);

  ctx.require(backend::OpKind::attention_backward);
  const Device dev = ctx.device();
  AttentionGrads g{Tensor(q.shape, ctx.dtype(), dev), Tensor(k.shape, ctx.dtype(), dev),
                   Tensor(v.shape, ctx.dtype(), dev)};
  backend::AttentionBackwardProblem p;
  p.q = ctx.stage(q);
  p.k = ctx.stage(k);
  p.v = ctx.stage(v);
  p.dout = ctx.stage(dout);
  p.dq = g.dq.view();
  p.dk = g.dk.view();
  p.dv = g.dv.view();
  p.causal = params.causal;
  p.scale = scale;
  p.precision = ctx.policy().precision;
  if (g.dq.numel() + g.dk.numel() + g.dv.numel() > 0) ctx.backend().attention_backward(p);
  ctx.finish();
  const Device host = ctx.result_device();
  if (host != dev) g = AttentionGrads{g.dq.to(host), g.dk.to(host), g.dv.to(host)};
  return g;
}

}  // namespace lc
