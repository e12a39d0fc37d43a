// Vector and matrix families: contracts (the right exception per bad input, nothing written)
// and the ops against naive float64 references, float32 and float64.
#include <algorithm>
#include <functional>
#include <string>

#include "backends/backend.h"
#include "test_helpers.h"

namespace lc {
namespace {

using test::cpu_policy;
using test::rel_err;
using test::to_f64;

constexpr double kTol32 = 1e-5, kTol64 = 1e-12;
double tol(DType d) { return d == DType::f32 ? kTol32 : kTol64; }

using test::all_nan;
using test::expect_error;

double unary_ref(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::relu:
      return x > 0 ? x : 0;
    case UnaryOp::gelu:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case UnaryOp::silu:
      return x / (1 + std::exp(-x));
    case UnaryOp::sigmoid:
      return 1 / (1 + std::exp(-x));
    case UnaryOp::tanh:
      return std::tanh(x);
    case UnaryOp::exp:
      return std::exp(x);
    case UnaryOp::neg:
      return -x;
    case UnaryOp::abs:
      return std::fabs(x);
    case UnaryOp::sqrt:
      return std::sqrt(x);
  }
  return 0;
}

constexpr UnaryOp kUnary[] = {UnaryOp::relu,    UnaryOp::gelu, UnaryOp::silu,
                              UnaryOp::sigmoid, UnaryOp::tanh, UnaryOp::exp,
                              UnaryOp::neg,     UnaryOp::abs,  UnaryOp::sqrt};
constexpr DType kDtypes[] = {DType::f32, DType::f64};

TEST(VectorOps, Names) {
  EXPECT_STREQ(unary_name(UnaryOp::gelu), "gelu");
  EXPECT_STREQ(unary_name(UnaryOp::sqrt), "sqrt");
  EXPECT_STREQ(binary_name(BinaryOp::div), "div");
}

TEST(VectorOps, UnaryMatchesReference) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (DType dt : kDtypes)
    for (UnaryOp op : kUnary)
      for (Shape s : {Shape{1}, Shape{17}, Shape{3, 33}, Shape{2, 5, 7}}) {
        Tensor x = test::random_tensor(s, rng, dt);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          for (std::int64_t i = 0; i < x.numel(); ++i) {
            T& v = x.data<T>()[i];
            v = op == UnaryOp::sqrt ? std::fabs(v) * 4 : v * 6;
          }
        });
        std::vector<double> ref;
        for (double v : to_f64(x)) ref.push_back(unary_ref(op, v));
        EXPECT_LE(rel_err(unary(op, x, cpu_policy()), ref), tol(dt)) << unary_name(op);
        Tensor out(s, dt);
        test::poison(out);
        unary_into(op, x, out, cpu_policy());
        EXPECT_LE(rel_err(out, ref), tol(dt)) << unary_name(op);
        unary_into(op, x, x, cpu_policy());  // in place
        EXPECT_LE(rel_err(x, ref), tol(dt)) << unary_name(op);
      }
}

// Naive NumPy broadcasting of a and b into `shape`.
std::vector<double> broadcast_ref(const Tensor& a, const Tensor& b, const Shape& shape,
                                  const std::function<double(double, double)>& f) {
  const auto va = to_f64(a), vb = to_f64(b);
  std::vector<double> out(static_cast<std::size_t>(shape.numel()));
  auto offset = [&](const Shape& s, std::int64_t flat) {
    std::int64_t off = 0, stride = 1;
    for (int i = shape.rank() - 1, j = s.rank() - 1; i >= 0; --i, --j) {
      const std::int64_t c = flat % shape[i];
      flat /= shape[i];
      if (j >= 0) {
        if (s[j] != 1) off += c * stride;
        stride *= s[j];
      }
    }
    return off;
  };
  for (std::int64_t i = 0; i < shape.numel(); ++i)
    out[i] = f(va[offset(a.shape(), i)], vb[offset(b.shape(), i)]);
  return out;
}

