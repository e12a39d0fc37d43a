// A small persistent thread pool. parallel_for runs on the calling thread alone when the
// work is small, so tiny ops never touch a thread or the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace lc::cpu {

// Number of threads parallel_for may use (LC_NUM_THREADS or the hardware's count).
int num_threads();

// Calls fn(begin, end) over disjoint chunks covering [0, n). Chunks hold at least `grain`
// items; with n <= grain (or one thread) it is a plain call on this thread.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

// The same with the work split into exactly `parts` chunks (parts <= num_threads()).
void parallel_parts(int parts, const std::function<void(int part)>& fn);

// memcpy, split over the pool from 2 MB on: one core's copy (~10 GB/s) is slower than the DMA or
// the memory it feeds. Host <-> device staging and host tensor copies use it.
void copy_bytes(void* dst, const void* src, std::size_t bytes);

}  // namespace lc::cpu
