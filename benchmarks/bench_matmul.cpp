// GEMM: square sizes and the 4096x1024x4096 family per precision, linear layers.
#include "bench_common.h"

namespace {

void gemm_case(std::int64_t m, std::int64_t k, std::int64_t n) {
  const std::string name =
      "matmul2d/" + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
  lcb::add_precisions(name, [=](benchmark::State& st, const std::string& dev, lc::Precision p) {
    auto a = lcb::randn({m, k}, dev, 1.0f, 1), b = lcb::randn({k, n}, dev, 1.0f, 2);
    lc::Tensor out({m, n}, lc::DType::f32, lc::parse_device(dev));
    const auto pol = lcb::policy(dev, p);
    lcb::run(
        st, [&] { lc::matmul2d_into(a, b, out, pol); }, 2.0 * m * k * n,
        4.0 * (m * k + k * n + m * n));
  });
}

void linear_case(std::int64_t batch, std::int64_t in, std::int64_t out_f, lc::Activation act,
                 const char* tag) {
  const std::string name = std::string("linear") + tag + "/" + std::to_string(batch) + "x" +
                           std::to_string(in) + "->" + std::to_string(out_f);
  lcb::add_precisions(name, [=](benchmark::State& st, const std::string& dev, lc::Precision p) {
    auto x = lcb::randn({batch, in}, dev), w = lcb::weight(out_f, in, dev),
         b = lcb::randn({out_f}, dev);
    const auto pol = lcb::policy(dev, p);
    lcb::run(
        st, [&] { benchmark::DoNotOptimize(lc::linear(x, w, b.view(), act, pol)); },
        2.0 * batch * in * out_f, 4.0 * (batch * in + in * out_f + batch * out_f));
  });
}

void register_all() {
  for (std::int64_t s : {64, 128, 256, 512, 1024, 2048, 4096, 8192}) gemm_case(s, s, s);
  for (auto [m, k, n] : std::vector<std::array<std::int64_t, 3>>{{4096, 1024, 4096},
                                                                 {4096, 4096, 1024},
                                                                 {1024, 4096, 4096},
                                                                 {4096, 512, 4096},
                                                                 {8192, 1024, 8192}})
    gemm_case(m, k, n);
  linear_case(4096, 1024, 1024, lc::Activation::none, "");
  linear_case(1, 1024, 1024, lc::Activation::none, "");
  linear_case(8192, 1024, 4096, lc::Activation::gelu, "_gelu");
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
