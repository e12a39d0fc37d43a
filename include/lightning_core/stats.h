// Counters of what the runtime did, for users who want to see data movement.
#pragma once

#include <cstdint>

namespace lc {

struct Stats {
  std::int64_t contiguous_copies = 0;  // strided inputs copied once to contiguous
  std::int64_t uploads = 0, bytes_uploaded = 0;
  std::int64_t downloads = 0, bytes_downloaded = 0;
  std::int64_t device_allocations = 0;
  std::int64_t syncs = 0;
};

Stats stats();
void reset_stats();

}  // namespace lc
