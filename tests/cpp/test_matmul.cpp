// matmul family: the CPU GEMM kernel against a naive float64 loop (every path: direct, packed,
// threaded, batched, edge tiles, epilogues), the front-ends' contracts, the pure heuristics.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "backends/backend.h"
#include "backends/cpu/gemm_blocking.h"
#include "test_helpers.h"

namespace lc {
namespace {

struct Case {
  std::int64_t batch, m, n, k;
  bool ta, tb;
  double alpha, beta;
  bool bias;
  Activation act;
  bool broadcast_b = false;
};

double act_ref(double r, Activation act) {
  if (act == Activation::relu) return r < 0 ? 0.0 : r;
  if (act == Activation::gelu) return 0.5 * r * (1.0 + std::erf(r / std::sqrt(2.0)));
  return r;
}

// Runs the backend GEMM on random data and returns the relative error against a float64 loop.
double gemm_error(const Case& c, DType dtype, std::mt19937_64& rng) {
  const std::int64_t sa = c.m * c.k, sb = c.broadcast_b ? 0 : c.k * c.n, sc = c.m * c.n;
  Tensor A = test::random_tensor(Shape{c.batch * sa}, rng, dtype);
  Tensor B = test::random_tensor(Shape{c.broadcast_b ? c.k * c.n : c.batch * sb}, rng, dtype);
  Tensor C = test::random_tensor(Shape{c.batch * sc}, rng, dtype);
  Tensor bias = test::random_tensor(Shape{c.n}, rng, dtype);
  if (c.beta == 0) test::poison(C);  // beta == 0: C is never read
  const std::vector<double> a = test::to_f64(A), b = test::to_f64(B), c0 = test::to_f64(C),
                            bi = test::to_f64(bias);
  backend::GemmProblem p;
  p.a = A.data();
  p.b = B.data();
  p.c = C.data();
  p.dtype = dtype;
  p.batch = c.batch;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.stride_a = sa;
  p.stride_b = sb;
  p.stride_c = sc;
  p.trans_a = c.ta;
  p.trans_b = c.tb;
  p.alpha = c.alpha;
  p.beta = c.beta;
  p.bias = c.bias ? bias.data() : nullptr;
  p.act = c.act;
  backend::cpu_backend().gemm(p);
  // Relative to the reference, floored at the typical size of a result (|alpha| |a| |b| +
  // |beta c| + |bias| over sqrt(k)) for the odd output whose terms cancel to near zero.
  std::vector<double> ref(c0.size());
  double num = 0, den = 0, den_abs = 0;
  const auto out = test::to_f64(C);
  for (std::int64_t q = 0; q < c.batch; ++q)
    for (std::int64_t i = 0; i < c.m; ++i)
      for (std::int64_t j = 0; j < c.n; ++j) {
        double acc = 0, acc_abs = 0;
        for (std::int64_t l = 0; l < c.k; ++l) {
          const double av = a[q * sa + (c.ta ? l * c.m + i : i * c.k + l)];
          const double bv = b[q * sb + (c.tb ? j * c.k + l : l * c.n + j)];
          acc += av * bv;
          acc_abs += std::abs(av * bv);
        }
        const std::int64_t o = q * sc + i * c.n + j;
        const double r =
            c.alpha * acc + (c.beta != 0 ? c.beta * c0[o] : 0.0) + (c.bias ? bi[j] : 0.0);
        const double r_abs = std::abs(c.alpha) * acc_abs +
                             (c.beta != 0 ? std::abs(c.beta * c0[o]) : 0.0) +
                             (c.bias ? std::abs(bi[j]) : 0.0);
        ref[o] = act_ref(r, c.act);
        if (std::isnan(out[o])) return std::numeric_limits<double>::infinity();
        num += (out[o] - ref[o]) * (out[o] - ref[o]);
        den += ref[o] * ref[o];
        den_abs += r_abs * r_abs;
      }
  return std::sqrt(
      num / std::max({den, den_abs / static_cast<double>(std::max<std::int64_t>(c.k, 1)), 1e-300}));
}

double tol(DType d) { return d == DType::f32 ? 1e-5 : 1e-12; }

TEST(GemmKernel, EdgeTilesEveryTransposeAndEpilogue) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::int64_t dims[] = {1, 3, 7, 13, 14, 15, 17, 31, 33, 65};
  int i = 0;
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t m : dims)
      for (std::int64_t n : dims)
        for (std::int64_t k : {1, 5, 33})
          for (int t = 0; t < 4; ++t) {  // every transpose pair for every shape
            ++i;
            const Case c{1,
                         m,
                         n,
                         k,
                         (t & 1) != 0,
                         (t & 2) != 0,
                         i % 5 == 0 ? -0.5 : 1.0,
                         i % 4 == 0 ? 0.75 : 0.0,
                         i % 7 < 4,
                         static_cast<Activation>(i % 3)};
            ASSERT_LE(gemm_error(c, dt, rng), tol(dt))
                << m << "x" << n << "x" << k << " ta=" << c.ta << " tb=" << c.tb;
          }
}

