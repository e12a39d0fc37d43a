// The backend interface (small, versioned). Front-ends in src/ops/ validate, shape and plan;
// a backend only computes. Every view a backend receives is contiguous, on the backend's
// device, with shapes already checked. An op a backend lacks throws NotSupportedError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lightning_core/ops.h"

namespace lc::backend {

inline constexpr int kAbiVersion = 1;

enum class OpKind {
  gemm,
  conv2d,
  pool2d,
  attention,
  attention_backward,
  unary,
  binary,
  axpy,
  softmax,
  norm,
  reduce,
  transpose,
  lstm_cell,
  gru_cell
};
const char* op_name(OpKind op);

// c[b] = alpha * op(a[b]) @ op(b[b]) + beta * c[b] (+ bias, activation). Batch strides are in
// elements; 0 broadcasts an operand over the batch. a is (M,K) or (K,M) when trans_a.
struct GemmProblem {
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  DType dtype = DType::f32;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  bool trans_a = false, trans_b = false;
  double alpha = 1.0, beta = 0.0;
  const void* bias = nullptr;  // (N), added to every row
  Activation act = Activation::none;
  Precision precision = Precision::fp32;
};

struct Conv2dProblem {
  TensorView x, weight, out;  // (N,C,H,W), (O,C/g,KH,KW), (N,O,OH,OW)
  const float* bias = nullptr;
  Conv2dParams params;
  Precision precision = Precision::fp32;
};

enum class PoolKind { max, avg };
struct Pool2dProblem {
  TensorView x, out;
  Pool2dParams params;  // strides already resolved (never 0)
  PoolKind kind = PoolKind::max;
};

// (B,H,Sq,D) x (B,Hkv,Sk,D) x (B,Hkv,Sk,Dv) -> (B,H,Sq,Dv); [S,D] arrives as B = H = 1.
struct AttentionProblem {
  TensorView q, k, v, out;
  bool causal = false;
  double scale = 1.0;  // resolved
  Precision precision = Precision::fp32;
};
struct AttentionBackwardProblem {
  TensorView q, k, v, dout, dq, dk, dv;
  bool causal = false;
  double scale = 1.0;
  Precision precision = Precision::fp32;
};

struct UnaryProblem {
  UnaryOp op;
  TensorView x, out;
};
// a and b have out's shape, or strides of 0 along broadcast axes (then not contiguous).
struct BinaryProblem {
  BinaryOp op;
  TensorView a, b, out;
};
struct AxpyProblem {
  double alpha;
  TensorView x, y, out;
};

// Row-wise ops over the last axis: rows = numel / cols.
struct SoftmaxProblem {
  TensorView x, out;
  bool log = false;
};
enum class NormKind { layer, rms };
struct NormProblem {
  NormKind kind;
  TensorView x, out;
  const void* weight = nullptr;  // (cols) or null
  const void* bias = nullptr;    // (cols) or null; layer norm only
  double eps = 1e-5;
};
struct ReduceProblem {
  ReduceOp op;
  TensorView x, out;
};
// Swaps the last two axes.
struct TransposeProblem {
  TensorView x, out;
};

// Pointwise LSTM/GRU cell on precomputed gates: gates_x = x W_ih^T + b_ih, gates_h = h W_hh^T +
// b_hh, each (B,4H) or (B,3H). The front-end computes them with gemm.
struct LstmCellProblem {
  TensorView gates_x, gates_h, c, h_out, c_out;
};
struct GruCellProblem {
  TensorView gates_x, gates_h, h, h_out;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual Device device() const = 0;
  virtual bool supports(OpKind op, DType dtype, Precision precision) const = 0;

  // Memory. Device backends copy to and from host memory; the CPU backend's are memcpy.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
  virtual void copy_from_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void synchronize() = 0;

  // Ops.
  virtual void gemm(const GemmProblem& p) = 0;
  virtual void conv2d(const Conv2dProblem& p) = 0;
  virtual void pool2d(const Pool2dProblem& p) = 0;
  virtual void attention(const AttentionProblem& p) = 0;
  virtual void attention_backward(const AttentionBackwardProblem& p) = 0;
  virtual void unary(const UnaryProblem& p) = 0;
  virtual void binary(const BinaryProblem& p) = 0;
  virtual void axpy(const AxpyProblem& p) = 0;
  virtual void softmax(const SoftmaxProblem& p) = 0;
  virtual void norm(const NormProblem& p) = 0;
  virtual void reduce(const ReduceProblem& p) = 0;
  virtual void transpose(const TransposeProblem& p) = 0;
  virtual void lstm_cell(const LstmCellProblem& p) = 0;
  virtual void gru_cell(const GruCellProblem& p) = 0;
};

// The backend for a device; throws DeviceUnavailableError when it is not present.
Backend& backend_for(Device device);
Backend& cpu_backend();

// The entry points a run-time-loaded backend library exports (extern "C"):
//   int lc_backend_device_count(int abi_version, char* err, size_t err_len);
//   lc::backend::Backend* lc_backend_create(int abi_version, int device, char* err, size_t n);
// On failure the count is 0 / the pointer null, and err says why (no driver, no device).
using DeviceCountFn = int (*)(int abi_version, char* err, std::size_t err_len);
using CreateFn = Backend* (*)(int abi_version, int device, char* err, std::size_t err_len);

}  // namespace lc::backend
