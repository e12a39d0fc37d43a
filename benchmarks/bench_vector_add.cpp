// Elementwise vector ops: bandwidth-bound, from cache-sized to memory-sized vectors.
#include "bench_common.h"

namespace {

void register_all() {
  for (std::int64_t n : {1 << 12, 1 << 16, 1 << 20, 1 << 24, 1 << 26}) {
    const std::string size = std::to_string(n);
    lcb::add("add/" + size, [n](benchmark::State& st, const std::string& dev) {
      auto a = lcb::randn({n}, dev, 1.0f, 1), b = lcb::randn({n}, dev, 1.0f, 2);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::binary(lc::BinaryOp::add, a, b, pol)); },
          static_cast<double>(n), 12.0 * n);
    });
    lcb::add("add_into/" + size, [n](benchmark::State& st, const std::string& dev) {
      auto a = lcb::randn({n}, dev, 1.0f, 1), b = lcb::randn({n}, dev, 1.0f, 2);
      lc::Tensor out({n}, lc::DType::f32, lc::parse_device(dev));
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { lc::binary_into(lc::BinaryOp::add, a, b, out, pol); }, static_cast<double>(n),
          12.0 * n);
    });
    lcb::add("axpy/" + size, [n](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({n}, dev, 1.0f, 1), y = lcb::randn({n}, dev, 1.0f, 2);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::axpy(0.5, x, y, pol)); }, 2.0 * n, 12.0 * n);
    });
  }
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