TEST(GemmKernel, PackedPathMultipleBlocksAndThreads) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // K spans several KC blocks (first/last epilogue flags), M several MC blocks, N > 1 panel.
  for (DType dt : {DType::f32, DType::f64})
    for (int t = 0; t < 4; ++t) {
      const Case c{1,
                   301,
                   259,
                   777,
                   (t & 1) != 0,
                   (t & 2) != 0,
                   1.5,
                   t == 3 ? 0.5 : 0.0,
                   true,
                   static_cast<Activation>(t % 3)};
      EXPECT_LE(gemm_error(c, dt, rng), tol(dt)) << "t=" << t;
    }
  const Case skinny{1, 2, 3000, 700, false, true, 1.0, 0.0, true, Activation::gelu};
  EXPECT_LE(gemm_error(skinny, DType::f32, rng), 1e-5);
  const Case tall{1, 2500, 40, 300, true, false, 1.0, 1.0, false, Activation::relu};
  EXPECT_LE(gemm_error(tall, DType::f32, rng), 1e-5);
  const Case wide{1, 43, 4100, 513, false, false, 1.0, 0.25, true, Activation::gelu};  // N > nc
  EXPECT_LE(gemm_error(wide, DType::f32, rng), 1e-5);
}

TEST(GemmKernel, FewRowsTimesTransposedB) {
  // The dot-product form: a few rows of a against w (N, K) rows; K too long for the stack copy.
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int i = 0;
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t m : {1, 2, 3, 4, 5, 9, 16})
      for (std::int64_t n : {1, 3, 4, 7, 63, 130})
        for (std::int64_t k : {300, 517}) {
          ++i;
          const Case c{1,
                       m,
                       n,
                       k,
                       i % 3 == 0,
                       true,
                       i % 2 ? 1.0 : -2.0,
                       i % 4 == 0 ? 0.5 : 0.0,
                       i % 5 != 0,
                       static_cast<Activation>(i % 3)};
          ASSERT_LE(gemm_error(c, dt, rng), tol(dt)) << m << "x" << n << "x" << k << " ta=" << c.ta;
        }
  const Case big{1, 8, 4000, 1000, false, true, 1.0, 0.0, true, Activation::gelu};  // threaded
  EXPECT_LE(gemm_error(big, DType::f32, rng), 1e-5);
}

TEST(GemmKernel, FewRowsWideTiles) {
  // 1..4 rows against a wide B: wide tiles while whole ones fit, 32-column tiles after.
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int i = 0;
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t m : {1, 2, 3, 4, 5, 18})
      for (std::int64_t n : {63, 385, 1000})
        for (std::int64_t k : {7, 300}) {
          ++i;
          const Case c{1,          m,
                       n,          k,
                       i % 2 == 0, i % 3 == 0,
                       1.0,        i % 4 == 0 ? 0.5 : 0.0,
                       i % 5 != 0, static_cast<Activation>(i % 3)};
          ASSERT_LE(gemm_error(c, dt, rng), tol(dt))
              << m << "x" << n << "x" << k << " ta=" << c.ta << " tb=" << c.tb;
        }
}

