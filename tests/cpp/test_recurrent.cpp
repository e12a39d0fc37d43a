// lstm_cell, lstm, gru_cell: contract tests and values vs naive float64 references.
#include <algorithm>
#include <cmath>
#include <optional>

#include "test_helpers.h"

namespace lc::test {
namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// gates (B, G*H) = x W_ih^T + b_ih + h W_hh^T + b_hh, in float64.
std::vector<double> gates(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                          const std::optional<Tensor>& b_ih, const std::optional<Tensor>& b_hh) {
  const auto B = x.shape()[0], I = x.shape()[1], H = h.shape()[1], G = w_ih.shape()[0];
  const auto X = to_f64(x), Hs = to_f64(h), Wi = to_f64(w_ih), Wh = to_f64(w_hh);
  std::vector<double> g(static_cast<std::size_t>(B * G));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < G; ++j) {
      double acc = (b_ih ? to_f64(*b_ih)[j] : 0.0) + (b_hh ? to_f64(*b_hh)[j] : 0.0);
      for (std::int64_t k = 0; k < I; ++k) acc += X[b * I + k] * Wi[j * I + k];
      for (std::int64_t k = 0; k < H; ++k) acc += Hs[b * H + k] * Wh[j * H + k];
      g[b * G + j] = acc;
    }
  return g;
}

struct Ref {
  std::vector<double> h, c;
};

Ref ref_lstm_cell(const Tensor& x, const Tensor& h, const std::vector<double>& c,
                  const Tensor& w_ih, const Tensor& w_hh, const std::optional<Tensor>& b_ih,
                  const std::optional<Tensor>& b_hh) {
  const auto B = x.shape()[0], H = h.shape()[1];
  const auto g = gates(x, h, w_ih, w_hh, b_ih, b_hh);
  Ref r{std::vector<double>(c.size()), std::vector<double>(c.size())};
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < H; ++j) {
      const double* gb = &g[b * 4 * H];
      const double cn =
          sigmoid(gb[H + j]) * c[b * H + j] + sigmoid(gb[j]) * std::tanh(gb[2 * H + j]);
      r.c[b * H + j] = cn;
      r.h[b * H + j] = sigmoid(gb[3 * H + j]) * std::tanh(cn);
    }
  return r;
}

