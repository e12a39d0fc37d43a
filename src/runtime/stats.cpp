#include "lightning_core/stats.h"

#include <atomic>
#include <initializer_list>

#include "runtime/stats_counters.h"

namespace lc {
namespace {
struct Counters {
  std::atomic<std::int64_t> contiguous_copies{0}, uploads{0}, bytes_uploaded{0}, downloads{0},
      bytes_downloaded{0}, device_allocations{0}, syncs{0};
};
Counters& counters() {
  static Counters c;
  return c;
}
}  // namespace

Stats stats() {
  auto& c = counters();
  return Stats{c.contiguous_copies.load(),
               c.uploads.load(),
               c.bytes_uploaded.load(),
               c.downloads.load(),
               c.bytes_downloaded.load(),
               c.device_allocations.load(),
               c.syncs.load()};
}

void reset_stats() {
  auto& c = counters();
  for (auto* a : {&c.contiguous_copies, &c.uploads, &c.bytes_uploaded, &c.downloads,
                  &c.bytes_downloaded, &c.device_allocations, &c.syncs})
    a->store(0);
}

namespace runtime {
void count_contiguous_copy() {
  counters().contiguous_copies.fetch_add(1, std::memory_order_relaxed);
}
void count_upload(std::size_t bytes) {
  counters().uploads.fetch_add(1, std::memory_order_relaxed);
  counters().bytes_uploaded.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
}
void count_download(std::size_t bytes) {
  counters().downloads.fetch_add(1, std::memory_order_relaxed);
  counters().bytes_downloaded.fetch_add(static_cast<std::int64_t>(bytes),
                                        std::memory_order_relaxed);
}
void count_device_allocation() {
  counters().device_allocations.fetch_add(1, std::memory_order_relaxed);
}
void count_sync() { counters().syncs.fetch_add(1, std::memory_order_relaxed); }
}  // namespace runtime

}  // namespace lc
