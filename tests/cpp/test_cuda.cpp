// The CUDA backend's core: availability, memory, copies, errors, and every core op on the GPU
// against a float64 reference and against the CPU backend on the same inputs. Every GPU test
// skips, with the reason, when no CUDA device is usable.
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "test_helpers.h"

namespace lc {
namespace {

using test::rel_err;
using test::to_f64;

#define REQUIRE_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason()

const Device kGpu{DeviceKind::cuda, 0};

Policy gpu_policy(Precision p = Precision::fp32) {
  Policy q;
  q.device = "cuda";
  q.precision = p;
  return q;
}

Tensor to_host(const Tensor& t) { return t.to(kCpu); }

Tensor as_f64(const Tensor& t) {
  Tensor64 out(t.shape());
  const auto v = to_f64(to_host(t));
  std::memcpy(out.data(), v.data(), v.size() * sizeof(double));
  return out;
}

Tensor nan_tensor(const Shape& s, Device d, DType dtype = DType::f32) {
  Tensor h(s, dtype);
  test::poison(h);
  return h.to(d);
}

// `v` in the dtype of `like`, on the policy's device (second operands of the checked ops).
Tensor matching(const Tensor& v, const Tensor& like, const Policy& p) {
  Tensor u = like.dtype() == DType::f64 ? as_f64(v) : v;
  return p.device == "cpu" ? u : u.to(kGpu);
}

// ||gpu - ref|| / ||ref|| with both brought to the host.
double err(const Tensor& gpu, const Tensor& ref) {
  return rel_err(to_host(gpu), to_f64(to_host(ref)));
}

TEST(CudaCore, UnavailableIsExplained) {
  if (cuda_available()) {
    EXPECT_EQ(cuda_unavailable_reason(), "");
    EXPECT_EQ(backend::backend_for(kGpu).device(), kGpu);
    return;
  }
  EXPECT_FALSE(cuda_unavailable_reason().empty());
  EXPECT_THROW(parse_device("cuda"), DeviceUnavailableError);
  EXPECT_EQ(devices().size(), 1u);
}

TEST(CudaCore, CopiesRoundTrip) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  // Empty, tiny, not a multiple of anything, and larger than two 8 MiB staging chunks.
  for (std::int64_t n : {0, 1, 7, 1000003, 5 * 1024 * 1024 + 3}) {
    Tensor h = test::random_tensor(Shape{n}, rng);
    Tensor d = h.to(kGpu);
    EXPECT_EQ(d.device(), kGpu);
    Tensor d2 = d.clone();  // device-to-device
    Tensor back = to_host(d2);
    ASSERT_EQ(back.numel(), n);
    EXPECT_EQ(std::memcmp(back.data(), h.data(), h.nbytes()), 0) << n;
  }
}

TEST(CudaCore, OutOfMemoryIsRecoverable) {
  REQUIRE_GPU();
  try {
    Tensor huge(Shape{std::int64_t{1} << 42}, DType::f32, kGpu);  // 16 TiB
    FAIL() << "allocated 16 TiB";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("[cuda] expected"), std::string::npos) << e.what();
  }
  // The process and the device keep working.
  std::mt19937_64 rng(test::fresh_seed());
  Tensor a = test::random_tensor(Shape{33, 17}, rng), b = test::random_tensor(Shape{17, 9}, rng);
  Tensor c = matmul2d(a.to(kGpu), b.to(kGpu), gpu_policy());
  EXPECT_LE(err(c, matmul2d(as_f64(a), as_f64(b), test::cpu_policy())), 1e-5);
}

// ---- GEMM ------------------------------------------------------------------------------------

double precision_tol(Precision p) {
  switch (p) {
    case Precision::tf32:
      return 2e-3;
    case Precision::fp16:
      return 5e-3;
    case Precision::bf16:
      return 2e-2;
    default:
      return 1e-5;
  }
}

TEST(CudaCore, Matmul2dPrecisionsVsFloat64AndCpu) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  const std::int64_t shapes[][3] = {
      {1, 1, 1}, {7, 33, 17}, {65, 127, 3}, {128, 256, 64}, {257, 129, 511}};
  for (Precision prec : {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16}) {
    for (const auto& s : shapes) {
      SCOPED_TRACE(std::string(precision_name(prec)) + " " + std::to_string(s[0]) + "x" +
                   std::to_string(s[1]) + "x" + std::to_string(s[2]));
      Tensor a = test::random_tensor(Shape{s[0], s[1]}, rng),
             b = test::random_tensor(Shape{s[1], s[2]}, rng);
      Tensor out = nan_tensor(Shape{s[0], s[2]}, kGpu);
      matmul2d_into(a.to(kGpu), b.to(kGpu), out, gpu_policy(prec));
      const Tensor ref = matmul2d(as_f64(a), as_f64(b), test::cpu_policy());
      EXPECT_LE(err(out, ref), precision_tol(prec));
      if (prec == Precision::fp32) {
        EXPECT_LE(err(out, matmul2d(a, b, test::cpu_policy())), 1e-5);
      }
    }
  }
}