TEST(GemmKernel, BatchedStridesAndBroadcast) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (DType dt : {DType::f32, DType::f64}) {
    EXPECT_LE(gemm_error({7, 33, 17, 65, false, false, 1.0, 0.0, true, Activation::none}, dt, rng),
              tol(dt));
    EXPECT_LE(gemm_error({64, 24, 24, 24, true, true, 1.0, 0.5, false, Activation::relu}, dt, rng),
              tol(dt));
    // Items on several threads at once (each too small to split).
    EXPECT_LE(gemm_error({96, 48, 40, 48, false, true, 1.0, 0.0, true, Activation::gelu}, dt, rng),
              tol(dt));
    EXPECT_LE(
        gemm_error({5, 17, 40, 9, false, true, 2.0, 0.0, true, Activation::gelu, true}, dt, rng),
        tol(dt));
    EXPECT_LE(gemm_error({3, 200, 300, 100, false, false, 1.0, 0.0, false, Activation::none, true},
                         dt, rng),
              tol(dt));
  }
}

TEST(GemmKernel, KZeroIsBetaCPlusBias) {
  std::mt19937_64 rng(test::fresh_seed());
  for (DType dt : {DType::f32, DType::f64}) {
    EXPECT_LE(gemm_error({1, 5, 9, 0, false, false, 1.0, 0.0, true, Activation::gelu}, dt, rng),
              tol(dt));
    EXPECT_LE(gemm_error({2, 40, 70, 0, true, true, 1.0, 2.0, true, Activation::relu}, dt, rng),
              tol(dt));
    EXPECT_LE(
        gemm_error({1, 300, 300, 0, false, false, 1.0, 0.0, false, Activation::none}, dt, rng),
        tol(dt));
  }
}

TEST(GemmKernel, NeverWritesOutsideC) {
  // C sits inside a larger poisoned-with-sentinel buffer: edge tiles must not touch the rest.
  std::mt19937_64 rng(test::fresh_seed());
  for (std::int64_t n : {1, 15, 17, 33}) {
    const std::int64_t m = 15, k = 9, pad = 64;
    Tensor A = test::random_tensor(Shape{m * k}, rng), B = test::random_tensor(Shape{k * n}, rng);
    Tensor buf(Shape{m * n + 2 * pad});
    for (std::int64_t i = 0; i < buf.numel(); ++i) buf.data<float>()[i] = 12345.0f;
    backend::GemmProblem p;
    p.a = A.data();
    p.b = B.data();
    p.c = buf.data<float>() + pad;
    p.m = m;
    p.n = n;
    p.k = k;
    backend::cpu_backend().gemm(p);
    for (std::int64_t i = 0; i < pad; ++i) {
      EXPECT_EQ(buf.data<float>()[i], 12345.0f);
      EXPECT_EQ(buf.data<float>()[pad + m * n + i], 12345.0f);
    }
  }
}

// ---- front-ends -------------------------------------------------------------------------------

std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, std::int64_t m, std::int64_t k,
                                 std::int64_t n) {
  const auto av = test::to_f64(a), bv = test::to_f64(b);
  std::vector<double> r(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t l = 0; l < k; ++l) r[i * n + j] += av[i * k + l] * bv[l * n + j];
  return r;
}

TEST(MatmulOps, Matmul2dAndGemmMatchNaive) {
  std::mt19937_64 rng(test::fresh_seed());
  const Policy cpu = test::cpu_policy();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = test::random_tensor(Shape{33, 65}, rng, dt),
           b = test::random_tensor(Shape{65, 17}, rng, dt);
    const auto ref = naive_matmul(a, b, 33, 65, 17);
    EXPECT_LE(test::rel_err(matmul2d(a, b, cpu), ref), tol(dt));
    Tensor out(Shape{33, 17}, dt);
    test::poison(out);
    matmul2d_into(a, b, out, cpu);
    EXPECT_LE(test::rel_err(out, ref), tol(dt));
    // a^T stored: a strided view is read as the transpose.
    Tensor at = contiguous_copy(TensorView(a.data(), dt, Shape{65, 33}, Shape{1, 65}, kCpu));
    TensorView at_t(at.data(), dt, Shape{33, 65}, Shape{1, 33}, kCpu);
    EXPECT_LE(test::rel_err(gemm(at, b, true, false, 1.0, cpu), ref), tol(dt));
    EXPECT_LE(test::rel_err(matmul(at_t, b, cpu), ref), tol(dt));
  }
}

