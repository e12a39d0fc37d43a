#include "backends/cpu/cpu_backend.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lightning_core/error.h"

namespace lc::backend {

const char* op_name(OpKind op) {
  static constexpr const char* kNames[] = {
      "gemm", "conv2d",  "pool2d", "attention", "attention_backward", "unary",     "binary",
      "axpy", "softmax", "norm",   "reduce",    "transpose",          "lstm_cell", "gru_cell"};
  return kNames[static_cast<int>(op)];
}

namespace {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  Device device() const override { return kCpu; }
  // Every op, float32 and float64; lower precisions compute in float32 (never lower).
  bool supports(OpKind, DType, Precision) const override { return true; }

  void* allocate(std::size_t bytes) override {
    // Large buffers on 2 MiB boundaries with transparent huge pages, as NumPy does: first
    // touches of a fresh output otherwise cost one page fault per 4 KiB.
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t align = bytes >= 2 * kHuge ? kHuge : 64;
    if (bytes > SIZE_MAX - align)
      fail<OutOfMemoryError>("cpu", "expected ", bytes, " bytes of host memory, got none");
    std::size_t rounded = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded ? rounded : align);
    if (!p) fail<OutOfMemoryError>("cpu", "expected ", bytes, " bytes of host memory, got none");
#ifdef MADV_HUGEPAGE
    if (align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
  }
  void deallocate(void* p) noexcept override { std::free(p); }
  void copy_from_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_within(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void synchronize() override {}

  void gemm(const GemmProblem& p) override { cpu::gemm(p); }
  void conv2d(const Conv2dProblem& p) override { cpu::conv2d(p); }
  void pool2d(const Pool2dProblem& p) override { cpu::pool2d(p); }
  void attention(const AttentionProblem& p) override { cpu::attention(p); }
  void attention_backward(const AttentionBackwardProblem& p) override {
    cpu::attention_backward(p);
  }
  void unary(const UnaryProblem& p) override { cpu::unary(p); }
  void binary(const BinaryProblem& p) override { cpu::binary(p); }
  void axpy(const AxpyProblem& p) override { cpu::axpy(p); }
  void softmax(const SoftmaxProblem& p) override { cpu::softmax(p); }
  void norm(const NormProblem& p) override { cpu::norm(p); }
  void reduce(const ReduceProblem& p) override { cpu::reduce(p); }
  void transpose(const TransposeProblem& p) override { cpu::transpose(p); }
  void lstm_cell(const LstmCellProblem& p) override { cpu::lstm_cell(p); }
  void gru_cell(const GruCellProblem& p) override { cpu::gru_cell(p); }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace lc::backend