TEST(CudaCore, Float64Gemm) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  Tensor a = test::random_tensor(Shape{37, 19}, rng, DType::f64),
         b = test::random_tensor(Shape{19, 45}, rng, DType::f64);
  Tensor c = matmul2d(a.to(kGpu), b.to(kGpu), gpu_policy());
  EXPECT_EQ(c.dtype(), DType::f64);
  EXPECT_LE(err(c, matmul2d(a, b, test::cpu_policy())), 1e-12);
}

// The backend entry directly: transposes, alpha/beta, batch strides with broadcast, bias and
// activations, compared with the CPU backend on the same inputs.
TEST(CudaCore, BackendGemmEpiloguesAndBatches) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  auto& gpu = backend::backend_for(kGpu);
  auto& cpu = backend::cpu_backend();
  for (DType dtype : {DType::f32, DType::f64}) {
    for (int variant = 0; variant < 8; ++variant) {
      backend::GemmProblem p;
      p.dtype = dtype;
      p.batch = variant % 2 ? 3 : 1;
      p.m = 19;
      p.n = 33;
      p.k = 7 + variant;
      p.trans_a = variant & 2;
      p.trans_b = variant & 4;
      p.alpha = variant % 3 ? 1.0 : 0.5;
      p.beta = variant >= 4 ? 0.25 : 0.0;
      p.act = static_cast<Activation>(variant % 3);
      p.stride_a = p.m * p.k;
      p.stride_b = variant == 3 ? 0 : p.k * p.n;  // broadcast b over the batch
      p.stride_c = p.m * p.n;
      SCOPED_TRACE("dtype " + std::string(dtype_name(dtype)) + " variant " +
                   std::to_string(variant));
      Tensor a = test::random_tensor(Shape{p.batch * p.m * p.k}, rng, dtype);
      Tensor b = test::random_tensor(Shape{p.batch * p.k * p.n}, rng, dtype);
      Tensor bias = test::random_tensor(Shape{p.n}, rng, dtype);
      Tensor c0 = test::random_tensor(Shape{p.batch * p.m * p.n}, rng, dtype);
      Tensor ga = a.to(kGpu), gb = b.to(kGpu), gbias = bias.to(kGpu), gc = c0.to(kGpu);
      Tensor hc = c0.clone();
      const bool with_bias = variant != 5;
      auto run = [&](backend::Backend& be, const Tensor& A, const Tensor& B, const Tensor& bi,
                     const Tensor& C) {
        backend::GemmProblem q = p;
        q.a = A.data();
        q.b = B.data();
        q.c = C.data();
        q.bias = with_bias ? bi.data() : nullptr;
        be.gemm(q);
      };
      run(gpu, ga, gb, gbias, gc);
      run(cpu, a, b, bias, hc);
      EXPECT_LE(rel_err(to_host(gc), to_f64(hc)), dtype == DType::f32 ? 1e-5 : 1e-12);
    }
  }
}

TEST(CudaCore, LinearAndBatchedMatmulOnDevice) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  Tensor x = test::random_tensor(Shape{5, 7, 33}, rng), w = test::random_tensor(Shape{17, 33}, rng);
  Tensor bias = test::random_tensor(Shape{17}, rng);
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
    Tensor y = linear(x.to(kGpu), w.to(kGpu), bias.to(kGpu).view(), act, gpu_policy());
    EXPECT_EQ(y.device(), kGpu);  // device inputs give a device result
    EXPECT_LE(err(y, linear(as_f64(x), as_f64(w), as_f64(bias).view(), act, test::cpu_policy())),
              1e-5);
  }
  Tensor a = test::random_tensor(Shape{4, 1, 9, 13}, rng),
         b = test::random_tensor(Shape{3, 13, 6}, rng);
  Tensor c = matmul(a.to(kGpu), b.to(kGpu), gpu_policy());
  EXPECT_LE(err(c, matmul(as_f64(a), as_f64(b), test::cpu_policy())), 1e-5);
}

// ---- elementwise, row-wise, transpose ---------------------------------------------------------

using RowOp = std::function<Tensor(const Tensor&, const Policy&)>;

// f on the GPU (float32 and float64) vs f on the CPU with float64 inputs (the reference) and
// with float32 inputs (the CPU backend on the same data).
void check_against_cpu(const RowOp& f, const Tensor& x32, double tol, const std::string& what) {
  SCOPED_TRACE(what);
  const Tensor ref = f(as_f64(x32), test::cpu_policy());
  const Tensor g = f(x32.to(kGpu), gpu_policy());
  EXPECT_EQ(g.device(), kGpu);
  EXPECT_LE(err(g, ref), tol);
  EXPECT_LE(err(g, f(x32, test::cpu_policy())), tol);
  EXPECT_LE(err(f(as_f64(x32).to(kGpu), gpu_policy()), ref), 1e-12);
}

