// A small vision-language block: patch-embedding conv, text -> image-token cross-attention,
// GELU FFN, each with its residual.
#include "bench_blocks.h"

namespace {

void vlm_case(std::int64_t img, std::int64_t patch, std::int64_t d, std::int64_t heads,
              std::int64_t text) {
  const std::string name = "vlm_block/img" + std::to_string(img) + "p" + std::to_string(patch) +
                           "D" + std::to_string(d) + "H" + std::to_string(heads) + "T" +
                           std::to_string(text);
  lcb::add_precisions(name, [=](benchmark::State& st, const std::string& dev, lc::Precision p) {
    const auto w = lcb::block_weights(d, heads, dev);
    auto image = lcb::randn({1, 3, img, img}, dev, 1.0f, 1);
    auto w_pe = lcb::randn({d, 3, patch, patch}, dev, 1.0f / std::sqrt(3.0f * patch * patch), 2);
    auto b_pe = lcb::randn({d}, dev, 1.0f, 3);
    auto t = lcb::randn({1, text, d}, dev, 1.0f, 4);
    lc::Conv2dParams cp;
    cp.stride_h = cp.stride_w = static_cast<int>(patch);
    const std::int64_t tokens = (img / patch) * (img / patch);
    const auto pol = lcb::policy(dev, p);
    const double flops = 2.0 * tokens * d * 3 * patch * patch + 4.0 * text * d * d +
                         4.0 * tokens * d * d + 4.0 * text * tokens * d + 16.0 * text * d * d;
    lcb::run(
        st,
        [&] {
          lc::Tensor emb = lc::conv2d_nchw(image, w_pe, b_pe.view(), cp, pol);  // (1,D,h,w)
          lc::Tensor tok =
              lc::transpose(emb.reshape({1, d, tokens}), pol).reshape({1, 1, tokens, d});
          benchmark::DoNotOptimize(
              lcb::ffn_residual(w, lcb::attention_residual(w, t, &tok, false, pol), pol));
        },
        flops, 4.0 * (3.0 * img * img + 12.0 * d * d + 2.0 * text * d));
  });
}

void register_all() {
  vlm_case(64, 16, 128, 4, 16);
  vlm_case(224, 16, 384, 6, 64);
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
