// A pre-norm transformer encoder block composed from plain ops (LN, QKV, attention, output
// projection, residual, LN, GELU FFN, residual), fp32 and bf16.
#include "bench_blocks.h"

namespace {

void block_case(std::int64_t b, std::int64_t s, std::int64_t d, std::int64_t heads, bool causal) {
  const std::string name = std::string("transformer_block") + (causal ? "_causal" : "") + "/B" +
                           std::to_string(b) + "S" + std::to_string(s) + "D" + std::to_string(d) +
                           "H" + std::to_string(heads);
  lcb::add_precisions(name, [=](benchmark::State& st, const std::string& dev, lc::Precision p) {
    const auto w = lcb::block_weights(d, heads, dev);
    auto x = lcb::randn({b, s, d}, dev, 1.0f, 1);
    const auto pol = lcb::policy(dev, p);
    const double flops = 24.0 * b * s * d * d + 4.0 * b * s * s * d * (causal ? 0.5 : 1.0);
    lcb::run(
        st,
        [&] {
          benchmark::DoNotOptimize(
              lcb::ffn_residual(w, lcb::attention_residual(w, x, nullptr, causal, pol), pol));
        },
        flops, 4.0 * (2.0 * b * s * d + 12.0 * d * d));
  });
}

void register_all() {
  block_case(1, 128, 256, 4, false);
  block_case(1, 128, 256, 4, true);
  block_case(8, 512, 1024, 16, false);
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