TEST(CudaCore, ElementwiseOps) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  for (std::int64_t n : {1, 3, 17, 1027, 300001}) {
    Tensor x = test::random_tensor(Shape{n}, rng);
    for (UnaryOp op : {UnaryOp::relu, UnaryOp::gelu, UnaryOp::silu, UnaryOp::sigmoid, UnaryOp::tanh,
                       UnaryOp::exp, UnaryOp::neg, UnaryOp::abs, UnaryOp::sqrt}) {
      check_against_cpu([op](const Tensor& t, const Policy& p) { return unary(op, t, p); }, x, 1e-6,
                        std::string(unary_name(op)) + " n=" + std::to_string(n));
    }
    Tensor y = test::random_tensor(Shape{n}, rng);
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul}) {
      check_against_cpu(
          [&](const Tensor& t, const Policy& p) { return binary(op, t, matching(y, t, p), p); }, x,
          1e-6, std::string(binary_name(op)));
    }
  }
  // Broadcasting: (M,N) op (N), (M,1), a scalar; offsets unaligned for the vector path.
  Tensor a = test::random_tensor(Shape{37, 129}, rng);
  for (Shape bs : {Shape{129}, Shape{37, 1}, Shape{}, Shape{1, 129}}) {
    Tensor b = test::random_tensor(bs, rng);
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
      Tensor g = binary(op, a.to(kGpu), b.to(kGpu), gpu_policy());
      EXPECT_LE(err(g, binary(op, as_f64(a), as_f64(b), test::cpu_policy())), 1e-6) << bs.str();
    }
  }
  Tensor ax = axpy(0.75, a.to(kGpu), a.to(kGpu), gpu_policy());
  EXPECT_LE(err(ax, axpy(0.75, as_f64(a), as_f64(a), test::cpu_policy())), 1e-6);
}

TEST(CudaCore, RowwiseOpsAcrossKernelSizes) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  // Each width picks a different kernel: warp per row, block per row, streamed (> 8192).
  for (std::int64_t cols :
       {1, 3, 7, 33, 127, 128, 1000, 1024, 1025, 4096, 5000, 8192, 8193, 40000}) {
    const std::int64_t rows = cols > 4096 ? 5 : 37;
    Tensor x = test::random_tensor(Shape{rows, cols}, rng);
    Tensor w = test::random_tensor(Shape{cols}, rng), b = test::random_tensor(Shape{cols}, rng);
    const std::string tag = " cols=" + std::to_string(cols);
    check_against_cpu([](const Tensor& t, const Policy& p) { return softmax(t, p); }, x, 1e-5,
                      "softmax" + tag);
    check_against_cpu([](const Tensor& t, const Policy& p) { return log_softmax(t, p); }, x, 1e-5,
                      "log_softmax" + tag);
    check_against_cpu(
        [&](const Tensor& t, const Policy& p) {
          return layer_norm(t, matching(w, t, p).view(), matching(b, t, p).view(), 1e-5, p);
        },
        x, 1e-5, "layer_norm" + tag);
    check_against_cpu(
        [&](const Tensor& t, const Policy& p) {
          return rms_norm(t, matching(w, t, p).view(), 1e-6, p);
        },
        x, 1e-5, "rms_norm" + tag);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max})
      check_against_cpu([op](const Tensor& t, const Policy& p) { return reduce(op, t, p); }, x,
                        1e-5, "reduce " + std::to_string(static_cast<int>(op)) + tag);
  }
}

TEST(CudaCore, FewLongRowsReduceInParts) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  Tensor x = test::random_tensor(Shape{3, 1 << 20}, rng);
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max})
    check_against_cpu([op](const Tensor& t, const Policy& p) { return reduce(op, t, p); }, x, 1e-5,
                      "split");
}

TEST(CudaCore, TransposeIsExact) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  for (Shape s : {Shape{1, 5}, Shape{33, 65}, Shape{3, 100, 31}, Shape{2, 2, 1000, 7}}) {
    Tensor x = test::random_tensor(s, rng);
    Tensor g = to_host(transpose(x.to(kGpu), gpu_policy()));
    Tensor c = transpose(x, test::cpu_policy());
    ASSERT_EQ(g.shape(), c.shape());
    EXPECT_EQ(std::memcmp(g.data(), c.data(), c.nbytes()), 0) << s.str();
  }
}

TEST(CudaCore, InPlaceOnDevice) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test::fresh_seed());
  Tensor x = test::random_tensor(Shape{9, 300}, rng);
  Tensor g = x.to(kGpu);
  softmax_into(g, g, gpu_policy());
  EXPECT_LE(err(g, softmax(as_f64(x), test::cpu_policy())), 1e-5);
  Tensor h = x.to(kGpu);
  unary_into(UnaryOp::relu, h, h, gpu_policy());
  EXPECT_LE(err(h, unary(UnaryOp::relu, as_f64(x), test::cpu_policy())), 1e-7);
}

}  // namespace
}  // namespace lc
