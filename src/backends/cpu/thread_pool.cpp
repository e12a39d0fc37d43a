#include "backends/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lc::cpu {
namespace {

// Workers spin for a short while after a region before sleeping on the condition variable, and
// the caller spins before waiting for them: a region then costs a few microseconds instead of
// two futex wake-ups (~30-40 us), so back-to-back ops keep their threads warm. The spin yields
// the CPU now and then: when the scheduler has put two of our threads on one CPU (a woken
// worker lands beside its waker), a pure spin would hold the CPU the other needs until the time
// slice ends (seen as 250 us regions on a 2-vCPU VM).
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax(unsigned& n) {
  if ((++n & 15) == 0) {
    std::this_thread::yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(part) for part in [0, parts) with the caller taking part 0.
  void run(int parts, const std::function<void(int)>& fn) {
    std::lock_guard<std::mutex> serial(run_mu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    try {
      fn(0);
    } catch (...) {
      record_error();
    }
    const auto until = std::chrono::steady_clock::now() + kSpin;
    unsigned spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0 &&
           std::chrono::steady_clock::now() < until)
      cpu_relax(spins);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void record_error() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
  }

  // The next generation after `seen`: spins a little, then sleeps.
  std::uint64_t wait_for_work(std::uint64_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    unsigned spins = 0;
    for (;;) {
      const std::uint64_t g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      if (std::chrono::steady_clock::now() >= until) break;
      cpu_relax(spins);
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    return generation_.load(std::memory_order_acquire);
  }

  void loop(int id) {
    std::uint64_t seen = 0;
    for (;;) {
      seen = wait_for_work(seen);
      const std::function<void(int)>* fn = nullptr;
      {
        // fn_, parts_ and the generation are written together under mu_: read them together, so
        // a worker that wakes late takes the current region once and never an old one twice.
        std::lock_guard<std::mutex> lock(mu_);
        seen = generation_.load(std::memory_order_relaxed);
        if (stop_) return;
        if (id >= parts_) continue;
        fn = fn_;
      }
      try {
        (*fn)(id);
      } catch (...) {
        record_error();
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller checks pending_ under mu_
        done_cv_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int parts_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stop_ = false;
  std::exception_ptr error_;
};

thread_local bool t_in_parallel = false;  // nested regions run serially

int configured_threads() {
  if (const char* env = std::getenv("LC_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool p(configured_threads());
  return p;
}

}  // namespace

int num_threads() {
  static const int n = configured_threads();
  return n;
}

void parallel_parts(int parts, const std::function<void(int)>& fn) {
  parts = std::min(parts, num_threads());
  if (parts <= 1 || t_in_parallel) {
    for (int p = 0; p < parts; ++p) fn(p);
    return;
  }
  pool().run(parts, [&](int part) {
    t_in_parallel = true;
    fn(part);
    t_in_parallel = false;
  });
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t max_parts = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<std::int64_t>(max_parts, num_threads()));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  const std::int64_t chunk = (n + parts - 1) / parts;
  parallel_parts(parts, [&](int part) {
    const std::int64_t b = part * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

void copy_bytes(void* dst, const void* src, std::size_t bytes) {
  constexpr std::int64_t kGrain = std::int64_t{1} << 20;
  const auto n = static_cast<std::int64_t>(bytes);
  if (n < 2 * kGrain) {
    if (bytes) std::memcpy(dst, src, bytes);
    return;
  }
  parallel_for(n, kGrain, [&](std::int64_t b, std::int64_t e) {
    std::memcpy(static_cast<char*>(dst) + b, static_cast<const char*>(src) + b,
                static_cast<std::size_t>(e - b));
  });
}

}  // namespace lc::cpu
