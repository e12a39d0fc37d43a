// GEMM plan heuristics: pure functions of the shape (and the machine's cache sizes, fixed
// here for the AVX-512 tiles), testable on their own.
#pragma once

#include <algorithm>
#include <cstdint>

namespace lc::cpu::gemm_detail {

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

// One fork-join of the thread pool costs ~30 us on this machine (a sleeping worker is woken
// through the kernel, then the caller), about this many flops of one core's work.
inline constexpr double kForkJoinFlops = 8e6;
// Bytes of B a packed-on-the-stack copy may take (tiny trans_b problems: no heap).
inline constexpr std::int64_t kStackBytes = 32 * 1024;

// Memory traffic in flop-equivalents: ~250 GFLOP/s of FMA per core against tens of GB/s
// from L3/DRAM, so a byte moved costs about as much time as 8 flops.
inline constexpr double kByteFlops = 8.0;

// Threads for work of `flops` moving `bytes` in `regions` parallel regions: a second thread
// halves the work and adds a fork-join per region, so it pays off above 2 fork-joins' worth
// per region.
inline int gemm_threads(double flops, double bytes, std::int64_t regions, int max_threads) {
  const double work = flops + kByteFlops * bytes;
  const double per_region = 2.0 * kForkJoinFlops * static_cast<double>(regions);
  if (max_threads <= 1 || work < per_region) return 1;
  return static_cast<int>(std::min<double>(max_threads, work / per_region));
}

// Whether a batch runs whole items per thread (each item on one thread) instead of item after
// item with every thread on each: when items are too small to split, or divide evenly.
inline bool gemm_batch_parallel(std::int64_t batch, double item_flops, int item_threads,
                                int max_threads) {
  if (batch <= 1 || max_threads <= 1) return false;
  if (static_cast<double>(batch) * item_flops < 2.0 * kForkJoinFlops) return false;
  if (item_threads < max_threads) return true;
  return batch % max_threads == 0 || batch >= 4 * max_threads;
}

// The direct path reads A and B in place (B packed once on the stack when transposed): right
// when B stays in L2 across the row tiles (half of it: threads each read all of B) and A's row
// tile stays in L1, or when there are so few row tiles that B streams by only a few times
// (packing it would read it, write it and read it again). It has one parallel region, the
// packed path one per (jc, pc) block.
inline bool gemm_use_direct(std::int64_t m, std::int64_t n, std::int64_t k, bool trans_b, int mr,
                            int nr, std::size_t elem) {
  const auto e = static_cast<std::int64_t>(elem);
  if (trans_b) return k * round_up(n, nr) * e <= kStackBytes;
  return (k * n * e <= 512 * 1024 && k * e <= 2048) || m <= 3 * mr;
}

// The dot-product form for op(b) = w^T (w rows contiguous along K): right for a few columns
// (a 16-lane tile would be mostly idle) unless K is too short to fill a vector, and, past the
// direct path's sizes, for a few rows of a (packing w^T would cost about as much as the product).
inline bool gemm_use_dot(std::int64_t m, std::int64_t n, std::int64_t k, bool direct) {
  return (n <= 4 && k >= 16) || (!direct && m <= 16);
}

// Cache blocking of the packed path. kc: long K blocks (the B micro-panel, kc x NR = 64 KiB,
// streams from L2 at a fraction of its bandwidth) so C is read and written once per 512 of K,
// measured ~8% faster at 1024^3 than an L1-sized 256; mc: the packed A block (mc x kc) in a
// quarter of L2; nc: the packed B panel (kc x nc) in a share of L3.
struct Blocking {
  std::int64_t mc, kc, nc;
};

inline Blocking gemm_blocking(std::int64_t m, std::int64_t n, std::int64_t k, int mr, int nr,
                              std::size_t elem) {
  const auto e = static_cast<std::int64_t>(elem);
  const std::int64_t kc_max = std::max<std::int64_t>(64 * 1024 / (nr * e), 16);
  const std::int64_t kc = k <= 0 ? 0 : ceil_div(k, ceil_div(k, kc_max));  // equal K blocks
  const std::int64_t kc1 = std::max<std::int64_t>(kc, 1);
  const std::int64_t mc_max = std::max<std::int64_t>(256 * 1024 / (kc1 * e) / mr * mr, mr);
  const std::int64_t mc = round_up(ceil_div(m, ceil_div(m, mc_max)), mr);
  const std::int64_t nc_max = std::max<std::int64_t>(4 * 1024 * 1024 / (kc1 * e) / nr * nr, nr);
  const std::int64_t nc = std::min(round_up(n, nr), nc_max);
  return {mc, kc, nc};
}

// How `threads` split one product: parts_m row ranges (MR-aligned) x parts_n column ranges
// (NR-panel-aligned), choosing the split whose largest part is smallest.
struct Split {
  int parts_m, parts_n;
};

inline Split gemm_split(std::int64_t m, std::int64_t n, int threads, int mr, int nr) {
  Split best{threads, 1};
  double best_cost = -1;
  for (int pm = 1; pm <= threads; ++pm) {
    if (threads % pm != 0) continue;
    const int pn = threads / pm;
    const double rows = static_cast<double>(std::min(m, round_up(ceil_div(m, pm), mr)));
    const double cols = static_cast<double>(std::min(n, ceil_div(ceil_div(n, nr), pn) * nr));
    // Splitting columns packs the same A rows once per part.
    const double cost = rows * cols * (1.0 + 0.05 * (pn - 1));
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {pm, pn};
    }
  }
  return best;
}

}  // namespace lc::cpu::gemm_detail
