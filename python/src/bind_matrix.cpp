#include "bindings.h"

namespace lc::py {
namespace {

template <ReduceOp Op>
Tensor reduce_fn(const TensorView& x, const Policy& p) {
  return reduce(Op, x, p);
}
template <ReduceOp Op>
void reduce_into_fn(const TensorView& x, const TensorView& out, const Policy& p) {
  reduce_into(Op, x, out, p);
}

}  // namespace

void bind_matrix(nb::module_& m) {
  m.def("transpose", op<&transpose>(), arr("x"), LC_POLICY_ARGS,
        "transpose(x, device=None, policy=None) -> ndarray\n\n"
        "Swaps the last two axes: (..., M, N) -> (..., N, M); float32 or float64.");
  m.def("transpose_into", op<&transpose_into>(), arr("x"), arr("out"), LC_POLICY_ARGS,
        "transpose_into(x, out, device=None, policy=None)\n\n"
        "Writes x with its last two axes swapped into `out` (C-contiguous).");

  m.def("softmax", op<&softmax>(), arr("x"), LC_POLICY_ARGS,
        "softmax(x, device=None, policy=None) -> ndarray\n\n"
        "exp(x - max) / sum(exp(x - max)) over the last axis (stable); float32 or float64.");
  m.def("softmax_into", op<&softmax_into>(), arr("x"), arr("out"), LC_POLICY_ARGS,
        "softmax_into(x, out, device=None, policy=None)\n\n"
        "Writes softmax(x) over the last axis into `out`; `out` may be `x` (in place).");
  m.def("log_softmax", op<&log_softmax>(), arr("x"), LC_POLICY_ARGS,
        "log_softmax(x, device=None, policy=None) -> ndarray\n\n"
        "x - max - log(sum(exp(x - max))) over the last axis (stable); float32 or float64.");
  m.def("log_softmax_into", op<&log_softmax_into>(), arr("x"), arr("out"), LC_POLICY_ARGS,
        "log_softmax_into(x, out, device=None, policy=None)\n\n"
        "Writes log_softmax(x) over the last axis into `out`; `out` may be `x` (in place).");

  m.def("layer_norm", op<&layer_norm>(), arr("x"), "weight"_a = nb::none(), "bias"_a = nb::none(),
        "eps"_a = 1e-5, LC_POLICY_ARGS,
        "layer_norm(x, weight=None, bias=None, eps=1e-5, device=None, policy=None) -> ndarray\n\n"
        "(x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as\n"
        "PyTorch); weight and bias are optional, of the last axis' length; eps >= 0.");
  m.def("layer_norm_into", op<&layer_norm_into>(), arr("x"), arr("weight"), arr("bias"), arr("out"),
        "eps"_a = 1e-5, LC_POLICY_ARGS,
        "layer_norm_into(x, weight, bias, out, eps=1e-5, device=None, policy=None)\n\n"
        "Writes layer_norm(x, weight, bias, eps) into `out` (weight/bias may be None);\n"
        "`out` may be `x` (in place).");
  m.def("rms_norm", op<&rms_norm>(), arr("x"), "weight"_a = nb::none(), "eps"_a = 1e-6,
        LC_POLICY_ARGS,
        "rms_norm(x, weight=None, eps=1e-6, device=None, policy=None) -> ndarray\n\n"
        "x / sqrt(mean(x^2) + eps) * weight over the last axis; weight is optional; eps >= 0.");
  m.def("rms_norm_into", op<&rms_norm_into>(), arr("x"), arr("weight"), arr("out"), "eps"_a = 1e-6,
        LC_POLICY_ARGS,
        "rms_norm_into(x, weight, out, eps=1e-6, device=None, policy=None)\n\n"
        "Writes rms_norm(x, weight, eps) into `out` (weight may be None); `out` may be `x`.");

  m.def("sum", op<&reduce_fn<ReduceOp::sum>>(), arr("x"), LC_POLICY_ARGS,
        "sum(x, device=None, policy=None) -> ndarray\n\n"
        "Sum over the last axis, (..., N) -> (...), accumulated in float64; 0 for N = 0.");
  m.def(
      "sum_into", op<&reduce_into_fn<ReduceOp::sum>>(), arr("x"), arr("out"), LC_POLICY_ARGS,
      "sum_into(x, out, device=None, policy=None)\n\nWrites sum(x) over the last axis into `out`.");
  m.def("mean", op<&reduce_fn<ReduceOp::mean>>(), arr("x"), LC_POLICY_ARGS,
        "mean(x, device=None, policy=None) -> ndarray\n\n"
        "Mean over the last axis, (..., N) -> (...); N = 0 is a ValueError.");
  m.def("mean_into", op<&reduce_into_fn<ReduceOp::mean>>(), arr("x"), arr("out"), LC_POLICY_ARGS,
        "mean_into(x, out, device=None, policy=None)\n\nWrites mean(x) over the last axis into "
        "`out`.");
  m.def("max", op<&reduce_fn<ReduceOp::max>>(), arr("x"), LC_POLICY_ARGS,
        "max(x, device=None, policy=None) -> ndarray\n\n"
        "Maximum over the last axis, (..., N) -> (...), NaN if the row has one; N = 0 is a\n"
        "ValueError.");
  m.def(
      "max_into", op<&reduce_into_fn<ReduceOp::max>>(), arr("x"), arr("out"), LC_POLICY_ARGS,
      "max_into(x, out, device=None, policy=None)\n\nWrites max(x) over the last axis into `out`.");
}

}  // namespace lc::py