TEST(MatmulOps, BatchedBroadcastAndVectors) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor a = test::random_tensor(Shape{2, 1, 5, 7}, rng),
         b = test::random_tensor(Shape{3, 7, 4}, rng);
  Tensor y = matmul(a, b);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5, 4}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j) {
      Tensor ai(Shape{5, 7}), bj(Shape{7, 4}), yij(Shape{5, 4});
      std::copy_n(a.data<float>() + i * 35, 35, ai.data<float>());
      std::copy_n(b.data<float>() + j * 28, 28, bj.data<float>());
      std::copy_n(y.data<float>() + (i * 3 + j) * 20, 20, yij.data<float>());
      EXPECT_LE(test::rel_err(yij, naive_matmul(ai, bj, 5, 7, 4)), 1e-5);
    }
  Tensor v = test::random_tensor(Shape{7}, rng);
  EXPECT_EQ(matmul(v, b).shape(), (Shape{3, 4}));
  EXPECT_EQ(matmul(a, v).shape(), (Shape{2, 1, 5}));
  EXPECT_EQ(matmul(v, v).shape(), Shape{});
}

TEST(MatmulOps, LinearBiasActivationAndZeroK) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor x = test::random_tensor(Shape{4, 6}, rng), w = test::random_tensor(Shape{5, 6}, rng);
  Tensor b = test::random_tensor(Shape{5}, rng);
  const auto xv = test::to_f64(x), wv = test::to_f64(w), bv = test::to_f64(b);
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
    std::vector<double> ref(20);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 5; ++j) {
        double r = bv[j];
        for (int l = 0; l < 6; ++l) r += xv[i * 6 + l] * wv[j * 6 + l];
        ref[i * 5 + j] = act_ref(r, act);
      }
    EXPECT_LE(test::rel_err(linear(x, w, b, act), ref), 1e-5);
  }
  Tensor x0(Shape{3, 0}), w0(Shape{5, 0});
  Tensor y = linear(x0, w0, b, Activation::relu);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j)
      EXPECT_EQ(y.data<float>()[i * 5 + j], std::max(0.0f, b.data<float>()[j]));
}

TEST(MatmulOps, ContractErrors) {
  Tensor a(Shape{2, 3}), b(Shape{3, 5}), out(Shape{2, 5});
  TensorView none;
  none.invalid = "None";
  EXPECT_THROW(matmul(none, b), TypeError);
  EXPECT_THROW(gemm(a, none, false, false), TypeError);
  EXPECT_THROW(linear(a, none), TypeError);
  EXPECT_THROW(matmul(Tensor64(Shape{2, 3}), b), TypeError);
  EXPECT_THROW(linear(a, Tensor(Shape{4, 3}), OptView(Tensor64(Shape{4}))), TypeError);
  EXPECT_THROW(matmul(Tensor(Shape{2, 3, 4}), Tensor(Shape{3, 4, 5})), ValueError);  // batch
  EXPECT_THROW(matmul(Tensor(Shape{}), b), ValueError);
  EXPECT_THROW(gemm(a, b, true, false), ValueError);
  EXPECT_THROW(gemm(Tensor(Shape{2}), b, false, false), ValueError);
  EXPECT_THROW(gemm_into(a, b, Tensor(Shape{5, 2}), false, false), ValueError);
  EXPECT_THROW(gemm_into(a, b, Tensor64(Shape{2, 5}), false, false), TypeError);
  EXPECT_THROW(linear(a, Tensor(Shape{4, 2})), ValueError);
  EXPECT_THROW(linear(a, Tensor(Shape{4, 3}), OptView(Tensor(Shape{5}))), ValueError);
  EXPECT_THROW(linear_into(a, Tensor(Shape{4, 3}), std::nullopt, out), ValueError);
  TensorView strided(Tensor(Shape{5, 2}).data(), DType::f32, Shape{2, 5}, Shape{1, 2}, kCpu);
  EXPECT_THROW(matmul_into(a, b, strided), ValueError);
  TensorView readonly = out.view();
  readonly.writable = false;
  EXPECT_THROW(matmul2d_into(a, b, readonly), ValueError);
  try {
    matmul(a, Tensor(Shape{4, 5}));
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[matmul] expected", 0), 0u) << e.what();
  }
}

