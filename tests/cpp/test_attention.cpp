// Attention: front-end contracts (the right exception, nothing written) and the CPU kernels
// against a naive float64 reference, forward and backward.
#include <functional>
#include <string>

#include "backends/backend.h"
#include "test_helpers.h"

namespace lc {
namespace {

struct Dims {
  std::int64_t b, h, hkv, sq, sk, d, dv;
};

struct Ref {
  std::vector<double> out, dq, dk, dv;
};

// Naive float64 attention and its gradients for dout (may be empty: forward only). Rows that
// see no key give zero; GQA sums dk/dv over the heads sharing a kv head.
Ref reference(const Dims& n, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* dout,
              bool causal, double scale) {
  const auto Q = test::to_f64(q), K = test::to_f64(k), V = test::to_f64(v);
  const std::vector<double> dO = dout ? test::to_f64(*dout) : std::vector<double>();
  Ref r;
  r.out.assign(static_cast<std::size_t>(n.b * n.h * n.sq * n.dv), 0.0);
  r.dq.assign(static_cast<std::size_t>(n.b * n.h * n.sq * n.d), 0.0);
  r.dk.assign(static_cast<std::size_t>(n.b * n.hkv * n.sk * n.d), 0.0);
  r.dv.assign(static_cast<std::size_t>(n.b * n.hkv * n.sk * n.dv), 0.0);
  const std::int64_t g = n.h / n.hkv;
  for (std::int64_t b = 0; b < n.b; ++b)
    for (std::int64_t h = 0; h < n.h; ++h) {
      const std::int64_t kv = b * n.hkv + h / g, qh = b * n.h + h;
      for (std::int64_t i = 0; i < n.sq; ++i) {
        const std::int64_t end =
            causal ? std::clamp<std::int64_t>(i + 1 + n.sk - n.sq, 0, n.sk) : n.sk;
        if (end == 0) continue;
        std::vector<double> p(static_cast<std::size_t>(end));
        double mx = -INFINITY, sum = 0;
        for (std::int64_t j = 0; j < end; ++j) {
          double s = 0;
          for (std::int64_t d = 0; d < n.d; ++d)
            s += Q[(qh * n.sq + i) * n.d + d] * K[(kv * n.sk + j) * n.d + d];
          p[j] = s * scale;
          mx = std::max(mx, p[j]);
        }
        for (auto& x : p) sum += (x = std::exp(x - mx));
        for (auto& x : p) x /= sum;
        double* o = &r.out[(qh * n.sq + i) * n.dv];
        for (std::int64_t j = 0; j < end; ++j)
          for (std::int64_t d = 0; d < n.dv; ++d) o[d] += p[j] * V[(kv * n.sk + j) * n.dv + d];
        if (!dout) continue;
        const double* go = &dO[(qh * n.sq + i) * n.dv];
        double delta = 0;
        for (std::int64_t d = 0; d < n.dv; ++d) delta += go[d] * o[d];
        for (std::int64_t j = 0; j < end; ++j) {
          double dp = 0;
          for (std::int64_t d = 0; d < n.dv; ++d) {
            dp += go[d] * V[(kv * n.sk + j) * n.dv + d];
            r.dv[(kv * n.sk + j) * n.dv + d] += p[j] * go[d];
          }
          const double ds = p[j] * (dp - delta) * scale;
          for (std::int64_t d = 0; d < n.d; ++d) {
            r.dq[(qh * n.sq + i) * n.d + d] += ds * K[(kv * n.sk + j) * n.d + d];
            r.dk[(kv * n.sk + j) * n.d + d] += ds * Q[(qh * n.sq + i) * n.d + d];
          }
        }
      }
    }
  return r;
}

struct Inputs {
  Tensor q, k, v, dout;
};

Inputs random_inputs(const Dims& n, std::mt19937_64& rng, DType dtype = DType::f32) {
  return {test::random_tensor(Shape{n.b, n.h, n.sq, n.d}, rng, dtype),
          test::random_tensor(Shape{n.b, n.hkv, n.sk, n.d}, rng, dtype),
          test::random_tensor(Shape{n.b, n.hkv, n.sk, n.dv}, rng, dtype),
          test::random_tensor(Shape{n.b, n.h, n.sq, n.dv}, rng, dtype)};
}

// Expects `f` to throw E with a message starting "[op] expected" and containing `what`.
template <class E>
void expect_error(const std::function<void()>& f, const std::string& op, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected " << op << " to throw (" << what << ")";
  } catch (const E& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("[" + op + "] expected", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

bool all_nan(const Tensor& t) {
  for (double x : test::to_f64(t))
    if (!std::isnan(x)) return false;
  return true;
}

const Policy& cpu() {
  static const Policy p = test::cpu_policy();
  return p;
}

// ---- forward and backward against the reference ---------------------------------------------
class AttentionShapes : public ::testing::TestWithParam<std::tuple<Dims, bool>> {};

TEST_P(AttentionShapes, ForwardAndBackwardMatchReference) {
  const auto [n, causal] = GetParam();
  const auto seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (DType dtype : {DType::f32, DType::f64}) {
    const double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
    const Inputs in = random_inputs(n, rng, dtype);
    const double scale = 1.0 / std::sqrt(static_cast<double>(n.d));
    const Ref ref = reference(n, in.q, in.k, in.v, &in.dout, causal, scale);
    AttentionParams params;
    params.causal = causal;
    EXPECT_LE(test::rel_err(attention(in.q, in.k, in.v, params, cpu()), ref.out), tol);
    Tensor out(Shape{n.b, n.h, n.sq, n.dv}, dtype);
    test::poison(out);
    attention_into(in.q, in.k, in.v, out, params, cpu());
    EXPECT_LE(test::rel_err(out, ref.out), tol);
    const AttentionGrads g = attention_backward(in.q, in.k, in.v, in.dout, params, cpu());
    EXPECT_LE(test::rel_err(g.dq, ref.dq), tol);
    EXPECT_LE(test::rel_err(g.dk, ref.dk), tol);
    EXPECT_LE(test::rel_err(g.dv, ref.dv), tol);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Attention, AttentionShapes,
    ::testing::Combine(::testing::Values(Dims{1, 1, 1, 1, 1, 1, 1}, Dims{1, 1, 1, 8, 8, 16, 16},
                                         Dims{2, 4, 2, 7, 17, 5, 9}, Dims{1, 3, 1, 33, 65, 17, 33},
                                         Dims{2, 2, 2, 65, 33, 64, 7},
                                         Dims{1, 2, 1, 130, 127, 33, 65},
                                         Dims{1, 1, 1, 5, 70, 3, 2}, Dims{1, 1, 1, 70, 5, 3, 2},
                                         Dims{1, 6, 3, 16, 64, 64, 16}),
                       ::testing::Bool()));

TEST(Attention, CustomScale) {
  std::mt19937_64 rng(test::fresh_seed());
  const Dims n{1, 2, 1, 20, 30, 8, 8};
  const Inputs in = random_inputs(n, rng);
  for (double scale : {0.01, 0.7, 3.0}) {
    AttentionParams params;
    params.scale = scale;
    const Ref ref = reference(n, in.q, in.k, in.v, &in.dout, false, scale);
    EXPECT_LE(test::rel_err(attention(in.q, in.k, in.v, params, cpu()), ref.out), 1e-5);
    const AttentionGrads g = attention_backward(in.q, in.k, in.v, in.dout, params, cpu());
    EXPECT_LE(test::rel_err(g.dq, ref.dq), 1e-5);
    EXPECT_LE(test::rel_err(g.dk, ref.dk), 1e-5);
  }
}

TEST(Attention, TwoDimensionalFormIsOneHead) {
  std::mt19937_64 rng(test::fresh_seed());
  const Dims n{1, 1, 1, 9, 13, 16, 5};
  const Inputs in = random_inputs(n, rng);
  const Tensor q = in.q.reshape(Shape{9, 16}), k = in.k.reshape(Shape{13, 16}),
               v = in.v.reshape(Shape{13, 5});
  for (bool causal : {false, true}) {
    const Ref ref = reference(n, in.q, in.k, in.v, nullptr, causal, 0.25);
    const Tensor out = attention2d(q, k, v, causal, cpu());
    EXPECT_EQ(out.shape(), (Shape{9, 5}));
    EXPECT_LE(test::rel_err(out, ref.out), 1e-5);
    Tensor into(Shape{9, 5});
    test::poison(into);
    attention2d_into(q, k, v, into, causal, cpu());
    EXPECT_LE(test::rel_err(into, ref.out), 1e-5);
  }
}

TEST(Attention, LongSequenceBlockedPath) {
  std::mt19937_64 rng(test::fresh_seed());
  const Dims n{1, 1, 1, 600, 1000, 32, 32};
  const Inputs in = random_inputs(n, rng);
  AttentionParams params;
  params.causal = true;
  const Ref ref = reference(n, in.q, in.k, in.v, nullptr, true, 1.0 / std::sqrt(32.0));
  EXPECT_LE(test::rel_err(attention(in.q, in.k, in.v, params, cpu()), ref.out), 1e-5);
}

TEST(Attention, RowsThatSeeNoKeyAreZero) {
  std::mt19937_64 rng(test::fresh_seed());
  const Dims n{1, 1, 1, 10, 4, 8, 3};  // causal: queries 0..5 see nothing
  const Inputs in = random_inputs(n, rng);
  AttentionParams params;
  params.causal = true;
  const Tensor out = attention(in.q, in.k, in.v, params, cpu());
  const AttentionGrads g = attention_backward(in.q, in.k, in.v, in.dout, params, cpu());
  for (int i = 0; i < 6 * 3; ++i) EXPECT_EQ(out.data<float>()[i], 0.0f);
  for (int i = 0; i < 6 * 8; ++i) EXPECT_EQ(g.dq.data<float>()[i], 0.0f);
  EXPECT_NE(out.data<float>()[6 * 3], 0.0f);
}

TEST(Attention, ZeroSizes) {
  std::mt19937_64 rng(test::fresh_seed());
  // Sk = 0: zeros; Sq = 0: empty; the backward gives zeros where the other side is empty.
  const Inputs no_keys = random_inputs(Dims{1, 2, 1, 3, 0, 4, 5}, rng);
  const Tensor out = attention(no_keys.q, no_keys.k, no_keys.v, {}, cpu());
  EXPECT_EQ(out.shape(), (Shape{1, 2, 3, 5}));
  for (double x : test::to_f64(out)) EXPECT_EQ(x, 0.0);
  const AttentionGrads g =
      attention_backward(no_keys.q, no_keys.k, no_keys.v, no_keys.dout, {}, cpu());
  for (double x : test::to_f64(g.dq)) EXPECT_EQ(x, 0.0);
  EXPECT_EQ(g.dk.shape(), (Shape{1, 1, 0, 4}));
  const Inputs no_queries = random_inputs(Dims{1, 2, 1, 0, 3, 4, 5}, rng);
  EXPECT_EQ(attention(no_queries.q, no_queries.k, no_queries.v, {}, cpu()).numel(), 0);
  const AttentionGrads g2 =
      attention_backward(no_queries.q, no_queries.k, no_queries.v, no_queries.dout, {}, cpu());
  for (double x : test::to_f64(g2.dk)) EXPECT_EQ(x, 0.0);
  for (double x : test::to_f64(g2.dv)) EXPECT_EQ(x, 0.0);
}

TEST(Attention, NonFiniteValueReachesOnlyTheQueriesThatSeeIt) {
  std::mt19937_64 rng(test::fresh_seed());
  for (std::int64_t s : {8, 100}) {  // the one-vector path and the tiled path
    const Dims n{1, 1, 1, s, s, 16, 4};
    Inputs in = random_inputs(n, rng);
    in.v.data<float>()[(s / 2) * 4] = std::numeric_limits<float>::quiet_NaN();
    AttentionParams params;
    params.causal = true;
    const Tensor out = attention(in.q, in.k, in.v, params, cpu());
    for (std::int64_t i = 0; i < s; ++i)
      EXPECT_EQ(std::isnan(out.data<float>()[i * 4]), i >= s / 2) << "row " << i;
  }
}

TEST(Attention, BackendRunsOnViewsOfOneHead) {
  // The backend entry with B = H = 1 views, as the [S,D] front-end passes them.
  std::mt19937_64 rng(test::fresh_seed());
  const Dims n{1, 1, 1, 5, 6, 3, 2};
  const Inputs in = random_inputs(n, rng);
  Tensor out(Shape{1, 1, 5, 2});
  backend::AttentionProblem p;
  p.q = in.q;
  p.k = in.k;
  p.v = in.v;
  p.out = out;
  p.scale = 0.5;
  backend::cpu_backend().attention(p);
  EXPECT_LE(test::rel_err(out, reference(n, in.q, in.k, in.v, nullptr, false, 0.5).out), 1e-5);
}

// ---- contracts -------------------------------------------------------------------------------
TEST(AttentionContract, BadShapes) {
  const Tensor q(Shape{4, 8}), k(Shape{5, 8}), v(Shape{5, 3});
  Tensor out(Shape{4, 3});
  test::poison(out);
  auto both = [&](const TensorView& a, const TensorView& b, const TensorView& c,
                  const std::string& what) {
    expect_error<ValueError>([&] { attention2d(a, b, c, false, cpu()); }, "attention2d", what);
    expect_error<ValueError>([&] { attention2d_into(a, b, c, out, false, cpu()); },
                             "attention2d_into", what);
  };
  both(Tensor(Shape{4, 8, 1}), k, v, "q with 2 dimensions");
  both(q, Tensor(Shape{5}), v, "k with 2 dimensions");
  both(q, Tensor(Shape{5, 7}), v, "the same head dim D");
  both(q, k, Tensor(Shape{6, 3}), "the same number of keys");
  both(Tensor(Shape{4, 0}), Tensor(Shape{5, 0}), v, "head dim D >= 1");
  EXPECT_TRUE(all_nan(out));

  auto four = [&](Shape sq, Shape sk, Shape sv, const std::string& what) {
    const Tensor a(sq), b(sk), c(sv);
    expect_error<ValueError>([&] { attention(a, b, c, {}, cpu()); }, "attention", what);
    expect_error<ValueError>(
        [&] {
          attention_backward(a, b, c, Tensor(Shape{1, 2, 4, 3}), {}, cpu());
        },
        "attention_backward", what);
  };
  four(Shape{4, 8}, Shape{1, 1, 5, 8}, Shape{1, 1, 5, 3}, "q with 4 dimensions");
  four(Shape{2, 2, 4, 8}, Shape{1, 1, 5, 8}, Shape{1, 1, 5, 3}, "the same batch B");
  four(Shape{1, 4, 4, 8}, Shape{1, 2, 5, 8}, Shape{1, 1, 5, 3}, "the same number of heads");
  four(Shape{1, 6, 4, 8}, Shape{1, 4, 5, 8}, Shape{1, 4, 5, 3}, "H = 6 and Hkv = 4");
  four(Shape{1, 2, 4, 8}, Shape{1, 0, 5, 8}, Shape{1, 0, 5, 3}, "at least one head");
}

TEST(AttentionContract, BadScale) {
  const Tensor q(Shape{1, 1, 2, 4}), k(Shape{1, 1, 3, 4}), v(Shape{1, 1, 3, 4});
  Tensor out(Shape{1, 1, 2, 4});
  test::poison(out);
  for (double s : {0.0, -2.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    AttentionParams params;
    params.scale = s;
    expect_error<ValueError>([&] { attention(q, k, v, params, cpu()); }, "attention",
                             "scale finite and > 0");
    expect_error<ValueError>([&] { attention_into(q, k, v, out, params, cpu()); }, "attention_into",
                             "scale");
    expect_error<ValueError>([&] { attention_backward(q, k, v, out, params, cpu()); },
                             "attention_backward", "scale");
  }
  EXPECT_TRUE(all_nan(out));
}

TEST(AttentionContract, BadOutputs) {
  const Tensor q(Shape{4, 8}), k(Shape{5, 8}), v(Shape{5, 3});
  Tensor wrong(Shape{4, 4});
  test::poison(wrong);
  expect_error<ValueError>([&] { attention2d_into(q, k, v, wrong, false, cpu()); },
                           "attention2d_into", "out of shape (4, 3)");
  EXPECT_TRUE(all_nan(wrong));
  Tensor64 wide(Shape{4, 3});
  expect_error<TypeError>([&] { attention2d_into(q, k, v, wide, false, cpu()); },
                          "attention2d_into", "out to be float32");
  Tensor base(Shape{3, 4});
  test::poison(base);
  const TensorView transposed(base.data(), DType::f32, Shape{4, 3}, Shape{1, 4}, kCpu);
  expect_error<ValueError>([&] { attention2d_into(q, k, v, transposed, false, cpu()); },
                           "attention2d_into", "C-contiguous");
  TensorView read_only = base.reshape(Shape{4, 3}).view();
  read_only.writable = false;
  expect_error<ValueError>([&] { attention2d_into(q, k, v, read_only, false, cpu()); },
                           "attention2d_into", "writeable");
  EXPECT_TRUE(all_nan(base));
}

TEST(AttentionContract, BadTypesAndDout) {
  const Tensor q(Shape{1, 1, 4, 8}), k(Shape{1, 1, 5, 8}), v(Shape{1, 1, 5, 3});
  TensorView none;
  none.invalid = "None";
  expect_error<TypeError>([&] { attention(q, none, v, {}, cpu()); }, "attention",
                          "k to be a float32 array, got None");
  expect_error<TypeError>(
      [&] {
        attention(q, k, Tensor64(Shape{1, 1, 5, 3}), {}, cpu());
      },
      "attention", "v to be float32");
  expect_error<TypeError>([&] { attention_backward(q, k, v, none, {}, cpu()); },
                          "attention_backward", "dout");
  expect_error<ValueError>(
      [&] {
        attention_backward(q, k, v, Tensor(Shape{1, 1, 4, 8}), {}, cpu());
      },
      "attention_backward", "dout of shape (1, 1, 4, 3)");
}

}  // namespace
}  // namespace lc