TEST(VectorOps, BinaryBroadcastMatchesReference) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {{{7}, {7}, {7}},
                        {{5, 4}, {4}, {5, 4}},
                        {{3, 1}, {1, 4}, {3, 4}},
                        {{}, {3, 2}, {3, 2}},
                        {{2, 1, 3}, {4, 1}, {2, 4, 3}},
                        {{7, 1, 17}, {1, 33, 1}, {7, 33, 17}},
                        {{2, 3, 5, 7}, {3, 1, 7}, {2, 3, 5, 7}}};
  const std::pair<BinaryOp, std::function<double(double, double)>> ops[] = {
      {BinaryOp::add, [](double x, double y) { return x + y; }},
      {BinaryOp::sub, [](double x, double y) { return x - y; }},
      {BinaryOp::mul, [](double x, double y) { return x * y; }},
      {BinaryOp::div, [](double x, double y) { return x / y; }}};
  for (DType dt : kDtypes)
    for (const Case& c : cases)
      for (const auto& [op, f] : ops) {
        Tensor a = test::random_tensor(c.a, rng, dt), b = test::random_tensor(c.b, rng, dt);
        const auto ref = broadcast_ref(a, b, c.out, f);
        Tensor y = binary(op, a, b, cpu_policy());
        ASSERT_EQ(y.shape(), c.out);
        EXPECT_LE(rel_err(y, ref), tol(dt)) << binary_name(op) << " " << c.a.str() << c.b.str();
        Tensor out(c.out, dt);
        test::poison(out);
        binary_into(op, a, b, out, cpu_policy());
        EXPECT_LE(rel_err(out, ref), tol(dt));
      }
}

// The CPU kernel also takes operands with any run stride (the front-end never makes them).
TEST(VectorBackend, StridedOperands) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor base = test::random_tensor(Shape{6, 40}, rng);
  Tensor out(Shape{6, 13});
  TensorView a(base.data(), DType::f32, Shape{6, 13}, Shape{40, 3}, kCpu);
  TensorView b(base.data<float>() + 1, DType::f32, Shape{6, 13}, Shape{0, 2}, kCpu);
  backend::cpu_backend().binary({BinaryOp::sub, a, b, out});
  const float* p = base.data<float>();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 13; ++j)
      EXPECT_EQ(out.data<float>()[i * 13 + j], p[i * 40 + 3 * j] - p[1 + 2 * j]);
}

TEST(VectorOps, AxpyAndScale) {
  std::mt19937_64 rng(test::fresh_seed());
  for (DType dt : kDtypes) {
    Tensor x = test::random_tensor(Shape{3, 37}, rng, dt),
           y = test::random_tensor(Shape{3, 37}, rng, dt);
    std::vector<double> ref, sref;
    const auto vx = to_f64(x), vy = to_f64(y);
    for (std::size_t i = 0; i < vx.size(); ++i) {
      ref.push_back(-1.75 * vx[i] + vy[i]);
      sref.push_back(0.3 * vx[i]);
    }
    EXPECT_LE(rel_err(axpy(-1.75, x, y, cpu_policy()), ref), tol(dt));
    EXPECT_LE(rel_err(scale(x, 0.3, cpu_policy()), sref), tol(dt));
    axpy_into(-1.75, x, y, y, cpu_policy());
    EXPECT_LE(rel_err(y, ref), tol(dt));
    scale_into(x, 0.3, x, cpu_policy());
    EXPECT_LE(rel_err(x, sref), tol(dt));
  }
}

