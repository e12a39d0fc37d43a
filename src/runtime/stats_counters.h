// Internal increments behind lc::stats().
#pragma once

#include <cstddef>

namespace lc::runtime {
void count_contiguous_copy();
void count_upload(std::size_t bytes);
void count_download(std::size_t bytes);
void count_device_allocation();
void count_sync();
}  // namespace lc::runtime
