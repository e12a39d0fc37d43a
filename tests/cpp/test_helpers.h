// Shared helpers for the C++ tests: random data, float64 references, relative error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lightning_core/lightning_core.h"

namespace lc::test {

// A fresh seed per call (printed by the test on failure through SCOPED_TRACE).
inline std::uint64_t fresh_seed() { return std::random_device{}(); }

// Tensor of uniform values in [-1, 1).
inline Tensor random_tensor(Shape shape, std::mt19937_64& rng, DType dtype = DType::f32) {
  Tensor t(shape, dtype);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  dispatch_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(u(rng));
  });
  return t;
}

// Fills with NaN so an element the op forgets to write fails the comparison.
inline void poison(const Tensor& t) {
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<T>()[i] = std::numeric_limits<T>::quiet_NaN();
  });
}

inline std::vector<double> to_f64(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = t.data<T>()[i];
  });
  return v;
}

// ||out - ref|| / ||ref|| (Frobenius); NaN anywhere gives +inf.
inline double rel_err(const Tensor& out, const std::vector<double>& ref) {
  auto o = to_f64(out);
  if (o.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (std::isnan(o[i]) != std::isnan(ref[i])) return std::numeric_limits<double>::infinity();
    if (std::isnan(o[i])) continue;
    num += (o[i] - ref[i]) * (o[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// rel_err with the denominator floored at `floor_rms` * sqrt(n): for O(1) results (gate outputs)
// whose terms can cancel to ~0, where float32 holds 1e-5 of the terms, not of the result.
inline double rel_err_floor(const Tensor& out, const std::vector<double>& ref, double floor_rms) {
  double den = 0;
  for (double r : ref) den += r * r;
  const double floor = floor_rms * std::sqrt(static_cast<double>(ref.size()));
  const double e = rel_err(out, ref);
  return std::isinf(e) || den == 0 ? e : e * std::sqrt(den) / std::max(std::sqrt(den), floor);
}

// Expects f() to throw E with a message starting with `prefix`.
template <class E, class F>
void expect_error_prefix(F&& f, const std::string& prefix) {
  try {
    f();
    ADD_FAILURE() << "no exception starting with " << prefix;
  } catch (const E& e) {
    EXPECT_EQ(std::string(e.what()).rfind(prefix, 0), 0u) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception for " << prefix << ": " << e.what();
  }
}

// Expects f() to throw E with a message starting "[op] expected".
template <class E, class F>
void expect_error(F&& f, const std::string& op) {
  expect_error_prefix<E>(std::forward<F>(f), "[" + op + "] expected");
}

inline bool all_nan(const Tensor& t) {
  for (double v : to_f64(t))
    if (!std::isnan(v)) return false;
  return true;
}

inline Policy cpu_policy() { return Policy{}.with_device("cpu"); }

}  // namespace lc::test
