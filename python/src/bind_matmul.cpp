#include <string>

#include "bindings.h"

namespace lc::py {
namespace {

// The activation arrives as a name (any object); lc::parse_activation reports a bad one as [op].
Tensor linear_fn(const TensorView& x, const TensorView& w, const OptView& b,
                 const ActivationName& activation, const Policy& p) {
  return linear(x, w, b, parse_activation(activation.name, "linear"), p);
}
void linear_into_fn(const TensorView& x, const TensorView& w, const OptView& b,
                    const TensorView& out, const ActivationName& activation, const Policy& p) {
  linear_into(x, w, b, out, parse_activation(activation.name, "linear_into"), p);
}

}  // namespace

void bind_matmul(nb::module_& m) {
  m.def("matmul2d", op<&matmul2d>(), arr("a"), arr("b"), LC_POLICY_ARGS,
        "matmul2d(a, b, device=None, policy=None) -> ndarray\n\n"
        "(M, K) @ (K, N) -> (M, N), float32 or float64.");
  m.def("matmul2d_into", op<&matmul2d_into>(), arr("a"), arr("b"), arr("out"), LC_POLICY_ARGS,
        "matmul2d_into(a, b, out, device=None, policy=None)\n\n"
        "Writes a @ b into `out` (float32/float64, C-contiguous, exactly (M, N)).");
  m.def("matmul", op<&matmul>(), arr("a"), arr("b"), LC_POLICY_ARGS,
        "matmul(a, b, device=None, policy=None) -> ndarray\n\n"
        "np.matmul: (..., M, K) @ (..., K, N) -> (..., M, N) with the batch axes broadcast;\n"
        "a 1-D a or b is a vector (its axis dropped from the result). float32 or float64.");
  m.def("matmul_into", op<&matmul_into>(), arr("a"), arr("b"), arr("out"), LC_POLICY_ARGS,
        "matmul_into(a, b, out, device=None, policy=None)\n\n"
        "Writes matmul(a, b) into `out` (same dtype, C-contiguous, exactly the result's shape).");
  m.def(
      "gemm", op<&gemm>(), arr("a"), arr("b"), "trans_a"_a = false, "trans_b"_a = false,
      "alpha"_a = 1.0, LC_POLICY_ARGS,
      "gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, device=None, policy=None) -> ndarray\n\n"
      "alpha * op(a) @ op(b), op(x) = x.T when its flag is set; 2-D, float32 or float64.");
  m.def("gemm_into", op<&gemm_into>(), arr("a"), arr("b"), arr("out"), "trans_a"_a = false,
        "trans_b"_a = false, "alpha"_a = 1.0, "beta"_a = 0.0, LC_POLICY_ARGS,
        "gemm_into(a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, device=None, "
        "policy=None)\n\n"
        "out = alpha * op(a) @ op(b) + beta * out (out is not read when beta == 0).");
  m.def("linear", op<&linear_fn>(), arr("x"), arr("weight"), "bias"_a = nb::none(),
        "activation"_a.none() = "none", LC_POLICY_ARGS,
        "linear(x, weight, bias=None, activation=\"none\", device=None, policy=None) -> ndarray\n\n"
        "x (..., in) @ weight(out, in).T + bias(out,), then the activation: \"none\", \"relu\" or\n"
        "\"gelu\" (exact erf form, torch's default). float32 or float64.");
  m.def("linear_into", op<&linear_into_fn>(), arr("x"), arr("weight"), arr("bias"), arr("out"),
        "activation"_a.none() = "none", LC_POLICY_ARGS,
        "linear_into(x, weight, bias, out, activation=\"none\", device=None, policy=None)\n\n"
        "Writes linear(x, weight, bias, activation) into `out` (exactly (..., out)); bias may be "
        "None.");
}

}  // namespace lc::py
