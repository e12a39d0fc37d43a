// NumPy <-> Tensor conversion and the adapter that turns a C++ op into a Python function.
// The only place that knows about Python objects; it checks nothing about ops (front-ends do).
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "lightning_core/lightning_core.h"

namespace lc::py {

namespace nb = nanobind;

// A non-owning view of a NumPy array (or lc.Tensor / lc.TensorView). Never fails: a value that
// is not a usable array becomes a view whose `invalid` says what it was.
TensorView to_view(nb::handle obj);

// Host results become NumPy arrays (sharing the tensor's memory); device results lc.Tensor.
nb::object to_python(const Tensor& t);
nb::object to_python(const LstmState& s);
nb::object to_python(const LstmResult& r);
nb::object to_python(const AttentionGrads& g);

// The policy of one call: `policy` (an lc.Policy or None, else the scope's) with `device`
// (a string or None) on top.
Policy resolve_policy(nb::handle device, nb::handle policy);

// An activation name argument: any object converts, a non-string one to "<typename>", so the
// op's own check reports it in the [op] format instead of nanobind's signature TypeError.
struct ActivationName {
  std::string name;
};

// The Python-side view object: keeps its array alive.
struct PyTensorView {
  nb::object owner;
  TensorView view;
};

// op<&lc::f>(): a Python callable taking f's arguments minus its trailing Policy, plus
// (device=None, policy=None); the GIL is released while the op runs.
template <auto F, class Sig = decltype(F)>
struct OpAdapter;

template <auto F, class R, class... A>
struct OpAdapter<F, R (*)(A...)> {
  using Args = std::tuple<A...>;
  static_assert(std::is_same_v<std::tuple_element_t<sizeof...(A) - 1, Args>, const Policy&>,
                "an op's last parameter is its Policy");

  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) {
    return [](std::tuple_element_t<I, Args>... args, nb::handle device,
              nb::handle policy) -> nb::object {
      const Policy p = resolve_policy(device, policy);
      if constexpr (std::is_void_v<R>) {
        {
          nb::gil_scoped_release unlocked;
          F(args..., p);
        }
        return nb::none();
      } else {
        std::optional<R> result;
        {
          nb::gil_scoped_release unlocked;
          result.emplace(F(args..., p));
        }
        return to_python(*result);
      }
    };
  }
  static auto fn() { return make(std::make_index_sequence<sizeof...(A) - 1>{}); }
};

template <auto F>
auto op() {
  return OpAdapter<F>::fn();
}

// op_lead<&f, I>(): the same callable with (device, policy) right after f's first I arguments
// and f's remaining ones after them (seed order: conv2d_nchw(x, w, b, sh, sw, ph, pw, device)).
template <auto F, std::size_t Lead, class Sig = decltype(F)>
struct OpAdapterLead;

template <auto F, std::size_t Lead, class R, class... A>
struct OpAdapterLead<F, Lead, R (*)(A...)> {
  using Args = std::tuple<A...>;
  template <std::size_t... I, std::size_t... J>
  static auto make(std::index_sequence<I...>, std::index_sequence<J...>) {
    return [](std::tuple_element_t<I, Args>... lead, nb::handle device, nb::handle policy,
              std::tuple_element_t<Lead + J, Args>... rest) -> nb::object {
      return OpAdapter<F>::fn()(lead..., rest..., device, policy);
    };
  }
  static auto fn() {
    return make(std::make_index_sequence<Lead>{},
                std::make_index_sequence<sizeof...(A) - 1 - Lead>{});
  }
};

template <auto F, std::size_t Lead>
auto op_lead() {
  return OpAdapterLead<F, Lead>::fn();
}

}  // namespace lc::py

namespace nanobind::detail {

template <>
struct type_caster<lc::TensorView> {
  NB_TYPE_CASTER(lc::TensorView, const_name("numpy.ndarray"))

  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    try {
      value = lc::py::to_view(src);
      return true;
    } catch (...) {
      return false;
    }
  }
  static handle from_cpp(const lc::TensorView&, rv_policy, cleanup_list*) noexcept {
    PyErr_SetString(PyExc_TypeError, "TensorView is not returned to Python");
    return handle();
  }
};

template <>
struct type_caster<lc::py::ActivationName> {
  NB_TYPE_CASTER(lc::py::ActivationName, const_name("str"))

  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    if (PyUnicode_Check(src.ptr())) {
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(src.ptr(), &n);
      if (!s) {
        PyErr_Clear();
        return false;
      }
      value.name.assign(s, static_cast<std::size_t>(n));
    } else {
      value.name = std::string("<") + Py_TYPE(src.ptr())->tp_name + ">";
    }
    return true;
  }
  static handle from_cpp(const lc::py::ActivationName& a, rv_policy, cleanup_list*) noexcept {
    return PyUnicode_FromStringAndSize(a.name.data(), static_cast<Py_ssize_t>(a.name.size()));
  }
};

}  // namespace nanobind::detail
