// SIMD packs as GCC/Clang vector extensions: the compiler lowers them to AVX-512, AVX2 or SSE2
// as -march allows (a portable build is correct, only narrower). The math the kernels need
// (exp, erfc, tanh) is written branch-free so that it stays vectorised.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace lc::cpu::simd {

#if defined(__AVX512F__)
inline constexpr int kBytes = 64;
#elif defined(__AVX__)
inline constexpr int kBytes = 32;
#else
inline constexpr int kBytes = 16;
#endif

template <class T>
struct IntOf;
template <>
struct IntOf<float> {
  using type = std::int32_t;
};
template <>
struct IntOf<double> {
  using type = std::int64_t;
};

template <class T, int L>
struct VecType {
  typedef T type __attribute__((vector_size(L * sizeof(T))));
};

// L lanes of T; by default one native register.
template <class T, int L = kBytes / static_cast<int>(sizeof(T))>
using vec = typename VecType<T, L>::type;

template <class V>
using elem_t = std::decay_t<decltype(std::declval<V>()[0])>;
template <class V>
inline constexpr int lanes_v = static_cast<int>(sizeof(V) / sizeof(elem_t<V>));
// Lane masks (all ones / all zeros), as vector comparisons return them.
template <class V>
using mask_t = vec<typename IntOf<elem_t<V>>::type, lanes_v<V>>;

template <class V>
inline V splat(elem_t<V> s) {
  return V{} + s;
}
template <class V>
inline V load(const elem_t<V>* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store(elem_t<V>* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}
// The first n (< lanes) elements; the other lanes hold `fill`.
template <class V>
inline V load_partial(const elem_t<V>* p, int n, elem_t<V> fill = 0) {
  V v = splat<V>(fill);
  for (int i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
template <class V>
inline void store_partial(elem_t<V>* p, V v, int n) {
  for (int i = 0; i < n; ++i) p[i] = v[i];
}
// Lanes at p[0], p[stride], ... (n of them; the rest zero).
template <class V>
inline V load_strided(const elem_t<V>* p, std::int64_t stride, int n) {
  V v = {};
  for (int i = 0; i < n; ++i) v[i] = p[i * stride];
  return v;
}

template <class V>
inline V select(mask_t<V> m, V a, V b) {
  using M = mask_t<V>;
  return reinterpret_cast<V>((m & reinterpret_cast<M>(a)) | (~m & reinterpret_cast<M>(b)));
}
// The sign bit of every lane.
template <class V>
inline mask_t<V> sign_mask() {
  using I = elem_t<mask_t<V>>;
  return splat<mask_t<V>>(std::numeric_limits<I>::min());
}
template <class V>
inline V abs(V x) {
  using M = mask_t<V>;
  return reinterpret_cast<V>(reinterpret_cast<M>(x) & ~sign_mask<V>());
}
// |mag| with the sign of `sign`.
template <class V>
inline V copysign(V mag, V sign) {
  using M = mask_t<V>;
  const M s = sign_mask<V>();
  return reinterpret_cast<V>((reinterpret_cast<M>(mag) & ~s) | (reinterpret_cast<M>(sign) & s));
}
// max that propagates NaN from either side (np.max semantics).
template <class V>
inline V max_nan(V a, V b) {
  return select<V>((b > a) | (b != b), b, a);
}
template <class V>
inline elem_t<V> hmax_nan(V v) {
  elem_t<V> m = v[0];
  for (int i = 1; i < lanes_v<V>; ++i)
    if (v[i] > m || v[i] != v[i]) m = v[i];
  return m;
}
template <class V>
inline elem_t<V> hsum(V v) {
  elem_t<V> s = 0;
  for (int i = 0; i < lanes_v<V>; ++i) s += v[i];
  return s;
}
// f applied lane by lane (scalar libm), for float64 functions with no polynomial here.
template <class V, class F>
inline V map_lanes(V x, F f) {
  for (int i = 0; i < lanes_v<V>; ++i) x[i] = f(x[i]);
  return x;
}

// Square root: the hardware instruction where the register width has one (libm's sqrt keeps
// errno and would not vectorise), libm lane by lane otherwise.
template <class V>
inline V sqrt(V x) {
  using T = elem_t<V>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>)
    return (V)_mm512_mask_sqrt_ps((__m512)x, __mmask16(-1), (__m512)x);
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, double>)
    return (V)_mm512_mask_sqrt_pd((__m512d)x, __mmask8(-1), (__m512d)x);
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, float>) return (V)_mm256_sqrt_ps((__m256)x);
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, double>) return (V)_mm256_sqrt_pd((__m256d)x);
#endif
#if defined(__SSE2__)
  if constexpr (sizeof(V) == 16 && std::is_same_v<T, float>) return (V)_mm_sqrt_ps((__m128)x);
  if constexpr (sizeof(V) == 16 && std::is_same_v<T, double>) return (V)_mm_sqrt_pd((__m128d)x);