TEST(VectorOps, Contracts) {
  Tensor a(Shape{2, 3}), b(Shape{4}), out(Shape{2, 3});
  test::poison(out);
  expect_error<ValueError>([&] { binary(BinaryOp::add, a, b, cpu_policy()); }, "add");
  expect_error<ValueError>([&] { binary_into(BinaryOp::mul, a, b, out, cpu_policy()); },
                           "mul_into");
  expect_error<ValueError>([&] { axpy(1.0, a, b, cpu_policy()); }, "axpy");
  TensorView none;
  none.invalid = "None";
  expect_error<TypeError>([&] { unary(UnaryOp::relu, none, cpu_policy()); }, "relu");
  expect_error<TypeError>([&] { scale_into(none, 2.0, out, cpu_policy()); }, "scale_into");
  expect_error<TypeError>(
      [&] {
        binary(BinaryOp::add, a, Tensor64(Shape{2, 3}), cpu_policy());
      },
      "add");
  expect_error<ValueError>(
      [&] {
        unary_into(UnaryOp::exp, a, Tensor(Shape{3, 2}), cpu_policy());
      },
      "exp_into");
  expect_error<TypeError>(
      [&] {
        unary_into(UnaryOp::exp, a, Tensor64(Shape{2, 3}), cpu_policy());
      },
      "exp_into");
  TensorView ro = out;
  ro.writable = false;
  expect_error<ValueError>([&] { unary_into(UnaryOp::tanh, a, ro, cpu_policy()); }, "tanh_into");
  EXPECT_TRUE(all_nan(out));
  EXPECT_EQ(unary(UnaryOp::gelu, Tensor(Shape{0, 4}), cpu_policy()).shape(), (Shape{0, 4}));
}

// ---- matrix ----------------------------------------------------------------------------------
// Applies f to each row of x (rows x n) and returns the concatenated results.
std::vector<double> per_row(const Tensor& x,
                            const std::function<std::vector<double>(std::vector<double>)>& f) {
  const auto v = to_f64(x);
  const std::int64_t n = x.shape()[-1];
  std::vector<double> out;
  for (std::int64_t r = 0; r * n < x.numel(); ++r) {
    auto row = f(std::vector<double>(v.begin() + r * n, v.begin() + (r + 1) * n));
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

TEST(MatrixOps, SoftmaxAndLogSoftmax) {
  std::mt19937_64 rng(test::fresh_seed());
  for (DType dt : kDtypes)
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{2, 3, 65}, Shape{5, 1024}}) {
      Tensor x = test::random_tensor(s, rng, dt);
      auto soft = [](std::vector<double> r) {
        const double m = *std::max_element(r.begin(), r.end());
        double sum = 0;
        for (double& v : r) sum += (v = std::exp(v - m));
        for (double& v : r) v /= sum;
        return r;
      };
      auto logsoft = [](std::vector<double> r) {
        const double m = *std::max_element(r.begin(), r.end());
        double sum = 0;
        for (double v : r) sum += std::exp(v - m);
        for (double& v : r) v = v - m - std::log(sum);
        return r;
      };
      EXPECT_LE(rel_err(softmax(x, cpu_policy()), per_row(x, soft)), tol(dt));
      EXPECT_LE(rel_err(log_softmax(x, cpu_policy()), per_row(x, logsoft)), tol(dt));
      const auto ref = per_row(x, soft);
      softmax_into(x, x, cpu_policy());
      EXPECT_LE(rel_err(x, ref), tol(dt));
    }
}

TEST(MatrixOps, LayerNormAndRmsNorm) {
  std::mt19937_64 rng(test::fresh_seed());
  for (DType dt : kDtypes)
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{2, 3, 65}, Shape{4, 1031}}) {
      const std::int64_t n = s[-1];
      Tensor x = test::random_tensor(s, rng, dt);
      Tensor w = test::random_tensor(Shape{n}, rng, dt), b = test::random_tensor(Shape{n}, rng, dt);
      const auto vw = to_f64(w), vb = to_f64(b);
      auto ln = [&](std::vector<double> r) {
        double mean = 0, var = 0;
        for (double v : r) mean += v;
        mean /= n;
        for (double v : r) var += (v - mean) * (v - mean);
        var /= n;
        for (std::int64_t i = 0; i < n; ++i)
          r[i] = (r[i] - mean) / std::sqrt(var + 1e-5) * vw[i] + vb[i];
        return r;
      };
      auto rms = [&](std::vector<double> r) {
        double ms = 0;
        for (double v : r) ms += v * v;
        ms /= n;
        for (std::int64_t i = 0; i < n; ++i) r[i] = r[i] / std::sqrt(ms + 1e-6) * vw[i];
        return r;
      };
      EXPECT_LE(rel_err(layer_norm(x, w, b, 1e-5, cpu_policy()), per_row(x, ln)), tol(dt));
      EXPECT_LE(rel_err(rms_norm(x, w, 1e-6, cpu_policy()), per_row(x, rms)), tol(dt));
      Tensor out(s, dt);
      test::poison(out);
      layer_norm_into(x, w, b, out, 1e-5, cpu_policy());
      EXPECT_LE(rel_err(out, per_row(x, ln)), tol(dt));
    }
}

