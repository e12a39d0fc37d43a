// Element types and the one helper that dispatches on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace lc {

enum class DType : std::uint8_t { f32, f64 };

constexpr std::size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }
constexpr const char* dtype_name(DType d) { return d == DType::f32 ? "float32" : "float64"; }

template <class T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double only");
  return std::is_same_v<T, float> ? DType::f32 : DType::f64;
}

// Calls f(T{}) with T = float or double, matching `d`.
template <class F>
decltype(auto) dispatch_float(DType d, F&& f) {
  if (d == DType::f64) return f(double{});
  return f(float{});
}

}  // namespace lc
