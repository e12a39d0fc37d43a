#include <string>
#include <utility>

#include "bindings.h"

namespace lc::py {
namespace {

// One function per op (op<> needs a constant function pointer), generated from the enums.
template <UnaryOp Op>
Tensor unary_fn(const TensorView& x, const Policy& p) {
  return unary(Op, x, p);
}
template <UnaryOp Op>
void unary_into_fn(const TensorView& x, const TensorView& out, const Policy& p) {
  unary_into(Op, x, out, p);
}
template <BinaryOp Op>
Tensor binary_fn(const TensorView& a, const TensorView& b, const Policy& p) {
  return binary(Op, a, b, p);
}
template <BinaryOp Op>
void binary_into_fn(const TensorView& a, const TensorView& b, const TensorView& out,
                    const Policy& p) {
  binary_into(Op, a, b, out, p);
}

// What each op computes, for its docstring.
constexpr const char* kUnaryMath[] = {
    "max(x, 0)",
    "x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))), the exact GELU (PyTorch's default)",
    "x * sigmoid(x)",
    "1 / (1 + exp(-x))",
    "tanh(x)",
    "exp(x)",
    "-x",
    "|x|",
    "sqrt(x) (NaN below 0)"};
constexpr const char* kBinaryMath[] = {"a + b", "a - b", "a * b", "a / b"};
constexpr const char* kUnaryIntoNames[] = {"relu_into",    "gelu_into", "silu_into",
                                           "sigmoid_into", "tanh_into", "exp_into",
                                           "neg_into",     "abs_into",  "sqrt_into"};
constexpr const char* kBinaryIntoNames[] = {"add_into", "sub_into", "mul_into", "div_into"};

template <UnaryOp Op>
void def_unary(nb::module_& m) {
  const int i = static_cast<int>(Op);
  const std::string name = unary_name(Op);
  const std::string math = kUnaryMath[i];
  m.def(unary_name(Op), op<&unary_fn<Op>>(), arr("x"), LC_POLICY_ARGS,
        (name + "(x, device=None, policy=None) -> ndarray\n\nElementwise " + math +
         "; float32 or float64, any shape.")
            .c_str());
  m.def(kUnaryIntoNames[i], op<&unary_into_fn<Op>>(), arr("x"), arr("out"), LC_POLICY_ARGS,
        (name + "_into(x, out, device=None, policy=None)\n\nWrites " + math +
         " into `out` (x's shape and dtype, C-contiguous); `out` may be `x` (in place).")
            .c_str());
}

template <BinaryOp Op>
void def_binary(nb::module_& m) {
  const int i = static_cast<int>(Op);
  const std::string name = binary_name(Op);
  const std::string math = kBinaryMath[i];
  m.def(binary_name(Op), op<&binary_fn<Op>>(), arr("a"), arr("b"), LC_POLICY_ARGS,
        (name + "(a, b, device=None, policy=None) -> ndarray\n\nElementwise " + math +
         " with NumPy broadcasting; float32 or float64 (both the same).")
            .c_str());
  m.def(kBinaryIntoNames[i], op<&binary_into_fn<Op>>(), arr("a"), arr("b"), arr("out"),
        LC_POLICY_ARGS,
        (name + "_into(a, b, out, device=None, policy=None)\n\nWrites " + math +
         " into `out` (the broadcast shape, C-contiguous); `out` may be `a` or `b` (in place).")
            .c_str());
}

template <UnaryOp... Ops>
void def_unaries(nb::module_& m) {
  (def_unary<Ops>(m), ...);
}
template <BinaryOp... Ops>
void def_binaries(nb::module_& m) {
  (def_binary<Ops>(m), ...);
}

}  // namespace

void bind_vector(nb::module_& m) {
  using U = UnaryOp;
  using B = BinaryOp;
  def_unaries<U::relu, U::gelu, U::silu, U::sigmoid, U::tanh, U::exp, U::neg, U::abs, U::sqrt>(m);
  def_binaries<B::add, B::sub, B::mul, B::div>(m);

  m.def("axpy", op<&axpy>(), "alpha"_a, arr("x"), arr("y"), LC_POLICY_ARGS,
        "axpy(alpha, x, y, device=None, policy=None) -> ndarray\n\n"
        "alpha * x + y for x and y of the same shape; float32 or float64.");
  m.def("axpy_into", op<&axpy_into>(), "alpha"_a, arr("x"), arr("y"), arr("out"), LC_POLICY_ARGS,
        "axpy_into(alpha, x, y, out, device=None, policy=None)\n\n"
        "Writes alpha * x + y into `out`; `out` may be `x` or `y` (in place).");
  m.def("scale", op<&scale>(), arr("x"), "alpha"_a, LC_POLICY_ARGS,
        "scale(x, alpha, device=None, policy=None) -> ndarray\n\n"
        "alpha * x; float32 or float64.");
  m.def("scale_into", op<&scale_into>(), arr("x"), "alpha"_a, arr("out"), LC_POLICY_ARGS,
        "scale_into(x, alpha, out, device=None, policy=None)\n\n"
        "Writes alpha * x into `out`; `out` may be `x` (in place).");
}

}  // namespace lc::py
