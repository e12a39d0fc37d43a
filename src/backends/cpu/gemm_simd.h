// SIMD traits for the GEMM micro-kernels: one struct per element type, for the widest ISA this
// build targets (AVX-512 here with -march=native; AVX2; scalar in a portable build). Each gives
// the register tile (kMR rows x kNV vectors) that fits its register file, and the epilogue math.
#pragma once

#include <cmath>
#include <cstdint>

#include "backends/cpu/elementwise.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace lc::cpu::gemm_detail {

// GELU, exact erf form (PyTorch's default), x/2 * erfc(-x/sqrt(2)): the gelu op's own functor,
// so linear(..., gelu) and gelu(linear(...)) agree; accurate in the negative tail too.
template <class T, class V>
inline V gelu_vec(V x) {
  using Pack = simd::vec<T, static_cast<int>(sizeof(V) / sizeof(T))>;
  return (V)ew::Gelu{}((Pack)x);
}

template <class T>
inline T gelu_scalar(T x) {
  return T(0.5) * x * std::erfc(x * T(-0.70710678118654752440));
}

template <class T>
struct Simd;

#if defined(__AVX512F__)

template <>
struct Simd<float> {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kMR = 14, kNV = 2;  // 14x32 tile: 28 accumulators + 2 B vectors
  static constexpr int kWideAcc = 24;      // accumulators of a 1..4-row wide tile
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }  // n in [1, 16]
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // Compare and blend: _mm512_max_ps trips GCC 12's -Wmaybe-uninitialized.
  static V relu(V x) {  // x < 0 -> 0; NaN stays NaN
    return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, zero(), _CMP_LT_OQ), zero());
  }
  static V gelu(V x) { return gelu_vec<T>(x); }
};

template <>
struct Simd<double> {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  static constexpr int kMR = 14, kNV = 2;  // 14x16 tile
  static constexpr int kWideAcc = 24;
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V relu(V x) {
    return _mm512_mask_mov_pd(x, _mm512_cmp_pd_mask(x, zero(), _CMP_LT_OQ), zero());
  }
  static V gelu(V x) { return gelu_vec<T>(x); }
};

#elif defined(__AVX2__) && defined(__FMA__)

// Lane masks are integer vectors for maskload/maskstore.
template <>
struct Simd<float> {
  using T = float;
  using V = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static constexpr int kMR = 6, kNV = 2;  // 6x16 tile: 12 accumulators of 16 registers
  static constexpr int kWideAcc = 12;
  static Mask mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V load(const T* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(T* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V relu(V x) { return _mm256_max_ps(zero(), x); }
  static V gelu(V x) { return gelu_vec<T>(x); }
};

template <>
struct Simd<double> {
  using T = double;
  using V = __m256d;
  using Mask = __m256i;
  static constexpr int kLanes = 4;
  static constexpr int kMR = 6, kNV = 2;  // 6x8 tile
  static constexpr int kWideAcc = 12;
  static Mask mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V load(const T* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static void store(T* p, V v, Mask m) { _mm256_maskstore_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V relu(V x) { return _mm256_max_pd(zero(), x); }
  static V gelu(V x) { return gelu_vec<T>(x); }
};

#else

// Portable build: one lane per "vector"; a 4x4 tile the compiler keeps in registers.
template <class Elem>
struct ScalarSimd {
  using T = Elem;
  using V = Elem;
  using Mask = bool;
  static constexpr int kLanes = 1;
  static constexpr int kMR = 4, kNV = 4;
  static constexpr int kWideAcc = 0;  // no wide tiles: a scalar tile is already one column wide
  static Mask mask(int) { return true; }
  static V zero() { return T(0); }
  static V set1(T x) { return x; }
  static V bcast(const T* p) { return *p; }
  static V load(const T* p) { return *p; }
  static V load(const T* p, Mask) { return *p; }
  static void store(T* p, V v, Mask) { *p = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V mul(V a, V b) { return a * b; }
  static V add(V a, V b) { return a + b; }
  static V relu(V x) { return x < T(0) ? T(0) : x; }  // NaN stays NaN
  static V gelu(V x) { return gelu_scalar(x); }
};
template <>
struct Simd<float> : ScalarSimd<float> {};
template <>
struct Simd<double> : ScalarSimd<double> {};

#endif

}  // namespace lc::cpu::gemm_detail
