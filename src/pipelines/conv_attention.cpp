// conv -> ReLU -> attention pipelines, composed from the public ops (the "split" mode and the
// reference for any fused kernel). Every step runs on one device; intermediates stay there.
#include <algorithm>

#include "lightning_core/ops.h"
#include "ops/op_context.h"
#include "pipelines/compose.h"

namespace lc {
namespace {

using ops::OpContext;
using pipelines::as_op;

// Type/None/rank checks shared by both pipelines (the conv checks the rest).
void conv_inputs(OpContext& ctx, const TensorView& x, const TensorView& weight,
                 const OptView& bias) {
  ctx.input("x", x, 4);
  ctx.input("weight", weight, 4);
  ctx.input("bias", bias, 1);
}

// relu(conv2d(x)) (N,O,H',W') on the pipeline's device.
Tensor conv_relu(OpContext& ctx, const TensorView& x, const TensorView& weight, const OptView& bias,
                 Conv2dParams params) {
  params.relu = true;
  return conv2d_nchw(x, weight, bias, params, pipelines::step_policy(ctx));
}

// `count` contiguous elements of t starting at element `offset`, as a 1-D or (rows, cols) view.
TensorView slice(const Tensor& t, std::int64_t offset, Shape shape) {
  auto* p =
      static_cast<char*>(t.data()) + offset * static_cast<std::int64_t>(dtype_size(t.dtype()));
  return TensorView(p, t.dtype(), shape, t.device());
}

}  // namespace

Tensor conv_attention_nchw(const TensorView& x, const TensorView& weight, const OptView& bias,
                           const Conv2dParams& params, bool causal, const Policy& policy) {
  const char* op = "conv_attention_nchw";
  OpContext ctx(op, policy);
  conv_inputs(ctx, x, weight, bias);
  const std::int64_t channels = weight.shape[0];
  if (channels <= 0 || channels % 3 != 0)
    ctx.fail("expected weight with 3*D output channels (Q, K, V thirds, D >= 1), got ", channels,
             " in weight of shape ", weight.shape.str());
  pipelines::require_split_mode(ctx);
  const Device result_device = ctx.result_device();

  return as_op(op, [&] {
    const Tensor y = conv_relu(ctx, x, weight, bias, params);  // (N, 3D, H', W')
    const std::int64_t n = y.shape()[0], d = channels / 3;
    const std::int64_t tokens = y.shape()[2] * y.shape()[3];
    Tensor out(Shape{n, tokens, d}, DType::f32, result_device);
    if (out.numel() == 0) return out;
    // (N*3, D, S) -> (N*3, S, D): sample i's Q, K, V are the contiguous (S, D) blocks 3i..3i+2.
    const Tensor qkv =
        transpose(TensorView(y.data(), y.dtype(), Shape{n * 3, d, tokens}, y.device()),
                  pipelines::step_policy(ctx));
    const std::int64_t block = tokens * d;
    for (std::int64_t i = 0; i < n; ++i) {
      Policy p = pipelines::last_policy(ctx);
      p.sync = p.sync && i == n - 1;
      attention2d_into(slice(qkv, (3 * i) * block, Shape{tokens, d}),
                       slice(qkv, (3 * i + 1) * block, Shape{tokens, d}),
                       slice(qkv, (3 * i + 2) * block, Shape{tokens, d}),
                       slice(out, i * block, Shape{tokens, d}), causal, p);
    }
    return out;
  });
}

Tensor conv_attention_torchstrong_nchw(const TensorView& x, const TensorView& weight,
                                       const OptView& bias, std::int64_t seq_len,
                                       std::int64_t head_dim, const Conv2dParams& params,
                                       bool causal, const Policy& policy) {
  const char* op = "conv_attention_torchstrong_nchw";
  OpContext ctx(op, policy);
  conv_inputs(ctx, x, weight, bias);
  if (seq_len < 0) ctx.fail("expected seq_len >= 0, got ", seq_len);
  if (head_dim < 1) ctx.fail("expected head_dim >= 1, got ", head_dim);
  pipelines::require_split_mode(ctx);
  const Device result_device = ctx.result_device();

  return as_op(op, [&] {
    const Shape xs{seq_len, head_dim};
    const std::int64_t total = xs.numel();  // throws on int64 overflow
    const Tensor y = conv_relu(ctx, x, weight, bias, params);
    const std::int64_t flat = y.numel();
    if (flat == 0 && total > 0)
      ctx.fail(
          "expected a non-empty conv output to fill X[s, d] = flat[(s*head_dim + d) mod L], "
          "got relu(conv(x)) of shape ",
          y.shape().str());
    Tensor out(xs, DType::f32, result_device);
    if (total == 0) return out;
    // X[s, d] = flat[(s*head_dim + d) mod L]: the flat prefix, or flat repeated to length total.
    TensorView X;
    Tensor wrapped;
    if (total <= flat) {
      X = slice(y, 0, xs);
    } else {
      wrapped = Tensor(xs, y.dtype(), y.device());
      for (std::int64_t at = 0; at < total; at += flat) {
        const std::int64_t len = std::min(flat, total - at);
        copy_into(slice(y, 0, Shape{len}), slice(wrapped, at, Shape{len}));
      }
      X = wrapped.view();
    }
    attention2d_into(X, X, X, out, causal, pipelines::last_policy(ctx));
    return out;
  });
}

}  // namespace lc