Tensor from_f64(const std::vector<double>& v, Shape shape) {
  Tensor t(shape);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

OptView opt(const std::optional<Tensor>& t) { return t ? OptView(t->view()) : std::nullopt; }

// Gate outputs are O(1) (|h| <= 1); where c' = f c + i g or h' = (1-z) n + z h cancel to ~0,
// float32 holds 1e-5 of the terms, not of the small result (B = I = H = 1 failed so, rarely):
// results with RMS above 0.1 are held to 1e-5 of themselves, smaller ones to 1e-6 absolute.
double gate_err(const Tensor& out, const std::vector<double>& ref) {
  return rel_err_floor(out, ref, 0.1);
}

struct Dims {
  std::int64_t B, I, H;
};

class RecurrentValues : public ::testing::TestWithParam<Dims> {};

TEST_P(RecurrentValues, LstmCellMatchesReference) {
  const auto [B, I, H] = GetParam();
  const auto seed = fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tensor x = random_tensor({B, I}, rng), h = random_tensor({B, H}, rng),
         c = random_tensor({B, H}, rng);
  Tensor wi = random_tensor({4 * H, I}, rng), wh = random_tensor({4 * H, H}, rng);
  std::optional<Tensor> bi = random_tensor({4 * H}, rng), bh = random_tensor({4 * H}, rng);
  for (bool bias : {true, false}) {
    const auto b_ih = bias ? bi : std::nullopt, b_hh = bias ? bh : std::nullopt;
    LstmState s = lstm_cell(x, h, c, wi, wh, opt(b_ih), opt(b_hh), cpu_policy());
    Ref r = ref_lstm_cell(x, h, to_f64(c), wi, wh, b_ih, b_hh);
    EXPECT_EQ(s.h.shape(), (Shape{B, H}));
    EXPECT_LE(gate_err(s.h, r.h), 1e-5);
    EXPECT_LE(gate_err(s.c, r.c), 1e-5);
  }
}

TEST_P(RecurrentValues, LstmSequenceMatchesLoopOfCells) {
  const auto [B, I, H] = GetParam();
  const std::int64_t T = 5;
  const auto seed = fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tensor x = random_tensor({T, B, I}, rng), h0 = random_tensor({B, H}, rng),
         c0 = random_tensor({B, H}, rng);
  Tensor wi = random_tensor({4 * H, I}, rng), wh = random_tensor({4 * H, H}, rng);
  std::optional<Tensor> bi = random_tensor({4 * H}, rng), bh = random_tensor({4 * H}, rng);
  LstmResult got = lstm(x, h0, c0, wi, wh, opt(bi), opt(bh), cpu_policy());
  ASSERT_EQ(got.output.shape(), (Shape{T, B, H}));
  // float64 loop: the reference state is carried in float64 (rounded only to feed gates()).
  std::vector<double> hd = to_f64(h0), cd = to_f64(c0), all;
  for (std::int64_t t = 0; t < T; ++t) {
    Tensor xt({B, I});
    std::copy_n(x.data<float>() + t * B * I, B * I, xt.data<float>());
    Ref r = ref_lstm_cell(xt, from_f64(hd, {B, H}), cd, wi, wh, bi, bh);
    hd = r.h;
    cd = r.c;
    all.insert(all.end(), hd.begin(), hd.end());
  }
  EXPECT_LE(gate_err(got.output, all), 1e-5);
  EXPECT_LE(gate_err(got.h, hd), 1e-5);
  EXPECT_LE(gate_err(got.c, cd), 1e-5);
}

TEST_P(RecurrentValues, GruCellMatchesReference) {
  const auto [B, I, H] = GetParam();
  const auto seed = fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tensor x = random_tensor({B, I}, rng), h = random_tensor({B, H}, rng);
  Tensor wi = random_tensor({3 * H, I}, rng), wh = random_tensor({3 * H, H}, rng);
  Tensor bi = random_tensor({3 * H}, rng), bh = random_tensor({3 * H}, rng);
  Tensor got = gru_cell(x, h, wi, wh, bi.view(), bh.view(), cpu_policy());
  // Separate x and h projections: r multiplies (W_hn h + b_hn) only.
  const std::optional<Tensor> none;
  Tensor zero_h({B, H}), zero_x({B, I});
  std::fill_n(zero_h.data<float>(), B * H, 0.0f);
  std::fill_n(zero_x.data<float>(), B * I, 0.0f);
  Tensor zwh({3 * H, H}), zwi({3 * H, I});
  std::fill_n(zwh.data<float>(), 3 * H * H, 0.0f);
  std::fill_n(zwi.data<float>(), 3 * H * I, 0.0f);
  const auto gx = gates(x, zero_h, wi, zwh, bi, none);
  const auto gh = gates(zero_x, h, zwi, wh, none, bh);
  const auto hv = to_f64(h);
  std::vector<double> ref(static_cast<std::size_t>(B * H));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < H; ++j) {
      const double* x3 = &gx[b * 3 * H];
      const double* h3 = &gh[b * 3 * H];
      const double r = sigmoid(x3[j] + h3[j]), z = sigmoid(x3[H + j] + h3[H + j]);
      const double n = std::tanh(x3[2 * H + j] + r * h3[2 * H + j]);
      ref[b * H + j] = (1 - z) * n + z * hv[b * H + j];
    }
  EXPECT_LE(gate_err(got, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RecurrentValues,
                         ::testing::Values(Dims{1, 1, 1}, Dims{3, 7, 17}, Dims{7, 33, 65},
                                           Dims{2, 1, 127}, Dims{130, 5, 257}));

// ---- contract ------------------------------------------------------------------------------
struct CellArgs {
  Tensor x, h, c, wi, wh, bi, bh;
};
CellArgs lstm_args(std::mt19937_64& rng, std::int64_t B = 3, std::int64_t I = 4,
                   std::int64_t H = 5) {
  return {random_tensor({B, I}, rng),     random_tensor({B, H}, rng),
          random_tensor({B, H}, rng),     random_tensor({4 * H, I}, rng),
          random_tensor({4 * H, H}, rng), random_tensor({4 * H}, rng),
          random_tensor({4 * H}, rng)};
}

TEST(RecurrentContract, LstmCellShapeMismatches) {
  std::mt19937_64 rng(fresh_seed());
  auto a = lstm_args(rng);
  const Policy p = cpu_policy();
  const std::string pre = "[lstm_cell] expected ";
  Tensor bad_h = random_tensor({4, 5}, rng), bad_c = random_tensor({3, 6}, rng);
  Tensor bad_wi = random_tensor({20, 5}, rng), bad_wh = random_tensor({21, 5}, rng);
  Tensor bad_b = random_tensor({19}, rng), rank3 = random_tensor({1, 3, 4}, rng);
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, bad_h, a.c, a.wi, a.wh, a.bi.view(), a.bh.view(), p); },
      pre + "h of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, a.h, bad_c, a.wi, a.wh, a.bi.view(), a.bh.view(), p); },
      pre + "c of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, a.h, a.c, bad_wi, a.wh, a.bi.view(), a.bh.view(), p); },
      pre + "w_ih of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, a.h, a.c, a.wi, bad_wh, a.bi.view(), a.bh.view(), p); },
      pre + "w_hh of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, a.h, a.c, a.wi, a.wh, bad_b.view(), a.bh.view(), p); },
      pre + "b_ih of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(a.x, a.h, a.c, a.wi, a.wh, a.bi.view(), bad_b.view(), p); },
      pre + "b_hh of shape");
  expect_error_prefix<ValueError>(
      [&] { lstm_cell(rank3, a.h, a.c, a.wi, a.wh, std::nullopt, std::nullopt, p); },
      pre + "x with 2 dimensions");
}

