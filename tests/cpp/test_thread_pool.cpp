// The CPU thread pool: full coverage of a range, exceptions carried back, nesting.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (std::int64_t n : {0, 1, 7, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    parallel_for(n, 16, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, SmallWorkStaysOnTheCaller) {
  const auto caller = std::this_thread::get_id();
  parallel_for(10, 100,
               [&](std::int64_t, std::int64_t) { EXPECT_EQ(std::this_thread::get_id(), caller); });
}

TEST(ThreadPool, ExceptionsReachTheCaller) {
  EXPECT_THROW(parallel_for(1000, 1,
                            [](std::int64_t b, std::int64_t) {
                              if (b > 0) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  std::atomic<int> sum{0};  // the pool still works afterwards
  parallel_for(100, 1, [&](std::int64_t b, std::int64_t e) { sum += static_cast<int>(e - b); });
  EXPECT_EQ(sum.load(), 100);
}

TEST(ThreadPool, NestedRegionsRunSerially) {
  std::atomic<int> count{0};
  parallel_for(8, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i)
      parallel_for(8, 1,
                   [&](std::int64_t b2, std::int64_t e2) { count += static_cast<int>(e2 - b2); });
  });
  EXPECT_EQ(count.load(), 64);
}

}  // namespace
}  // namespace lc::cpu
