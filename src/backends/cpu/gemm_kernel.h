// The GEMM register tile: an M x (NV vectors) block of C accumulated over k in registers, then
// written back once with alpha/beta, bias and the activation. M and NV are template constants
// (a table holds every edge size), so edge tiles never touch memory outside C, A or B.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "backends/cpu/gemm_simd.h"
#include "lightning_core/ops.h"

namespace lc::cpu::gemm_detail {

// How the tile reads A(i, l): packed micro-panel (p[l*MR + i]), columns of a stored A^T
// (p[l*lda + i]), or rows of a stored A (p[i*lda + l]).
enum class AMode { packed, cols, rows };

// The part of the epilogue a tile needs. `first`: the first K block (beta applies, C is not
// read when beta == 0); `last`: the last K block (bias and activation apply).
template <class T>
struct TileEpilogue {
  T alpha = 1, beta = 0;
  bool first = true, last = true;
  const T* bias = nullptr;  // at the tile's first column
  Activation act = Activation::none;
};

// Arguments of one tile. B rows are `ldb` apart; their first `n` columns are valid.
template <class T>
struct TileArgs {
  std::int64_t k;
  const T* a;
  std::int64_t lda;  // unused for AMode::packed
  const T* b;
  std::int64_t ldb;
  T* c;
  std::int64_t ldc;
  int n;  // valid columns, 1..NV*lanes
};

// GELU over a finished tile, out of line: inlined per accumulator it would make every tile
// several times larger for an epilogue that runs once per K pass.
template <class S>
__attribute__((noinline)) void gelu_tile(typename S::T* c, std::int64_t ldc, int rows, int n) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < n; j += S::kLanes) {
      const auto m = S::mask(std::min(S::kLanes, n - j));
      S::store(c + i * ldc + j, S::gelu(S::load(c + i * ldc + j, m)), m);
    }
}

template <class S, int M, int NV, AMode Mode>
void micro_tile(const TileArgs<typename S::T>& t, const TileEpilogue<typename S::T>& ep) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int L = S::kLanes;
  constexpr int MR = S::kMR;
  const auto last_mask = S::mask(t.n - (NV - 1) * L);

  V acc[M][NV];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 32
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();

      // The C tile is touched only at the end; start bringing its lines in now, to L2: rows a
      // power-of-two apart share an L1 set and would evict each other there.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 32
    for (int v = 0; v < (NV * L * static_cast<int>(sizeof(T)) + 63) / 64; ++v)
      __builtin_prefetch(t.c + i * t.ldc + v * 64 / static_cast<int>(sizeof(T)), 0, 2);

  const T* a = t.a;
  const T* b = t.b;
  const std::int64_t lda = t.lda, ldb = t.ldb;
  const std::int64_t a_step = Mode == AMode::packed ? MR : Mode == AMode::cols ? lda : 1;
#pragma GCC unroll 2
  for (std::int64_t l = 0; l < t.k; ++l) {
    if constexpr (M < NV) {
      // Wide tile: the few broadcasts first, then each B vector straight into its FMAs.
      V ai[M];
#pragma GCC unroll 16
      for (int i = 0; i < M; ++i) ai[i] = S::bcast(Mode == AMode::rows ? a + i * lda : a + i);
#pragma GCC unroll 32
      for (int v = 0; v < NV; ++v) {
        const V bv = v == NV - 1 ? S::load(b + v * L, last_mask) : S::load(b + v * L);
#pragma GCC unroll 16
        for (int i = 0; i < M; ++i) acc[i][v] = S::fma(ai[i], bv, acc[i][v]);
      }
    } else {
      V bv[NV];
#pragma GCC unroll 32
      for (int v = 0; v < NV; ++v)
        bv[v] = v == NV - 1 ? S::load(b + v * L, last_mask) : S::load(b + v * L);
#pragma GCC unroll 16
      for (int i = 0; i < M; ++i) {
        const V ai = S::bcast(Mode == AMode::rows ? a + i * lda : a + i);
#pragma GCC unroll 32
        for (int v = 0; v < NV; ++v) acc[i][v] = S::fma(ai, bv[v], acc[i][v]);
      }
    }
    a += a_step;
    b += ldb;
  }

  // Write back: C = alpha*acc + beta*C on the first K block, C += alpha*acc after it.
  const V alpha = S::set1(ep.alpha), beta = S::set1(ep.beta);
  const bool read_c = !ep.first || ep.beta != T(0);
  const bool accumulate = !ep.first;
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    T* c = t.c + i * t.ldc;
#pragma GCC unroll 32
    for (int v = 0; v < NV; ++v) {
      const auto m = v == NV - 1 ? last_mask : S::mask(L);
      V r = S::mul(acc[i][v], alpha);
      if (read_c) {
        const V old = S::load(c + v * L, m);
        r = accumulate ? S::add(r, old) : S::fma(beta, old, r);
      }
      if (ep.last) {
        if (ep.bias) r = S::add(r, S::load(ep.bias + v * L, m));
        if (ep.act == Activation::relu) r = S::relu(r);
      }
      S::store(c + v * L, r, m);
    }
  }
  if (ep.last && ep.act == Activation::gelu) gelu_tile<S>(t.c, t.ldc, M, t.n);
}

template <class S, AMode Mode>
using TileFn = void (*)(const TileArgs<typename S::T>&, const TileEpilogue<typename S::T>&);

template <class S, AMode Mode, int M, int... NV>
constexpr void fill_row(TileFn<S, Mode> (&row)[S::kNV], std::integer_sequence<int, NV...>) {
  ((row[NV] = &micro_tile<S, M + 1, NV + 1, Mode>), ...);
}

// fn[m - 1][nv - 1] for m in [1, MR], nv in [1, NV].
template <class S, AMode Mode>
struct Tiles {
  TileFn<S, Mode> fn[S::kMR][S::kNV] = {};
  template <int... M>
  constexpr explicit Tiles(std::integer_sequence<int, M...>) {
    (fill_row<S, Mode, M>(fn[M], std::make_integer_sequence<int, S::kNV>{}), ...);
  }
};

// Runs the tile of m rows (1..MR) and n columns (1..NV*lanes).
template <class S, AMode Mode>
inline void run_tile(int m, const TileArgs<typename S::T>& t,
                     const TileEpilogue<typename S::T>& ep) {
  static constexpr Tiles<S, Mode> kTiles(std::make_integer_sequence<int, S::kMR>{});
  const int nv = (t.n + S::kLanes - 1) / S::kLanes;
  kTiles.fn[m - 1][nv - 1](t, ep);
}

// Wide tiles for 1..4 rows: kWideAcc / m vectors of columns, so that a row or two of A against
// a large B reads each B row in long contiguous runs instead of NR-wide strips.
template <class S>
constexpr int wide_vectors(int m) {
  return S::kWideAcc / m;
}

// The tile of m (1..4) rows and exactly wide_vectors(m) * lanes columns.
template <class S, AMode Mode>
inline void run_wide_tile(int m, const TileArgs<typename S::T>& t,
                          const TileEpilogue<typename S::T>& ep) {
  if constexpr (S::kWideAcc >= 4) {
    switch (m) {
      case 1:
        return micro_tile<S, 1, wide_vectors<S>(1), Mode>(t, ep);
      case 2:
        return micro_tile<S, 2, wide_vectors<S>(2), Mode>(t, ep);
      case 3:
        return micro_tile<S, 3, wide_vectors<S>(3), Mode>(t, ep);
      default:
        return micro_tile<S, 4, wide_vectors<S>(4), Mode>(t, ep);
    }
  }
}

}  // namespace lc::cpu::gemm_detail