TEST(RecurrentContract, DtypesAndMissingInputs) {
  std::mt19937_64 rng(fresh_seed());
  auto a = lstm_args(rng);
  const Policy p = cpu_policy();
  Tensor x64 = random_tensor({3, 4}, rng, DType::f64);
  expect_error_prefix<TypeError>(
      [&] { lstm_cell(x64, a.h, a.c, a.wi, a.wh, std::nullopt, std::nullopt, p); },
      "[lstm_cell] expected x to be float32, got float64");
  TensorView none;
  none.invalid = "None";
  expect_error_prefix<TypeError>(
      [&] { gru_cell(a.x, none, a.wi, a.wh, std::nullopt, std::nullopt, p); },
      "[gru_cell] expected h to be a float32 array, got None");
  expect_error_prefix<ValueError>(
      [&] { lstm(a.x, a.h, a.c, a.wi, a.wh, std::nullopt, std::nullopt, p); },
      "[lstm] expected x with 3 dimensions");
  expect_error_prefix<DeviceUnavailableError>(
      [&] {
        lstm_cell(a.x, a.h, a.c, a.wi, a.wh, std::nullopt, std::nullopt, p.with_device("metal"));
      },
      "[device]");
}

TEST(RecurrentContract, ZeroStepsKeepsTheInitialState) {
  std::mt19937_64 rng(fresh_seed());
  auto a = lstm_args(rng);
  Tensor x({0, 3, 4});
  LstmResult r = lstm(x, a.h, a.c, a.wi, a.wh, a.bi.view(), a.bh.view(), cpu_policy());
  EXPECT_EQ(r.output.shape(), (Shape{0, 3, 5}));
  EXPECT_EQ(rel_err(r.h, to_f64(a.h)), 0.0);
  EXPECT_EQ(rel_err(r.c, to_f64(a.c)), 0.0);
  EXPECT_NE(r.h.data(), a.h.data());
}

TEST(RecurrentContract, NanPropagatesPerRow) {
  std::mt19937_64 rng(fresh_seed());
  auto a = lstm_args(rng);
  a.x.data<float>()[1 * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
  LstmState s = lstm_cell(a.x, a.h, a.c, a.wi, a.wh, a.bi.view(), a.bh.view(), cpu_policy());
  for (std::int64_t b = 0; b < 3; ++b)
    for (std::int64_t j = 0; j < 5; ++j) {
      EXPECT_EQ(std::isnan(s.h.data<float>()[b * 5 + j]), b == 1);
      EXPECT_EQ(std::isnan(s.c.data<float>()[b * 5 + j]), b == 1);
    }
}

}  // namespace
}  // namespace lc::test
