// Attention: single-head [S, D] rows of BENCHMARKS.md and the [B, H, S, D] sweep, forward and
// forward + backward, causal and not.
#include "bench_common.h"

namespace {

void attention2d_case(std::int64_t s, std::int64_t d) {
  lcb::add("attention2d/S" + std::to_string(s) + "/D" + std::to_string(d),
           [=](benchmark::State& st, const std::string& dev) {
             auto q = lcb::randn({s, d}, dev, 1.0f, 1), k = lcb::randn({s, d}, dev, 1.0f, 2),
                  v = lcb::randn({s, d}, dev, 1.0f, 3);
             const auto pol = lcb::policy(dev);
             lcb::run(
                 st, [&] { benchmark::DoNotOptimize(lc::attention2d(q, k, v, false, pol)); },
                 4.0 * s * s * d, 16.0 * s * d);
           });
}

void attention_case(std::int64_t b, std::int64_t h, std::int64_t s, std::int64_t d, bool causal,
                    bool backward) {
  const std::string name = std::string(backward ? "attention_fwd_bwd" : "attention") +
                           (causal ? "_causal" : "") + "/B" + std::to_string(b) + "H" +
                           std::to_string(h) + "S" + std::to_string(s) + "D" + std::to_string(d);
  lcb::add_precisions(name, [=](benchmark::State& st, const std::string& dev, lc::Precision p) {
    auto q = lcb::randn({b, h, s, d}, dev, 1.0f, 1), k = lcb::randn({b, h, s, d}, dev, 1.0f, 2),
         v = lcb::randn({b, h, s, d}, dev, 1.0f, 3), dout = lcb::randn({b, h, s, d}, dev, 1.0f, 4);
    const auto pol = lcb::policy(dev, p);
    lc::AttentionParams params;
    params.causal = causal;
    const double fwd = 4.0 * b * h * s * s * d * (causal ? 0.5 : 1.0);
    lcb::run(
        st,
        [&] {
          benchmark::DoNotOptimize(lc::attention(q, k, v, params, pol));
          if (backward)
            benchmark::DoNotOptimize(lc::attention_backward(q, k, v, dout, params, pol));
        },
        backward ? 3.5 * fwd : fwd, 4.0 * b * h * s * d * (backward ? 8 : 4));
  });
}

void register_all() {
  for (auto [s, d] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {8, 16}, {192, 48}, {1024, 64}, {4096, 64}})
    attention2d_case(s, d);
  for (std::int64_t s : {128, 512, 1024, 2048, 4096})
    for (std::int64_t d : {64, 128}) attention_case(1, 8, s, d, false, false);
  attention_case(4, 16, 4096, 128, false, false);
  attention_case(4, 16, 4096, 128, true, false);
  attention_case(4, 16, 4096, 128, false, true);
  attention_case(1, 4, 256, 64, false, true);
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
