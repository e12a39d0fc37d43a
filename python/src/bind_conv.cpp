#include <string>

#include "bindings.h"

namespace lc::py {
namespace {

// The seed passes stride/padding/dilation as separate ints; these gather them into the params.
Conv2dParams conv_params(int sh, int sw, int ph, int pw, int dh, int dw, int groups, bool relu) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.dilation_h = dh, p.dilation_w = dw, p.groups = groups, p.relu = relu;
  return p;
}

template <bool Relu>
Tensor conv_fn(const TensorView& x, const TensorView& w, const OptView& b, int sh, int sw, int ph,
               int pw, int dh, int dw, int groups, const Policy& p) {
  return conv2d_nchw(x, w, b, conv_params(sh, sw, ph, pw, dh, dw, groups, Relu), p);
}
template <bool Relu>
void conv_into_fn(const TensorView& x, const TensorView& w, const OptView& b, const TensorView& out,
                  int sh, int sw, int ph, int pw, int dh, int dw, int groups, const Policy& p) {
  conv2d_nchw_into(x, w, b, out, conv_params(sh, sw, ph, pw, dh, dw, groups, Relu), p);
}

Pool2dParams pool_params(int kh, int kw, int sh, int sw, int ph, int pw, bool count_include_pad) {
  Pool2dParams p;
  p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.count_include_pad = count_include_pad;
  return p;
}

Tensor max_pool_fn(const TensorView& x, int kh, int kw, int sh, int sw, int ph, int pw,
                   const Policy& p) {
  return max_pool2d(x, pool_params(kh, kw, sh, sw, ph, pw, true), p);
}
void max_pool_into_fn(const TensorView& x, const TensorView& out, int kh, int kw, int sh, int sw,
                      int ph, int pw, const Policy& p) {
  max_pool2d_into(x, out, pool_params(kh, kw, sh, sw, ph, pw, true), p);
}
Tensor avg_pool_fn(const TensorView& x, int kh, int kw, int sh, int sw, int ph, int pw,
                   bool count_include_pad, const Policy& p) {
  return avg_pool2d(x, pool_params(kh, kw, sh, sw, ph, pw, count_include_pad), p);
}
void avg_pool_into_fn(const TensorView& x, const TensorView& out, int kh, int kw, int sh, int sw,
                      int ph, int pw, bool count_include_pad, const Policy& p) {
  avg_pool2d_into(x, out, pool_params(kh, kw, sh, sw, ph, pw, count_include_pad), p);
}

#define LC_CONV_ARGS "stride_h"_a = 1, "stride_w"_a = 1, "pad_h"_a = 0, "pad_w"_a = 0
#define LC_DILATION_ARGS "dilation_h"_a = 1, "dilation_w"_a = 1, "groups"_a = 1
#define LC_POOL_ARGS \
  "kernel_h"_a, "kernel_w"_a, "stride_h"_a = 0, "stride_w"_a = 0, "pad_h"_a = 0, "pad_w"_a = 0

constexpr const char* kConvMath =
    "x (N, C, H, W) float32, weight (O, C/groups, KH, KW), bias (O,) or None -> (N, O, OH, OW),\n"
    "OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) // stride_h + 1 (OW alike), as torch's conv2d\n"
    "(cross-correlation, zero padding). stride, dilation, groups >= 1; padding >= 0.";

}  // namespace