#endif
  return map_lanes(x, [](T s) { return std::sqrt(s); });
}

// 2^k for integer lanes k within the normal exponent range.
template <class V>
inline V pow2(mask_t<V> k) {
  using T = elem_t<V>;
  constexpr int kMant = std::numeric_limits<T>::digits - 1;
  constexpr int kBias = std::numeric_limits<T>::max_exponent - 1;
  return reinterpret_cast<V>((k + kBias) << kMant);
}

// e^x: Cody-Waite reduction to |r| <= ln2/2 and a polynomial (Cephes' expf for float, Taylor
// to r^13 for double); within 2 ulp. Overflows to inf, goes through the subnormals to 0, keeps
// NaN. The scale 2^n is applied in two halves so that neither leaves the normal range.
template <class V>
inline V exp(V x) {
  using T = elem_t<V>;
  using M = mask_t<V>;
  constexpr bool kF = std::is_same_v<T, float>;
  const T hi = kF ? T(89) : T(710), lo = kF ? T(-104) : T(-746);
  const T magic = kF ? T(12582912.0) : T(6755399441055744.0);  // 1.5 * 2^mantissa bits
  const T c1 = kF ? T(0.693359375) : T(6.93145751953125e-1);
  const T c2 = kF ? T(-2.12194440e-4) : T(1.42860682030941723212e-6);
  V xc = select<V>(x > hi, splat<V>(hi), x);
  xc = select<V>(xc < lo, splat<V>(lo), xc);
  const V n = (xc * T(1.4426950408889634) + magic) - magic;  // round to nearest
  const V r = (xc - n * c1) - n * c2;
  V p;
  if constexpr (kF) {
    p = splat<V>(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
  } else {
    constexpr double kInvFact[] = {1.0 / 6227020800.0,
                                   1.0 / 479001600.0,
                                   1.0 / 39916800.0,
                                   1.0 / 3628800.0,
                                   1.0 / 362880.0,
                                   1.0 / 40320.0,
                                   1.0 / 5040.0,
                                   1.0 / 720.0,
                                   1.0 / 120.0,
                                   1.0 / 24.0,
                                   1.0 / 6.0,
                                   0.5,
                                   1.0,
                                   1.0};
    p = splat<V>(kInvFact[0]);
    for (int i = 1; i < 14; ++i) p = p * r + kInvFact[i];
  }
  const M k = __builtin_convertvector(n, M);
  const M k1 = k >> 1;
  p = p * pow2<V>(k1) * pow2<V>(k - k1);
  return select<V>(x != x, x, p);
}

// erfc(x). float: Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere (no
// cancellation in the tails); double: libm lane by lane.
template <class V>
inline V erfc(V x) {
  using T = elem_t<V>;
  if constexpr (std::is_same_v<T, double>) {
    return map_lanes(x, [](double s) { return std::erfc(s); });
  } else {
    const V z = abs(x);
    const V t = 1.0f / (z * 0.5f + 1.0f);
    V p = splat<V>(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const V r = t * exp<V>(p - z * z);
    return select<V>(x < 0.0f, 2.0f - r, r);
  }
}

// tanh(x). float: Cephes' tanhf (odd polynomial below 0.625, 1 - 2/(e^2|x| + 1) above);
// double: libm lane by lane.
template <class V>
inline V tanh(V x) {
  using T = elem_t<V>;
  if constexpr (std::is_same_v<T, double>) {
    return map_lanes(x, [](double s) { return std::tanh(s); });
  } else {
    const V z = abs(x);
    const V big = 1.0f - 2.0f / (exp<V>(z + z) + 1.0f);
    const V s = x * x;
    V p = splat<V>(-5.70498872745e-3f);
    p = p * s + 2.06390887954e-2f;
    p = p * s - 5.37397155531e-2f;
    p = p * s + 1.33314422036e-1f;
    p = p * s - 3.33332819422e-1f;
    const V small = p * s * z + z;
    return copysign<V>(select<V>(z < 0.625f, small, big), x);
  }
}

}  // namespace lc::cpu::simd
