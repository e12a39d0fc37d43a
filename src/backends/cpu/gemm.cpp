// CPU GEMM, BLIS-style: B packed in NR-column panels, A in MR-row panels, blocked by KC/MC/NC
// for L1/L2/L3, a register tile from gemm_kernel.h. Small B (tiny shapes, skinny products)
// takes the direct path: A and B read in place; tiny shapes use no threads and no heap.
#include <algorithm>
#include <cstdlib>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm_blocking.h"
#include "backends/cpu/gemm_dot.h"
#include "backends/cpu/gemm_kernel.h"
#include "backends/cpu/gemm_pack.h"
#include "backends/cpu/gemm_stream.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

using namespace gemm_detail;

// One product c = alpha*op(a) @ op(b) + beta*c (+bias, act); a batch item.
template <class T>
struct Product {
  std::int64_t m, n, k;
  bool trans_a, trans_b;
  const T* a;
  const T* b;
  T* c;
  const T* bias;  // (n) or null
  TileEpilogue<T> ep;
  std::int64_t lda() const { return trans_a ? m : k; }
  std::int64_t ldb() const { return trans_b ? k : n; }
};

// B as the tiles see it: column block j0 at p + j0*col_scale, rows `ld` apart (the original
// row-major B, or NR-wide panels).
template <class T>
struct BView {
  const T* p;
  std::int64_t ld, col_scale;
  const T* at(std::int64_t j0) const { return p + j0 * col_scale; }
};