void bind_conv(nb::module_& m) {
  // device/policy come right after pad_w, as the seed's positional calls put them.
  m.def("conv2d_nchw", op_lead<&conv_fn<false>, 7>(), arr("x"), arr("weight"),
        "bias"_a = nb::none(), LC_CONV_ARGS, LC_POLICY_ARGS, nb::kw_only(), LC_DILATION_ARGS,
        (std::string("conv2d_nchw(x, weight, bias=None, stride_h=1, stride_w=1, pad_h=0, pad_w=0, "
                     "device=None, policy=None, *, dilation_h=1, dilation_w=1, groups=1) -> "
                     "ndarray\n\n2-D convolution. ") +
         kConvMath)
            .c_str());
  m.def("conv2d_nchw_into", op_lead<&conv_into_fn<false>, 8>(), arr("x"), arr("weight"),
        arr("bias"), arr("out"), LC_CONV_ARGS, LC_POLICY_ARGS, LC_DILATION_ARGS,
        "conv2d_nchw_into(x, weight, bias, out, stride_h=1, stride_w=1, pad_h=0, pad_w=0, "
        "device=None, policy=None, dilation_h=1, dilation_w=1, groups=1)\n\n"
        "Writes conv2d_nchw(...) into `out` (float32, C-contiguous, exactly (N, O, OH, OW)).");
  m.def("conv_relu_nchw", op<&conv_fn<true>>(), arr("x"), arr("weight"), "bias"_a = nb::none(),
        LC_CONV_ARGS, LC_DILATION_ARGS, LC_POLICY_ARGS,
        (std::string("conv_relu_nchw(x, weight, bias=None, stride_h=1, stride_w=1, pad_h=0, "
                     "pad_w=0, dilation_h=1, dilation_w=1, groups=1, device=None, policy=None) "
                     "-> ndarray\n\nmax(conv2d_nchw(...), 0) with the ReLU fused into the "
                     "convolution. ") +
         kConvMath)
            .c_str());
  m.def("conv_relu_nchw_into", op<&conv_into_fn<true>>(), arr("x"), arr("weight"), arr("bias"),
        arr("out"), LC_CONV_ARGS, LC_DILATION_ARGS, LC_POLICY_ARGS,
        "conv_relu_nchw_into(x, weight, bias, out, stride_h=1, stride_w=1, pad_h=0, pad_w=0, "
        "dilation_h=1, dilation_w=1, groups=1, device=None, policy=None)\n\n"
        "Writes conv_relu_nchw(...) into `out` (float32, C-contiguous, exactly (N, O, OH, OW)).");

  m.def("max_pool2d", op<&max_pool_fn>(), arr("x"), LC_POOL_ARGS, LC_POLICY_ARGS,
        "max_pool2d(x, kernel_h, kernel_w, stride_h=0, stride_w=0, pad_h=0, pad_w=0, "
        "device=None, policy=None) -> ndarray\n\n"
        "Max over KH x KW windows of x (N, C, H, W) float32 -> (N, C, OH, OW), as torch's\n"
        "max_pool2d (ceil_mode=False): stride 0 means the kernel size, padding <= kernel // 2\n"
        "never wins, OH = (H + 2*pad_h - kernel_h) // stride_h + 1; NaN propagates.");
  m.def("max_pool2d_into", op<&max_pool_into_fn>(), arr("x"), arr("out"), LC_POOL_ARGS,
        LC_POLICY_ARGS,
        "max_pool2d_into(x, out, kernel_h, kernel_w, stride_h=0, stride_w=0, pad_h=0, pad_w=0, "
        "device=None, policy=None)\n\n"
        "Writes max_pool2d(...) into `out` (float32, C-contiguous, exactly (N, C, OH, OW)).");
  m.def("avg_pool2d", op<&avg_pool_fn>(), arr("x"), LC_POOL_ARGS, "count_include_pad"_a = true,
        LC_POLICY_ARGS,
        "avg_pool2d(x, kernel_h, kernel_w, stride_h=0, stride_w=0, pad_h=0, pad_w=0, "
        "count_include_pad=True, device=None, policy=None) -> ndarray\n\n"
        "Mean over KH x KW windows of x (N, C, H, W) float32 -> (N, C, OH, OW), as torch's\n"
        "avg_pool2d (ceil_mode=False): stride 0 means the kernel size, padding <= kernel // 2;\n"
        "padded zeros count in the divisor only with count_include_pad.");
  m.def("avg_pool2d_into", op<&avg_pool_into_fn>(), arr("x"), arr("out"), LC_POOL_ARGS,
        "count_include_pad"_a = true, LC_POLICY_ARGS,
        "avg_pool2d_into(x, out, kernel_h, kernel_w, stride_h=0, stride_w=0, pad_h=0, pad_w=0, "
        "count_include_pad=True, device=None, policy=None)\n\n"
        "Writes avg_pool2d(...) into `out` (float32, C-contiguous, exactly (N, C, OH, OW)).");
}

}  // namespace lc::py