TEST(MatrixOps, ReduceAndTranspose) {
  std::mt19937_64 rng(test::fresh_seed());
  for (DType dt : kDtypes) {
    Tensor x = test::random_tensor(Shape{2, 5, 67}, rng, dt);
    const auto v = to_f64(x);
    std::vector<double> sum, mean, mx, tr(v.size());
    for (int r = 0; r < 10; ++r) {
      double s = 0, m = -INFINITY;
      for (int i = 0; i < 67; ++i) {
        s += v[r * 67 + i];
        m = std::max(m, v[r * 67 + i]);
      }
      sum.push_back(s);
      mean.push_back(s / 67);
      mx.push_back(m);
    }
    EXPECT_LE(rel_err(reduce(ReduceOp::sum, x, cpu_policy()), sum), tol(dt));
    EXPECT_LE(rel_err(reduce(ReduceOp::mean, x, cpu_policy()), mean), tol(dt));
    EXPECT_EQ(rel_err(reduce(ReduceOp::max, x, cpu_policy()), mx), 0.0);
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 67; ++j) tr[b * 335 + j * 5 + i] = v[b * 335 + i * 67 + j];
    Tensor t = transpose(x, cpu_policy());
    EXPECT_EQ(t.shape(), (Shape{2, 67, 5}));
    EXPECT_EQ(rel_err(t, tr), 0.0);
  }
  Tensor s = reduce(ReduceOp::sum, Tensor(Shape{3, 0}), cpu_policy());
  EXPECT_EQ(rel_err(s, {0, 0, 0}), 0.0);
}

TEST(MatrixOps, Contracts) {
  Tensor x(Shape{3, 4}), out(Shape{3, 4});
  test::poison(out);
  expect_error<ValueError>([&] { layer_norm(x, std::nullopt, std::nullopt, -1.0, cpu_policy()); },
                           "layer_norm");
  expect_error<ValueError>([&] { rms_norm_into(x, std::nullopt, out, NAN, cpu_policy()); },
                           "rms_norm_into");
  expect_error<ValueError>(
      [&] { layer_norm(x, Tensor(Shape{5}), std::nullopt, 1e-5, cpu_policy()); }, "layer_norm");
  expect_error<TypeError>(
      [&] { layer_norm(x, std::nullopt, Tensor64(Shape{4}), 1e-5, cpu_policy()); }, "layer_norm");
  expect_error<ValueError>(
      [&] {
        reduce(ReduceOp::mean, Tensor(Shape{3, 0}), cpu_policy());
      },
      "mean");
  expect_error<ValueError>([&] { reduce(ReduceOp::max, Tensor(Shape{}), cpu_policy()); }, "max");
  expect_error<ValueError>([&] { transpose(Tensor(Shape{4}), cpu_policy()); }, "transpose");
  expect_error<ValueError>([&] { softmax(Tensor(Shape{}), cpu_policy()); }, "softmax");
  expect_error<ValueError>(
      [&] {
        softmax_into(x, Tensor(Shape{4, 3}), cpu_policy());
      },
      "softmax_into");
  expect_error<ValueError>([&] { reduce_into(ReduceOp::sum, x, out, cpu_policy()); }, "sum_into");
  TensorView strided(out.data(), DType::f32, Shape{4, 3}, Shape{1, 4}, kCpu);
  expect_error<ValueError>([&] { transpose_into(x, strided, cpu_policy()); }, "transpose_into");
  EXPECT_TRUE(all_nan(out));
}

}  // namespace
}  // namespace lc
