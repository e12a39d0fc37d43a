// Recurrent layers: an LSTM over a sequence, single LSTM and GRU cells (PyTorch gate order).
#include "bench_common.h"

namespace {

void lstm_case(std::int64_t t, std::int64_t b, std::int64_t i, std::int64_t h) {
  const std::string name = "lstm/T" + std::to_string(t) + "B" + std::to_string(b) + "I" +
                           std::to_string(i) + "H" + std::to_string(h);
  lcb::add(name, [=](benchmark::State& st, const std::string& dev) {
    const float k = 1.0f / std::sqrt(static_cast<float>(h));
    auto x = lcb::randn({t, b, i}, dev, 1.0f, 1), h0 = lcb::randn({b, h}, dev, 1.0f, 2),
         c0 = lcb::randn({b, h}, dev, 1.0f, 3), w_ih = lcb::randn({4 * h, i}, dev, k, 4),
         w_hh = lcb::randn({4 * h, h}, dev, k, 5), b_ih = lcb::randn({4 * h}, dev, k, 6),
         b_hh = lcb::randn({4 * h}, dev, k, 7);
    const auto pol = lcb::policy(dev);
    lcb::run(
        st,
        [&] {
          benchmark::DoNotOptimize(lc::lstm(x, h0, c0, w_ih, w_hh, b_ih.view(), b_hh.view(), pol));
        },
        t * 8.0 * b * h * (i + h), 4.0 * (t * b * (i + h) + 4 * h * (i + h)));
  });
}

void cell_case(bool gru, std::int64_t b, std::int64_t i, std::int64_t h) {
  const std::int64_t g = gru ? 3 : 4;
  const std::string name = std::string(gru ? "gru_cell" : "lstm_cell") + "/B" + std::to_string(b) +
                           "I" + std::to_string(i) + "H" + std::to_string(h);
  lcb::add(name, [=](benchmark::State& st, const std::string& dev) {
    const float k = 1.0f / std::sqrt(static_cast<float>(h));
    auto x = lcb::randn({b, i}, dev, 1.0f, 1), hs = lcb::randn({b, h}, dev, 1.0f, 2),
         cs = lcb::randn({b, h}, dev, 1.0f, 3), w_ih = lcb::randn({g * h, i}, dev, k, 4),
         w_hh = lcb::randn({g * h, h}, dev, k, 5), b_ih = lcb::randn({g * h}, dev, k, 6),
         b_hh = lcb::randn({g * h}, dev, k, 7);
    const auto pol = lcb::policy(dev);
    lcb::run(
        st,
        [&] {
          if (gru)
            benchmark::DoNotOptimize(
                lc::gru_cell(x, hs, w_ih, w_hh, b_ih.view(), b_hh.view(), pol));
          else
            benchmark::DoNotOptimize(
                lc::lstm_cell(x, hs, cs, w_ih, w_hh, b_ih.view(), b_hh.view(), pol));
        },
        2.0 * b * g * h * (i + h), 4.0 * (b * (i + 3 * h) + g * h * (i + h)));
  });
}

void register_all() {
  lstm_case(32, 16, 128, 256);
  lstm_case(128, 64, 512, 512);
  cell_case(false, 64, 512, 512);
  cell_case(true, 64, 512, 512);
}

}  // namespace

int main(int argc, char** argv) { return lcb::main(argc, argv, register_all); }
