// Core contracts: shapes, tensors, devices, policies, the matmul2d front-end.
#include "test_helpers.h"

namespace lc {
namespace {

TEST(Shape, NumelAndOverflow) {
  EXPECT_EQ((Shape{2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ((Shape{5, 0}).numel(), 0);
  EXPECT_THROW((Shape{1LL << 40, 1LL << 40}).numel(), ValueError);
  EXPECT_EQ((Shape{2, 3}).str(), "(2, 3)");
  EXPECT_EQ((Shape{7}).str(), "(7,)");
}

TEST(Tensor, AllocationOverflowIsAClearError) {
  EXPECT_THROW(Tensor(Shape{1LL << 62, 4}), ValueError);
  EXPECT_THROW(allocate_storage(std::int64_t{1} << 62, DType::f64, kCpu), ValueError);
}

TEST(Tensor, Float64AndViews) {
  Tensor64 t(Shape{2, 2});
  EXPECT_EQ(t.dtype(), DType::f64);
  EXPECT_THROW(Tensor64(Tensor(Shape{2})), TypeError);
  TensorView v = t;
  EXPECT_TRUE(v.is_contiguous());
  TensorView strided(t.data(), DType::f64, Shape{2, 2}, Shape{1, 2}, kCpu);
  EXPECT_FALSE(strided.is_contiguous());
}

TEST(Tensor, StridedCopy) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor t = test::random_tensor(Shape{3, 4}, rng);
  TensorView transposed(t.data(), DType::f32, Shape{4, 3}, Shape{1, 4}, kCpu);
  Tensor c = contiguous_copy(transposed);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(c.data<float>()[i * 3 + j], t.data<float>()[j * 4 + i]);
}

TEST(Device, Strings) {
  EXPECT_EQ(parse_device("cpu"), kCpu);
  EXPECT_THROW(parse_device("tpu"), ValueError);
  EXPECT_THROW(parse_device("metal"), DeviceUnavailableError);
  EXPECT_THROW(parse_device("cuda:x"), ValueError);
  if (!cuda_available()) {
    EXPECT_THROW(parse_device("cuda"), DeviceUnavailableError);
    EXPECT_FALSE(cuda_unavailable_reason().empty());
  }
  EXPECT_EQ(devices().front(), "cpu");
  synchronize("cpu");
  synchronize();  // the best device present
  EXPECT_THROW(synchronize("tpu"), ValueError);
}

TEST(Policy, ScopeAndParsing) {
  EXPECT_EQ(current_policy().device, "auto");
  {
    PolicyScope s(Policy{}.with_device("cpu"));
    EXPECT_EQ(current_policy().device, "cpu");
  }
  EXPECT_EQ(current_policy().device, "auto");
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_THROW(parse_precision("int8"), ValueError);
  EXPECT_THROW(validate_device_string("gpu0"), ValueError);
}

TEST(Matmul2d, BadInputs) {
  Tensor a(Shape{2, 3}), b(Shape{4, 5}), out(Shape{2, 5});
  EXPECT_THROW(matmul2d(a, b), ValueError);
  Tensor b2(Shape{3, 5});
  Tensor wrong(Shape{5, 2});
  EXPECT_THROW(matmul2d_into(a, b2, wrong), ValueError);
  TensorView none;
  none.invalid = "None";
  EXPECT_THROW(matmul2d(none, b2), TypeError);
  Tensor64 a64(Shape{2, 3});
  EXPECT_THROW(matmul2d(a64, b2), TypeError);  // mixed dtypes
  Tensor v(Shape{3});
  EXPECT_THROW(matmul2d(v, b2), ValueError);  // wrong rank
}

}  // namespace
}  // namespace lc
