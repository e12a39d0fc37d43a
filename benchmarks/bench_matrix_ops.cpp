// Row-wise matrix ops over the last axis: softmax, layer_norm, rms_norm, reductions, transpose.
#include "bench_common.h"

namespace {

void register_all() {
  for (auto [r, c] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1024, 1024}, {8192, 1024}, {4096, 4096}}) {
    const std::string shape = std::to_string(r) + "x" + std::to_string(c);
    const double bytes = 8.0 * r * c;
    lcb::add("softmax/" + shape, [=](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({r, c}, dev);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::softmax(x, pol)); }, 5.0 * r * c, bytes);
    });
    lcb::add("layer_norm/" + shape, [=](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({r, c}, dev), w = lcb::randn({c}, dev), b = lcb::randn({c}, dev);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::layer_norm(x, w.view(), b.view(), 1e-5, pol)); },
          8.0 * r * c, bytes);
    });
    lcb::add("rms_norm/" + shape, [=](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({r, c}, dev), w = lcb::randn({c}, dev);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::rms_norm(x, w.view(), 1e-6, pol)); }, 4.0 * r * c,
          bytes);
    });
    lcb::add("reduce_sum/" + shape, [=](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({r, c}, dev);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::reduce(lc::ReduceOp::sum, x, pol)); }, 1.0 * r * c,
          4.0 * r * c);
    });
    lcb::add("transpose/" + shape, [=](benchmark::State& st, const std::string& dev) {
      auto x = lcb::randn({r, c}, dev);
      const auto pol = lcb::policy(dev);
      lcb::run(
          st, [&] { benchmark::DoNotOptimize(lc::transpose(x, pol)); }, 0.0, bytes);
    });
  }
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