TEST(MatmulOps, ParseActivation) {
  EXPECT_EQ(parse_activation("none"), Activation::none);
  EXPECT_EQ(parse_activation("relu"), Activation::relu);
  EXPECT_EQ(parse_activation("gelu"), Activation::gelu);
  EXPECT_STREQ(activation_name(Activation::gelu), "gelu");
  try {
    parse_activation("tanh", "linear_into");
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "[linear_into] expected activation 'none', 'relu' or 'gelu', got 'tanh'");
  }
}

// ---- heuristics -------------------------------------------------------------------------------

TEST(GemmHeuristics, BlockingFitsCachesAndTiles) {
  using namespace cpu::gemm_detail;
  for (std::int64_t s : {1, 14, 100, 1000, 5000}) {
    const Blocking b = gemm_blocking(s, s, s, 14, 32, 4);
    EXPECT_EQ(b.mc % 14, 0);
    EXPECT_EQ(b.nc % 32, 0);
    EXPECT_LE(b.kc * 32 * 4, 64 * 1024);  // B micro-panel: a slice of L2
    EXPECT_LE(b.mc * b.kc * 4, 256 * 1024 + 14 * b.kc * 4);
    EXPECT_GE(b.kc, std::min<std::int64_t>(s, 16));
  }
  EXPECT_EQ(gemm_blocking(8, 8, 0, 14, 32, 4).kc, 0);
  EXPECT_EQ(gemm_blocking(8, 8, 700, 14, 32, 4).kc, 350);  // two equal K blocks, not 512 + 188
}

TEST(GemmHeuristics, ThreadsAndSplit) {
  using namespace cpu::gemm_detail;
  auto flops = [](double s) { return 2 * s * s * s; };
  auto bytes = [](double s) { return 3 * s * s * 4; };
  EXPECT_EQ(gemm_threads(flops(8), bytes(8), 1, 16), 1);  // tiny: never a thread
  EXPECT_EQ(gemm_threads(flops(64), bytes(64), 1, 16), 1);
  EXPECT_EQ(gemm_threads(flops(1024), bytes(1024), 5, 2), 2);
  EXPECT_EQ(gemm_threads(flops(1024), bytes(1024), 5, 1), 1);
  EXPECT_EQ(gemm_threads(flops(256), bytes(256), 1, 2), 2);
  EXPECT_EQ(gemm_threads(flops(256), bytes(256), 40, 2),
            1);                                  // a fork-join per region eats the gain
  EXPECT_EQ(gemm_threads(2e7, 6.4e6, 1, 2), 2);  // little arithmetic, much memory traffic
  const Split tall = gemm_split(1024, 64, 2, 14, 32);
  EXPECT_EQ(tall.parts_m, 2);
  const Split wide = gemm_split(16, 4096, 2, 14, 32);
  EXPECT_EQ(wide.parts_n, 2);
  EXPECT_FALSE(gemm_batch_parallel(1, 1e9, 2, 2));
  EXPECT_TRUE(gemm_batch_parallel(64, 5e5, 1, 2));
  EXPECT_FALSE(gemm_batch_parallel(4, 1e3, 1, 2));  // too little work in all
  EXPECT_FALSE(gemm_batch_parallel(3, 1e9, 2, 2));  // 2 + 1 items: split each instead
}

}  // namespace
}  // namespace lc