// A grow-only, 64-byte aligned scratch buffer per thread and slot: repeated calls allocate
// nothing after the first.
template <class T>
T* thread_buffer(int slot, std::int64_t elems) {
  struct Buffer {
    void* p = nullptr;
    std::size_t bytes = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buffers[2];
  Buffer& buf = buffers[slot];
  const std::size_t need =
      static_cast<std::size_t>(round_up(std::max<std::int64_t>(elems, 1) * sizeof(T), 64));
  if (buf.bytes < need) {
    std::free(buf.p);
    buf.p = std::aligned_alloc(64, need);
    buf.bytes = buf.p ? need : 0;
    if (!buf.p)
      fail<OutOfMemoryError>("gemm", "expected ", need, " bytes of packing scratch, got none");
  }
  return static_cast<T*>(buf.p);
}

// Rows [r0, r1) x columns [c0, c1) (c0 a multiple of NR) of the product, A read in place.
template <class T>
void direct_rows(const Product<T>& p, const BView<T>& b, std::int64_t r0, std::int64_t r1,
                 std::int64_t c0, std::int64_t c1) {
  using S = Simd<T>;
  constexpr int MR = S::kMR, NR = S::kNV * S::kLanes;
  TileEpilogue<T> ep = p.ep;
  for (std::int64_t i0 = r0; i0 < r1; i0 += MR) {
    const int mr = static_cast<int>(std::min<std::int64_t>(MR, r1 - i0));
    const T* a = p.trans_a ? p.a + i0 : p.a + i0 * p.k;
    std::int64_t j0 = c0;
    if (mr <= 4 && S::kWideAcc >= 4 && b.col_scale == 1) {  // few rows, B in place: wide tiles
      const int wide = wide_vectors<S>(mr) * S::kLanes;
      for (; j0 + wide <= c1; j0 += wide) {
        const TileArgs<T> t{p.k, a, p.lda(), b.at(j0), b.ld, p.c + i0 * p.n + j0, p.n, wide};
        ep.bias = p.bias ? p.bias + j0 : nullptr;
        if (p.trans_a)
          run_wide_tile<S, AMode::cols>(mr, t, ep);
        else
          run_wide_tile<S, AMode::rows>(mr, t, ep);
      }
    }
    for (; j0 < c1; j0 += NR) {
      const int nr = static_cast<int>(std::min<std::int64_t>(NR, c1 - j0));
      const TileArgs<T> t{p.k, a, p.lda(), b.at(j0), b.ld, p.c + i0 * p.n + j0, p.n, nr};
      ep.bias = p.bias ? p.bias + j0 : nullptr;
      if (p.trans_a)
        run_tile<S, AMode::cols>(mr, t, ep);
      else
        run_tile<S, AMode::rows>(mr, t, ep);
    }
  }
}

// Threads take row ranges, or column ranges when there are too few row tiles to share.
template <class T>
void direct_split(const Product<T>& p, const BView<T>& b, int threads) {
  constexpr int MR = Simd<T>::kMR, NR = Simd<T>::kNV * Simd<T>::kLanes;
  if (threads <= 1) return direct_rows(p, b, 0, p.m, 0, p.n);
  const bool by_rows = p.m >= 2 * MR * threads || p.n <= NR;
  const std::int64_t chunk =
      by_rows ? round_up(ceil_div(p.m, threads), MR) : round_up(ceil_div(p.n, threads), NR);
  parallel_parts(threads, [&](int part) {
    const std::int64_t e0 = part * chunk, e1 = std::min(by_rows ? p.m : p.n, e0 + chunk);
    if (e0 >= e1) return;
    if (by_rows)
      direct_rows(p, b, e0, e1, 0, p.n);
    else
      direct_rows(p, b, 0, p.m, e0, e1);
  });
}

template <class T>
void gemm_direct(const Product<T>& p, int threads) {
  using S = Simd<T>;
  constexpr int NR = S::kNV * S::kLanes;
  if (!p.trans_b) return direct_split(p, BView<T>{p.b, p.n, 1}, threads);
  alignas(64) T packed[kStackBytes / sizeof(T)];  // k * round_up(n, NR) fits (gemm_use_direct)
  pack_b<T, NR>(packed, p.b, p.k, true, p.n, p.k);
  direct_split(p, BView<T>{packed, NR, p.k}, threads);
}

// Whether the dot-product form can read b as rows w (N, K): stored transposed, a (K, 1)
// vector, or small enough to transpose on the stack.
template <class T>
bool w_rows_available(const Product<T>& p) {
  return p.trans_b || p.n == 1 || p.k * p.n * static_cast<std::int64_t>(sizeof(T)) <= kStackBytes;
}

// c = a @ w^T with w rows contiguous along K: dot products along K, columns split among
// threads.
template <class T>
void gemm_dot(const Product<T>& p, int threads) {
  using S = Simd<T>;
  constexpr auto kStackElems = static_cast<std::int64_t>(kStackBytes / sizeof(T));
  const T* a = p.a;
  const T* w = p.b;
  alignas(64) T a_small[kStackElems];
  alignas(64) T w_small[kStackElems];
  if (p.trans_a) {  // rows of a are needed: transpose the (K, M) store (tiny: on the stack)
    T* rows = p.m * p.k <= kStackElems ? a_small : thread_buffer<T>(0, p.m * p.k);
    transpose_into(rows, p.k, p.a, p.m, p.k, p.m);
    a = rows;
  }
  if (!p.trans_b && p.n > 1) {  // a small (K, N) b: its transpose on the stack
    transpose_into(w_small, p.k, p.b, p.n, p.k, p.n);
    w = w_small;
  }
  TileEpilogue<T> ep = p.ep;
  ep.bias = p.bias;  // (n), indexed by column
  auto cols = [&](std::int64_t c0, std::int64_t c1) {
    dot_product<S>(p.k, a, p.k, w, p.c, p.n, 0, p.m, c0, c1, ep);
  };
  if (threads <= 1) return cols(0, p.n);
  const std::int64_t chunk = round_up(ceil_div(p.n, threads), 4);  // dot blocks are 4 columns
  parallel_parts(threads, [&](int part) {
    const std::int64_t c0 = std::min(p.n, part * chunk), c1 = std::min(p.n, c0 + chunk);
    if (c0 < c1) cols(c0, c1);
  });
}

// Rows [r0, r1) x NR-panels [q0, q1) of one (jc, pc) block, B already packed in `bpack`.
template <class T>
void packed_block(const Product<T>& p, const Blocking& bl, const T* bpack, std::int64_t j0,
                  std::int64_t ncur, std::int64_t p0, std::int64_t kcur, const TileEpilogue<T>& ep0,
                  std::int64_t r0, std::int64_t r1, std::int64_t q0, std::int64_t q1) {
  using S = Simd<T>;
  constexpr int MR = S::kMR, NR = S::kNV * S::kLanes;
  T* apack = thread_buffer<T>(0, bl.mc * std::max<std::int64_t>(kcur, 1));
  TileEpilogue<T> ep = ep0;
  for (std::int64_t i0 = r0; i0 < r1; i0 += bl.mc) {
    const std::int64_t mcur = std::min(bl.mc, r1 - i0);
    const T* a = p.trans_a ? p.a + p0 * p.m + i0 : p.a + i0 * p.k + p0;
    pack_a<T, MR>(apack, a, p.lda(), p.trans_a, mcur, kcur);
    for (std::int64_t q = q0; q < q1; ++q) {
      const std::int64_t jc = q * NR;
      const int nr = static_cast<int>(std::min<std::int64_t>(NR, ncur - jc));
      ep.bias = p.bias ? p.bias + j0 + jc : nullptr;
      for (std::int64_t ir = 0; ir < mcur; ir += MR) {
        const int mr = static_cast<int>(std::min<std::int64_t>(MR, mcur - ir));
        const TileArgs<T> t{
            kcur, apack + ir * kcur, 0, bpack + jc * kcur, NR, p.c + (i0 + ir) * p.n + j0 + jc, p.n,
            nr};
        run_tile<S, AMode::packed>(mr, t, ep);
      }
    }
  }
}

// The packed path over (jc, pc) blocks. With threads, B panels are double-buffered: each
// parallel region computes block b (rows, or columns, per thread) and packs its share of
// block b + 1, so one fork-join per block separates packing from use.
template <class T>
void gemm_packed(const Product<T>& p, int threads) {
  using S = Simd<T>;
  constexpr int MR = S::kMR, NR = S::kNV * S::kLanes;
  const Blocking bl = gemm_blocking(p.m, p.n, p.k, MR, NR, sizeof(T));
  const Split split = threads > 1 ? gemm_split(p.m, p.n, threads, MR, NR) : Split{1, 1};
  const std::int64_t k_blocks =
      p.k > 0 ? ceil_div(p.k, bl.kc) : 1;  // K = 0: one pass, C = beta*C + bias
  const std::int64_t blocks = ceil_div(p.n, bl.nc) * k_blocks;
  const std::int64_t panel_elems = std::max<std::int64_t>(bl.kc, 1) * bl.nc;
  T* bufs = thread_buffer<T>(1, (threads > 1 ? 2 : 1) * panel_elems);

  struct Block {
    std::int64_t j0, ncur, panels, p0, kcur;
    T* bpack;
  };
  auto block = [&](std::int64_t b) {
    Block blk;
    blk.j0 = b / k_blocks * bl.nc;
    blk.ncur = std::min(bl.nc, p.n - blk.j0);
    blk.panels = ceil_div(blk.ncur, NR);
    blk.p0 = b % k_blocks * bl.kc;
    blk.kcur = std::min(bl.kc, p.k - blk.p0);
    blk.bpack = bufs + (threads > 1 ? b % 2 : 0) * panel_elems;
    return blk;
  };
  // Panels [part/parts] of block b into its buffer.
  auto pack = [&](std::int64_t b, int part, int parts) {
    const Block blk = block(b);
    const std::int64_t per = ceil_div(blk.panels, parts);
    const std::int64_t q0 = std::min(blk.panels, part * per), q1 = std::min(blk.panels, q0 + per);
    if (q0 >= q1) return;
    const T* src =
        p.trans_b ? p.b + (blk.j0 + q0 * NR) * p.k + blk.p0 : p.b + blk.p0 * p.n + blk.j0 + q0 * NR;
    pack_b<T, NR>(blk.bpack + q0 * NR * blk.kcur, src, p.ldb(), p.trans_b,
                  std::min(blk.ncur, q1 * NR) - q0 * NR, blk.kcur);
  };
  const std::int64_t rows = round_up(ceil_div(p.m, split.parts_m), MR);
  auto compute = [&](std::int64_t b, int part) {
    const Block blk = block(b);
    TileEpilogue<T> ep = p.ep;
    ep.first = blk.p0 == 0;
    ep.last = blk.p0 + blk.kcur >= p.k;
    const std::int64_t cols = ceil_div(blk.panels, split.parts_n);
    const std::int64_t r0 = std::min(p.m, (part / split.parts_n) * rows);
    const std::int64_t q0 = std::min(blk.panels, (part % split.parts_n) * cols);
    const std::int64_t r1 = std::min(p.m, r0 + rows), q1 = std::min(blk.panels, q0 + cols);
    if (r0 < r1 && q0 < q1)
      packed_block(p, bl, blk.bpack, blk.j0, blk.ncur, blk.p0, blk.kcur, ep, r0, r1, q0, q1);
  };

  if (threads <= 1) {
    for (std::int64_t b = 0; b < blocks; ++b) {
      pack(b, 0, 1);
      compute(b, 0);
    }
    return;
  }
  parallel_parts(threads, [&](int part) { pack(0, part, threads); });
  for (std::int64_t b = 0; b < blocks; ++b)
    parallel_parts(threads, [&](int part) {
      compute(b, part);
      if (b + 1 < blocks) pack(b + 1, part, threads);
    });
}

// A few rows of A against a row-major B: B streamed by rows (gemm_stream.h), columns split
// among threads.
template <class T>
void gemm_stream(const Product<T>& p, int threads) {
  using S = Simd<T>;
  TileEpilogue<T> ep = p.ep;
  ep.bias = p.bias;                                  // (n), indexed by column
  const auto kernel = stream_kernels<S>()[p.m - 1];  // m in [1, kStreamRows]
  auto cols = [&](std::int64_t c0, std::int64_t c1) {
    kernel(p.n, p.k, p.a, p.b, p.c, c0, c1, ep);
  };
  if (threads <= 1) return cols(0, p.n);
  const std::int64_t chunk = round_up(ceil_div(p.n, threads), S::kLanes);
  parallel_parts(threads, [&](int part) {
    const std::int64_t c0 = part * chunk, c1 = std::min(p.n, c0 + chunk);
    if (c0 < c1) cols(c0, c1);
  });
}

enum class Path { stream, direct, dot, packed };

template <class T>
Path choose_path(const Product<T>& p) {
  constexpr int NR = Simd<T>::kNV * Simd<T>::kLanes;
  if (gemm_use_stream(p.m, p.n, p.k, p.trans_a, p.trans_b)) return Path::stream;
  const bool direct = gemm_use_direct(p.m, p.n, p.k, p.trans_b, Simd<T>::kMR, NR, sizeof(T));
  if (w_rows_available(p) && gemm_use_dot(p.m, p.n, p.k, direct)) return Path::dot;
  return direct ? Path::direct : Path::packed;
}

// Threads worth using for one product (its parallel regions each cost a fork-join).
template <class T>
int product_threads(const Product<T>& p, Path path, int max_threads) {
  using S = Simd<T>;
  std::int64_t regions = 1;
  if (path == Path::packed) {
    const Blocking bl = gemm_blocking(p.m, p.n, p.k, S::kMR, S::kNV * S::kLanes, sizeof(T));
    regions = ceil_div(p.n, bl.nc) * (p.k > 0 ? ceil_div(p.k, bl.kc) : 1) + 1;
  }
  const double m = static_cast<double>(p.m), n = static_cast<double>(p.n),
               k = static_cast<double>(p.k);
  return gemm_threads(2.0 * m * n * k, (m * k + k * n + m * n) * sizeof(T), regions, max_threads);
}

template <class T>
void gemm_product(const Product<T>& p, int max_threads) {
  const Path path = choose_path(p);
  const int threads = product_threads(p, path, max_threads);
  if (path == Path::stream)
    gemm_stream(p, threads);
  else if (path == Path::direct)
    gemm_direct(p, threads);
  else if (path == Path::dot)
    gemm_dot(p, threads);
  else
    gemm_packed(p, threads);
}

template <class T>
void gemm_typed(const backend::GemmProblem& gp) {
  if (gp.batch <= 0 || gp.m <= 0 || gp.n <= 0) return;
  // Matrix-vector products (N = 1) with a stored transposed: c^T (1, M) = b^T @ a_stored is a
  // row times a row-major matrix (same memory as c; a one-element bias would not index right).
  const bool swap = gp.n == 1 && gp.trans_a && !gp.bias;
  Product<T> p{gp.m,       gp.n,       gp.k,
               gp.trans_a, gp.trans_b, nullptr,
               nullptr,    nullptr,    static_cast<const T*>(gp.bias),
               {}};
  if (swap) {
    p.m = 1;
    p.n = gp.m;
    p.trans_a = p.trans_b = false;
  }
  p.ep.alpha = static_cast<T>(gp.alpha);
  p.ep.beta = static_cast<T>(gp.beta);
  p.ep.act = gp.act;
  auto item = [&](std::int64_t bi) {
    Product<T> q = p;
    const T* a = static_cast<const T*>(gp.a) + bi * gp.stride_a;
    const T* b = static_cast<const T*>(gp.b) + bi * gp.stride_b;
    q.a = swap ? b : a;
    q.b = swap ? a : b;
    q.c = static_cast<T*>(gp.c) + bi * gp.stride_c;
    return q;
  };
  const int max_threads = num_threads();
  if (gp.batch == 1) return gemm_product(item(0), max_threads);
  const double item_flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) *
                            static_cast<double>(std::max<std::int64_t>(p.k, 1));
  const int item_threads = product_threads(p, choose_path(p), max_threads);
  if (gemm_batch_parallel(gp.batch, item_flops, item_threads, max_threads)) {
    const auto grain = static_cast<std::int64_t>(std::max(1.0, 2.0 * kForkJoinFlops / item_flops));
    parallel_for(gp.batch, grain, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t bi = b0; bi < b1; ++bi) gemm_product(item(bi), 1);
    });
    return;
  }
  for (std::int64_t bi = 0; bi < gp.batch; ++bi) gemm_product(item(bi), max_threads);
}

}  // namespace

void gemm(const backend::GemmProblem& p) {
  dispatch_float(p.dtype, [&](auto tag) { gemm_typed<decltype(tag)>(p); });
}

}  // namespace lc::cpu
