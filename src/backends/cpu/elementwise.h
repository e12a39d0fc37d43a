// One functor per elementwise op, each a template over the SIMD pack type so that the same
// definition serves float32 and float64 (and any lane count). The generic kernels that run
// them are in vector.cpp.
#pragma once

#include "backends/cpu/simd_pack.h"
#include "lightning_core/ops.h"

namespace lc::cpu::ew {

namespace s = simd;

struct Relu {
  template <class V>
  V operator()(V x) const {
    return s::select<V>(x < s::elem_t<V>(0), V{}, x);  // NaN passes through
  }
};
// Exact GELU (erf form, PyTorch's default): x * Phi(x) = x/2 * erfc(-x/sqrt(2)).
struct Gelu {
  template <class V>
  V operator()(V x) const {
    using T = s::elem_t<V>;
    return x * T(0.5) * s::erfc<V>(x * T(-0.70710678118654752440));
  }
};
// 1/(1 + e^-x) for x >= 0, e^x/(1 + e^x) below: never overflows, keeps tiny results.
template <class V>
V sigmoid(V x) {
  using T = s::elem_t<V>;
  const V e = s::exp<V>(-s::abs<V>(x));
  const V r = T(1) / (e + T(1));
  return s::select<V>(x < T(0), e * r, r);
}
struct Silu {
  template <class V>
  V operator()(V x) const {
    return x * sigmoid(x);
  }
};
struct Sigmoid {
  template <class V>
  V operator()(V x) const {
    return sigmoid(x);
  }
};
struct Tanh {
  template <class V>
  V operator()(V x) const {
    return s::tanh<V>(x);
  }
};
struct Exp {
  template <class V>
  V operator()(V x) const {
    return s::exp<V>(x);
  }
};
struct Neg {
  template <class V>
  V operator()(V x) const {
    return -x;
  }
};
struct Abs {
  template <class V>
  V operator()(V x) const {
    return s::abs<V>(x);
  }
};
struct Sqrt {
  template <class V>
  V operator()(V x) const {
    return s::sqrt<V>(x);
  }
};

struct Add {
  template <class V>
  V operator()(V a, V b) const {
    return a + b;
  }
};
struct Sub {
  template <class V>
  V operator()(V a, V b) const {
    return a - b;
  }
};
struct Mul {
  template <class V>
  V operator()(V a, V b) const {
    return a * b;
  }
};
struct Div {
  template <class V>
  V operator()(V a, V b) const {
    return a / b;
  }
};
// alpha * a + b.
template <class T>
struct Axpy {
  T alpha;
  template <class V>
  V operator()(V a, V b) const {
    return a * alpha + b;
  }
};

// Calls f(Functor{}) for a UnaryOp.
template <class F>
decltype(auto) dispatch_unary(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::relu:
      return f(Relu{});
    case UnaryOp::gelu:
      return f(Gelu{});
    case UnaryOp::silu:
      return f(Silu{});
    case UnaryOp::sigmoid:
      return f(Sigmoid{});
    case UnaryOp::tanh:
      return f(Tanh{});
    case UnaryOp::exp:
      return f(Exp{});
    case UnaryOp::neg:
      return f(Neg{});
    case UnaryOp::abs:
      return f(Abs{});
    case UnaryOp::sqrt:
      break;
  }
  return f(Sqrt{});
}
template <class F>
decltype(auto) dispatch_binary(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add:
      return f(Add{});
    case BinaryOp::sub:
      return f(Sub{});
    case BinaryOp::mul:
      return f(Mul{});
    case BinaryOp::div:
      break;
  }
  return f(Div{});
}

}  // namespace lc::cpu::ew
