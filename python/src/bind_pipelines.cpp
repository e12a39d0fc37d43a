#include "bindings.h"

namespace lc::py {
namespace {

Conv2dParams conv_params(int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h,
                         int dilation_w, int groups, bool relu) {
  Conv2dParams p;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.pad_h = pad_h;
  p.pad_w = pad_w;
  p.dilation_h = dilation_h;
  p.dilation_w = dilation_w;
  p.groups = groups;
  p.relu = relu;
  return p;
}

Tensor conv_attention_py(const TensorView& x, const TensorView& weight, const OptView& bias,
                         int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h,
                         int dilation_w, int groups, bool causal, const Policy& p) {
  return conv_attention_nchw(
      x, weight, bias,
      conv_params(stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups, true), causal,
      p);
}

Tensor conv_attention_torchstrong_py(const TensorView& x, const TensorView& weight,
                                     const OptView& bias, std::int64_t seq_len,
                                     std::int64_t head_dim, int stride_h, int stride_w, int pad_h,
                                     int pad_w, int dilation_h, int dilation_w, int groups,
                                     bool causal, const Policy& p) {
  return conv_attention_torchstrong_nchw(
      x, weight, bias, seq_len, head_dim,
      conv_params(stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups, true), causal,
      p);
}

#define LC_CONV_ARGS                                                                    \
  "stride_h"_a = 1, "stride_w"_a = 1, "pad_h"_a = 0, "pad_w"_a = 0, "dilation_h"_a = 1, \
  "dilation_w"_a = 1, "groups"_a = 1

}  // namespace

void bind_pipelines(nb::module_& m) {
  m.def("conv_attention_nchw", op<&conv_attention_py>(), arr("x"), arr("weight"),
        "bias"_a = nb::none(), LC_CONV_ARGS, "causal"_a = false, LC_POLICY_ARGS,
        "conv_attention_nchw(x, weight, bias=None, stride_h=1, stride_w=1, pad_h=0, pad_w=0,\n"
        "                    dilation_h=1, dilation_w=1, groups=1, causal=False, device=None,\n"
        "                    policy=None) -> ndarray\n\n"
        "y = relu(conv2d(x, weight, bias)) of shape (N, 3D, H', W'); the H'W' positions are the\n"
        "tokens, channels [0, D) Q, [D, 2D) K, [2D, 3D) V; returns attention(Q, K, V) of shape\n"
        "(N, H'W', D) with scale 1/sqrt(D). float32.");
  m.def("conv_attention_torchstrong_nchw", op<&conv_attention_torchstrong_py>(), arr("x"),
        arr("weight"), arr("bias"), "seq_len"_a, "head_dim"_a, LC_CONV_ARGS, "causal"_a = false,
        LC_POLICY_ARGS,
        "conv_attention_torchstrong_nchw(x, weight, bias, seq_len, head_dim, stride_h=1,\n"
        "    stride_w=1, pad_h=0, pad_w=0, dilation_h=1, dilation_w=1, groups=1, causal=False,\n"
        "    device=None, policy=None) -> ndarray\n\n"
        "The seed's rule: flatten relu(conv2d(x, weight, bias)) (bias may be None) in NCHW\n"
        "order (L values) into X[s, d] = flat[(s*head_dim + d) mod L] of shape\n"
        "(seq_len, head_dim), then self-attention with Q = K = V = X; returns\n"
        "(seq_len, head_dim). float32.");
}

}  // namespace lc::py
