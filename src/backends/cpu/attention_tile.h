// Building blocks shared by the CPU attention kernels (attention.cpp, attention_backward.cpp):
// tile sizes, the causal mask, a register-blocked tile GEMM, key transposition and a workspace
// that lives on the stack for the usual head sizes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/cpu/simd_pack.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu::attn {

using std::int64_t;

template <class T>
using Vec = simd::vec<T>;
template <class T>
inline constexpr int kLanes = simd::lanes_v<Vec<T>>;

// Query rows per tile: every K/V tile loaded is reused by this many rows.
inline constexpr int64_t kBlockQ = 32;
// Keys per tile: a score row (64 floats) is four AVX-512 registers and the tile stays in L1.
inline constexpr int64_t kBlockK = 64;
// Below this many multiply-adds per thread, waking the pool costs more than it saves.
inline constexpr double kMinWorkPerPart = 1 << 18;

// Parts (threads) for `tasks` independent tasks of `work_per_task` multiply-adds each.
inline int parallel_parts_for(int64_t tasks, double work_per_task) {
  const double parts = static_cast<double>(tasks) * work_per_task / kMinWorkPerPart;
  return static_cast<int>(std::max(
      1.0, std::min({parts, static_cast<double>(tasks), static_cast<double>(num_threads())})));
}

// Runs task(t) for t in [0, tasks): on this thread when parts == 1 (no std::function, no
// heap), else round-robin over the pool so the cheap and dear causal tiles spread evenly.
template <class Task>
void run_tasks(int64_t tasks, int parts, const Task& task) {
  if (parts <= 1) {
    for (int64_t t = 0; t < tasks; ++t) task(t);
    return;
  }
  parallel_parts(parts, [&](int part) {
    for (int64_t t = part; t < tasks; t += parts) task(t);
  });
}

// Causal visibility, aligned bottom-right: query i sees keys [0, end(i)).
struct Mask {
  bool causal;
  int64_t sq, sk;
  int64_t end(int64_t i) const { return causal ? std::clamp<int64_t>(i + 1 + sk - sq, 0, sk) : sk; }
  // The first query that sees key j.
  int64_t first_query(int64_t j) const { return causal ? std::max<int64_t>(0, j - (sk - sq)) : 0; }
};

inline int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Scratch of n elements: on the stack up to kStack (the common head sizes), else the heap.
template <class T>
class Workspace {
 public:
  explicit Workspace(std::size_t n) : data_(n <= kStack ? stack_ : grow(n)) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  T* data() { return data_; }

 private:
  static constexpr std::size_t kStack = 16384;
  T* grow(std::size_t n) {
    heap_.resize(n);
    return heap_.data();
  }
  alignas(64) T stack_[kStack];
  std::vector<T> heap_;
  T* data_;
};

// s in every lane, as one broadcast instruction. (simd::splat computes V{} + s, an extra add;
// a lane-by-lane loop can become sixteen masked inserts once inlined.)
template <class V>
inline V broadcast(simd::elem_t<V> s) {
  using T = simd::elem_t<V>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) return (V)_mm512_set1_ps(s);
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, double>) return (V)_mm512_set1_pd(s);
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, float>) return (V)_mm256_set1_ps(s);
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, double>) return (V)_mm256_set1_pd(s);
#endif
#if defined(__SSE2__)
  if constexpr (sizeof(V) == 16 && std::is_same_v<T, float>) return (V)_mm_set1_ps(s);
  if constexpr (sizeof(V) == 16 && std::is_same_v<T, double>) return (V)_mm_set1_pd(s);
#endif
  return simd::splat<V>(s);
}

// C (R rows, NV vectors) (+)= A (R x k) @ B (k x NV*L); element (r, p) of A at a[r*rsa + p*csa].
// The R x NV accumulators stay in registers over the whole k loop.
template <class T, int R, int NV>
inline void gemm_block(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t ldb,
                       T* c, int64_t ldc, bool accumulate) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? simd::load<V>(c + r * ldc + v * L) : V{};
  for (int64_t p = 0; p < k; ++p) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = simd::load<V>(b + p * ldb + v * L);
    for (int r = 0; r < R; ++r) {
      const V av = broadcast<V>(a[r * rsa + p * csa]);
      for (int v = 0; v < NV; ++v) acc[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) simd::store(c + r * ldc + v * L, acc[r][v]);
}

template <class T, int R>
inline void gemm_rows(int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b,
                      int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  constexpr int L = kLanes<T>;
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L)
    gemm_block<T, R, 4>(k, a, rsa, csa, b + j, ldb, c + j, ldc, accumulate);
  switch ((n - j) / L) {
    case 3:
      gemm_block<T, R, 3>(k, a, rsa, csa, b + j, ldb, c + j, ldc, accumulate);
      j += 3 * L;
      break;
    case 2:
      gemm_block<T, R, 2>(k, a, rsa, csa, b + j, ldb, c + j, ldc, accumulate);
      j += 2 * L;
      break;
    case 1:
      gemm_block<T, R, 1>(k, a, rsa, csa, b + j, ldb, c + j, ldc, accumulate);
      j += L;
      break;
    default:
      break;
  }
  for (; j < n; ++j)  // the last n % L columns
    for (int r = 0; r < R; ++r) {
      T s = accumulate ? c[r * ldc + j] : T(0);
      for (int64_t p = 0; p < k; ++p) s += a[r * rsa + p * csa] * b[p * ldb + j];
      c[r * ldc + j] = s;
    }
}

