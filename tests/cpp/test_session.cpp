// MatmulSession: step semantics and the argument checks every call makes.
#include "test_helpers.h"

namespace lc::test {
namespace {

std::vector<double> ref_matmul(const Tensor& a, const Tensor& b) {
  const auto M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  const auto A = to_f64(a), B = to_f64(b);
  std::vector<double> c(static_cast<std::size_t>(M * N), 0.0);
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t j = 0; j < N; ++j) c[i * N + j] += A[i * K + k] * B[k * N + j];
  return c;
}

bool all_nan(const Tensor& t) {
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t.data<float>()[i])) return false;
  return true;
}

TEST(MatmulSession, StepsDoWhatTheySay) {
  const auto seed = fresh_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tensor a = random_tensor({7, 17}, rng), b = random_tensor({17, 33}, rng), out({7, 33});
  MatmulSession s(a, b, cpu_policy());
  EXPECT_TRUE(s.device().is_cpu());
  EXPECT_EQ(s.out_shape(), (Shape{7, 33}));
  poison(out);
  s.start_into(a, b, out);
  EXPECT_LE(rel_err(out, ref_matmul(a, b)), 1e-5);

  Tensor a2 = random_tensor({7, 17}, rng), b2 = random_tensor({17, 33}, rng);
  poison(out);
  s.run_into(a2, b2, out);  // resident inputs, no download
  EXPECT_TRUE(all_nan(out));
  s.finish_into(out);
  EXPECT_LE(rel_err(out, ref_matmul(a, b)), 1e-5);

  s.upload(a2, b2);
  poison(out);
  s.run_batch_sync_no_download_into(a2, b2, out, 3);
  EXPECT_TRUE(all_nan(out));
  s.download_into(out);
  EXPECT_LE(rel_err(out, ref_matmul(a2, b2)), 1e-5);
}

TEST(MatmulSession, EveryCallChecksShapes) {
  std::mt19937_64 rng(fresh_seed());
  Tensor a = random_tensor({4, 5}, rng), b = random_tensor({5, 6}, rng), out({4, 6});
  MatmulSession s(a, b, cpu_policy());
  Tensor a_bad = random_tensor({4, 4}, rng), out_bad({6, 4});
  poison(out);
  const std::string pre = "[matmul2d_resident_session] expected ";
  auto expect = [&](auto&& f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << what;
    } catch (const ValueError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(pre + what, 0), 0u) << e.what();
    }
  };
  expect([&] { s.start_into(a_bad, b, out); }, "a of shape (4, 5)");
  expect([&] { s.run_into(a, a_bad, out); }, "b of shape (5, 6)");
  expect([&] { s.run_batch_sync_no_download_into(a, b, out_bad, 1); }, "out of shape (4, 6)");
  expect([&] { s.download_into(out_bad); }, "out of shape (4, 6)");
  expect([&] { s.finish_into(out_bad); }, "out of shape (4, 6)");
  expect([&] { s.upload(a, a_bad); }, "b of shape (5, 6)");
  expect([&] { s.run_batch_sync_no_download_into(a, b, out, -2); }, "n >= 0");
  expect([&] { MatmulSession(a, a_bad, cpu_policy()); }, "a (M, K) and b (K, N) with matching K");
  EXPECT_TRUE(all_nan(out));
  EXPECT_THROW(MatmulSession(a, b, cpu_policy().with_device("metal")), DeviceUnavailableError);
}

}  // namespace
}  // namespace lc::test
