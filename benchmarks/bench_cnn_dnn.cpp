// Convolutions of small CNNs (plain, fused ReLU), pooling, and a CIFAR-sized classifier.
#include "bench_common.h"

namespace {

struct ConvShape {
  std::int64_t n, c, h, w, o, k;
  int stride, pad;
};

void conv_case(const ConvShape& s, bool relu) {
  const std::string name = std::string(relu ? "conv_relu" : "conv2d") + "/" + std::to_string(s.n) +
                           "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" +
                           std::to_string(s.w) + "->" + std::to_string(s.o) + "k" +
                           std::to_string(s.k) + "s" + std::to_string(s.stride);
  lcb::add(name, [=](benchmark::State& st, const std::string& dev) {
    auto x = lcb::randn({s.n, s.c, s.h, s.w}, dev, 1.0f, 1);
    auto w = lcb::randn({s.o, s.c, s.k, s.k}, dev, 1.0f / std::sqrt(float(s.c * s.k * s.k)), 2);
    auto b = lcb::randn({s.o}, dev, 1.0f, 3);
    lc::Conv2dParams p;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = s.pad;
    p.relu = relu;
    const std::int64_t ho = (s.h + 2 * s.pad - s.k) / s.stride + 1,
                       wo = (s.w + 2 * s.pad - s.k) / s.stride + 1;
    const auto pol = lcb::policy(dev);
    lcb::run(
        st, [&] { benchmark::DoNotOptimize(lc::conv2d_nchw(x, w, b.view(), p, pol)); },
        2.0 * s.n * s.o * ho * wo * s.c * s.k * s.k,
        4.0 * (x.numel() + w.numel() + s.n * s.o * ho * wo));
  });
}

void small_cnn_case(std::int64_t batch) {
  lcb::add(
      "small_cnn/B" + std::to_string(batch), [=](benchmark::State& st, const std::string& dev) {
        auto x = lcb::randn({batch, 3, 32, 32}, dev, 1.0f, 1);
        auto w1 = lcb::randn({32, 3, 3, 3}, dev, 1.0f / std::sqrt(27.0f), 2),
             b1 = lcb::randn({32}, dev, 1.0f, 3);
        auto w2 = lcb::randn({64, 32, 3, 3}, dev, 1.0f / std::sqrt(288.0f), 4),
             b2 = lcb::randn({64}, dev, 1.0f, 5);
        auto wf = lcb::weight(10, 64 * 8 * 8, dev, 6), bf = lcb::randn({10}, dev, 1.0f, 7);
        lc::Conv2dParams p;
        p.pad_h = p.pad_w = 1;
        p.relu = true;
        lc::Pool2dParams pool;  // 2x2, stride 2
        const auto pol = lcb::policy(dev);
        lcb::run(
            st,
            [&] {
              lc::Tensor y = lc::max_pool2d(lc::conv2d_nchw(x, w1, b1.view(), p, pol), pool, pol);
              y = lc::max_pool2d(lc::conv2d_nchw(y, w2, b2.view(), p, pol), pool, pol);
              benchmark::DoNotOptimize(lc::linear(y.reshape({batch, 64 * 8 * 8}), wf, bf.view(),
                                                  lc::Activation::none, pol));
            },
            2.0 * batch * (32 * 32 * 32 * 27 + 64 * 16 * 16 * 288 + 4096 * 10),
            4.0 * batch * 3 * 32 * 32);
      });
}

void register_all() {
  for (const ConvShape& s : std::vector<ConvShape>{{1, 3, 16, 16, 16, 3, 1, 1},
                                                   {8, 16, 32, 32, 32, 3, 1, 1},
                                                   {8, 64, 56, 56, 64, 3, 1, 1},
                                                   {8, 256, 14, 14, 256, 3, 1, 1},
                                                   {8, 256, 14, 14, 1024, 1, 1, 0},
                                                   {1, 3, 224, 224, 64, 7, 2, 3}}) {
    conv_case(s, false);
    conv_case(s, true);
  }
  lcb::add("max_pool2d/8x64x56x56", [](benchmark::State& st, const std::string& dev) {
    auto x = lcb::randn({8, 64, 56, 56}, dev);
    const auto pol = lcb::policy(dev);
    lcb::run(
        st, [&] { benchmark::DoNotOptimize(lc::max_pool2d(x, lc::Pool2dParams{}, pol)); }, 0.0,
        4.0 * x.numel() * 1.25);
  });
  small_cnn_case(8);
  small_cnn_case(64);
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