// C (m x n, ldc) (+)= A (m x k; element (r, p) at a[r*rsa + p*csa]) @ B (k x n, ldb).
// A may be read transposed (rsa = 1), which the backward pass uses for P^T and dS^T.
template <class T>
void gemm_tile(int64_t m, int64_t n, int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b,
               int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  int64_t r = 0;
  for (; r + 4 <= m; r += 4)
    gemm_rows<T, 4>(n, k, a + r * rsa, rsa, csa, b, ldb, c + r * ldc, ldc, accumulate);
  switch (m - r) {
    case 3:
      gemm_rows<T, 3>(n, k, a + r * rsa, rsa, csa, b, ldb, c + r * ldc, ldc, accumulate);
      break;
    case 2:
      gemm_rows<T, 2>(n, k, a + r * rsa, rsa, csa, b, ldb, c + r * ldc, ldc, accumulate);
      break;
    case 1:
      gemm_rows<T, 1>(n, k, a + r * rsa, rsa, csa, b, ldb, c + r * ldc, ldc, accumulate);
      break;
    default:
      break;
  }
}

// dst (cols x ldd) = src (rows x cols, row stride `cols`) transposed; columns [rows, ldd) zero.
template <class T>
void transpose_into(const T* src, int64_t rows, int64_t cols, T* dst, int64_t ldd) {
  for (int64_t c = 0; c < cols; ++c) {
    T* d = dst + c * ldd;
    for (int64_t r = 0; r < rows; ++r) d[r] = src[r * cols + c];
    std::fill(d + rows, d + ldd, T(0));
  }
}

// Horizontal max (NaN wins, as np.max) and sum by halving the vector: log2(L) steps without
// branches; the lane-by-lane loops of simd_pack.h mispredict on random data.
template <class V>
inline simd::elem_t<V> reduce_max(V v) {
  using T = simd::elem_t<V>;
  constexpr int L = simd::lanes_v<V>;
  if constexpr (L == 2) {
    return (v[1] > v[0] || v[1] != v[1]) ? v[1] : v[0];
  } else {
    using H = simd::vec<T, L / 2>;
    H lo, hi;
    std::memcpy(&lo, &v, sizeof(H));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(H), sizeof(H));
    return reduce_max(simd::max_nan<H>(lo, hi));
  }
}
template <class V>
inline simd::elem_t<V> reduce_sum(V v) {
  using T = simd::elem_t<V>;
  constexpr int L = simd::lanes_v<V>;
  if constexpr (L == 2) {
    return v[0] + v[1];
  } else {
    using H = simd::vec<T, L / 2>;
    H lo, hi;
    std::memcpy(&lo, &v, sizeof(H));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(H), sizeof(H));
    return reduce_sum(lo + hi);
  }
}

// Whether x[0..n) holds no inf or NaN (0 * x is NaN exactly for those).
template <class T>
bool all_finite(const T* x, int64_t n) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  V acc{};
  int64_t i = 0;
  for (; i + L <= n; i += L) acc += simd::load<V>(x + i) * T(0);
  T tail = 0;
  for (; i < n; ++i) tail += x[i] * T(0);
  return reduce_sum(acc) + tail == T(0);
}

// Lane indices 0, 1, ..., L-1.
template <class T>
inline Vec<T> lane_index() {
  Vec<T> v{};
  for (int i = 0; i < kLanes<T>; ++i) v[i] = static_cast<T>(i);
  return v;
}

// The problem in elements: q (B,H,Sq,D), k (B,Hkv,Sk,D), v (B,Hkv,Sk,Dv), out (B,H,Sq,Dv).
struct Geometry {
  int64_t b, h, hkv, sq, sk, d, dv;
  bool causal;
  double scale;
  // Set when causal and an input holds inf/NaN: then a masked product is skipped, since a zero
  // probability times inf is NaN. With finite inputs the zeros go through the tile GEMMs.
  bool exact_mask = false;
  Mask mask() const { return Mask{causal, sq, sk}; }
  int64_t group() const { return h / hkv; }  // query heads per key/value head
};

// Keys transposed per key/value head, (B*Hkv, D, ld) with ld = Sk rounded up to a vector, so
// a score tile is a plain GEMM; filled on the pool when large.
template <class T>
struct KeysT {
  std::vector<T> data;
  int64_t ld = 0;
};
template <class T>
void transpose_heads(const T* x, int64_t heads, int64_t rows, int64_t cols, KeysT<T>& out) {
  out.ld = round_up(std::max<int64_t>(rows, 1), kLanes<T>);
  out.data.resize(static_cast<std::size_t>(heads * cols * out.ld));
  run_tasks(heads, parallel_parts_for(heads, static_cast<double>(rows * cols)), [&](int64_t hh) {
    transpose_into(x + hh * rows * cols, rows, cols, out.data.data() + hh * cols * out.ld, out.ld);
  });
}

// The forward pass (attention.cpp). kt: the keys from transpose_heads, or null to transpose
// each tile on the fly; lse: (B,H,Sq) row log-sum-exp (-inf for rows that see no key) or null.
template <class T>
void attention_forward(const Geometry& g, const T* q, const T* k, const T* v, T* out, T* lse,
                       const KeysT<T>* kt);

}  // namespace lc::cpu::attn
