// Every operation of Lightning Core. Inputs are views (any strides; copied once when not
// contiguous); `*_into` forms write a contiguous, exactly-shaped output and nothing else.
// float32 everywhere; float64 where the comment says so. Weights use PyTorch layouts.
#pragma once

#include <optional>
#include <string_view>

#include "lightning_core/policy.h"
#include "lightning_core/tensor.h"

namespace lc {

using OptView = std::optional<TensorView>;

// ---- matmul family -----------------------------------------------------------------------
enum class Activation { none, relu, gelu };
// "none" | "relu" | "gelu" (gelu: the exact erf form); anything else is a ValueError from `op`
// listing the valid names.
Activation parse_activation(std::string_view name, const char* op = "linear");
const char* activation_name(Activation act);

// (M,K) @ (K,N) -> (M,N). float64 too.
Tensor matmul2d(const TensorView& a, const TensorView& b, const Policy& policy = current_policy());
void matmul2d_into(const TensorView& a, const TensorView& b, const TensorView& out,
                   const Policy& policy = current_policy());
// Batched (...,M,K) @ (...,K,N) with NumPy broadcasting of the batch axes. float64 too.
Tensor matmul(const TensorView& a, const TensorView& b, const Policy& policy = current_policy());
void matmul_into(const TensorView& a, const TensorView& b, const TensorView& out,
                 const Policy& policy = current_policy());
// out = alpha * op(a) @ op(b) + beta * out, op = transpose when the flag is set. 2-D only.
// float64 too.
Tensor gemm(const TensorView& a, const TensorView& b, bool trans_a, bool trans_b,
            double alpha = 1.0, const Policy& policy = current_policy());
void gemm_into(const TensorView& a, const TensorView& b, const TensorView& out, bool trans_a,
               bool trans_b, double alpha = 1.0, double beta = 0.0,
               const Policy& policy = current_policy());
// x (...,in) @ weight(out,in)^T + bias(out), then the activation. float64 too.
Tensor linear(const TensorView& x, const TensorView& weight, const OptView& bias = std::nullopt,
              Activation act = Activation::none, const Policy& policy = current_policy());
void linear_into(const TensorView& x, const TensorView& weight, const OptView& bias,
                 const TensorView& out, Activation act = Activation::none,
                 const Policy& policy = current_policy());

// ---- conv family -------------------------------------------------------------------------
struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool relu = false;  // fused ReLU epilogue
};
// x (N,C,H,W), weight (O,C/groups,KH,KW), bias (O) -> (N,O,H',W').
Tensor conv2d_nchw(const TensorView& x, const TensorView& weight, const OptView& bias,
                   const Conv2dParams& params = {}, const Policy& policy = current_policy());
void conv2d_nchw_into(const TensorView& x, const TensorView& weight, const OptView& bias,
                      const TensorView& out, const Conv2dParams& params = {},
                      const Policy& policy = current_policy());

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 0, stride_w = 0;  // 0: equal to the kernel (PyTorch's default)
  int pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg_pool2d only, PyTorch's default
};
Tensor max_pool2d(const TensorView& x, const Pool2dParams& params,
                  const Policy& policy = current_policy());
void max_pool2d_into(const TensorView& x, const TensorView& out, const Pool2dParams& params,
                     const Policy& policy = current_policy());
Tensor avg_pool2d(const TensorView& x, const Pool2dParams& params,
                  const Policy& policy = current_policy());
void avg_pool2d_into(const TensorView& x, const TensorView& out, const Pool2dParams& params,
                     const Policy& policy = current_policy());

// ---- attention ---------------------------------------------------------------------------
struct AttentionParams {
  bool causal = false;          // query i sees keys j <= i + (Sk - Sq)
  std::optional<double> scale;  // default 1/sqrt(D)
};
// q (Sq,D), k (Sk,D), v (Sk,Dv) -> (Sq,Dv).
Tensor attention2d(const TensorView& q, const TensorView& k, const TensorView& v,
                   bool causal = false, const Policy& policy = current_policy());
void attention2d_into(const TensorView& q, const TensorView& k, const TensorView& v,
                      const TensorView& out, bool causal = false,
                      const Policy& policy = current_policy());
// q (B,H,Sq,D), k (B,Hkv,Sk,D), v (B,Hkv,Sk,Dv), H % Hkv == 0 (GQA) -> (B,H,Sq,Dv).
Tensor attention(const TensorView& q, const TensorView& k, const TensorView& v,
                 const AttentionParams& params = {}, const Policy& policy = current_policy());
void attention_into(const TensorView& q, const TensorView& k, const TensorView& v,
                    const TensorView& out, const AttentionParams& params = {},
                    const Policy& policy = current_policy());
struct AttentionGrads {
  Tensor dq, dk, dv;
};
// Gradients of sum(attention(q,k,v) * dout) for the [B,H,S,D] layout (GQA: dk/dv summed
// over the heads that share them).
AttentionGrads attention_backward(const TensorView& q, const TensorView& k, const TensorView& v,
                                  const TensorView& dout, const AttentionParams& params = {},
                                  const Policy& policy = current_policy());

// ---- vector (float64 too) ----------------------------------------------------------------
enum class UnaryOp { relu, gelu, silu, sigmoid, tanh, exp, neg, abs, sqrt };
enum class BinaryOp { add, sub, mul, div };
Tensor unary(UnaryOp op, const TensorView& x, const Policy& policy = current_policy());
void unary_into(UnaryOp op, const TensorView& x, const TensorView& out,
                const Policy& policy = current_policy());
// Same shapes, or one side broadcast by NumPy rules.
Tensor binary(BinaryOp op, const TensorView& a, const TensorView& b,
              const Policy& policy = current_policy());
void binary_into(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                 const Policy& policy = current_policy());
// alpha * x + y (same shapes).
Tensor axpy(double alpha, const TensorView& x, const TensorView& y,
            const Policy& policy = current_policy());
void axpy_into(double alpha, const TensorView& x, const TensorView& y, const TensorView& out,
               const Policy& policy = current_policy());
// alpha * x.
Tensor scale(const TensorView& x, double alpha, const Policy& policy = current_policy());
void scale_into(const TensorView& x, double alpha, const TensorView& out,
                const Policy& policy = current_policy());
const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

// ---- matrix (last axis) ------------------------------------------------------------------
// Swaps the last two axes (rank >= 2).
Tensor transpose(const TensorView& x, const Policy& policy = current_policy());
void transpose_into(const TensorView& x, const TensorView& out,
                    const Policy& policy = current_policy());
Tensor softmax(const TensorView& x, const Policy& policy = current_policy());
void softmax_into(const TensorView& x, const TensorView& out,
                  const Policy& policy = current_policy());
Tensor log_softmax(const TensorView& x, const Policy& policy = current_policy());
void log_softmax_into(const TensorView& x, const TensorView& out,
                      const Policy& policy = current_policy());
// Normalises over the last axis; weight/bias have that axis' length.
Tensor layer_norm(const TensorView& x, const OptView& weight, const OptView& bias,
                  double eps = 1e-5, const Policy& policy = current_policy());
void layer_norm_into(const TensorView& x, const OptView& weight, const OptView& bias,
                     const TensorView& out, double eps = 1e-5,
                     const Policy& policy = current_policy());
Tensor rms_norm(const TensorView& x, const OptView& weight, double eps = 1e-6,
                const Policy& policy = current_policy());
void rms_norm_into(const TensorView& x, const OptView& weight, const TensorView& out,
                   double eps = 1e-6, const Policy& policy = current_policy());
enum class ReduceOp { sum, mean, max };
// Reduces the last axis: (...,N) -> (...).
Tensor reduce(ReduceOp op, const TensorView& x, const Policy& policy = current_policy());
void reduce_into(ReduceOp op, const TensorView& x, const TensorView& out,
                 const Policy& policy = current_policy());

// ---- recurrent (PyTorch gate order) ------------------------------------------------------
struct LstmState {
  Tensor h, c;
};
// x (B,I), h/c (B,H), w_ih (4H,I), w_hh (4H,H), biases (4H); gates i,f,g,o.
LstmState lstm_cell(const TensorView& x, const TensorView& h, const TensorView& c,
                    const TensorView& w_ih, const TensorView& w_hh, const OptView& b_ih,
                    const OptView& b_hh, const Policy& policy = current_policy());
struct LstmResult {
  Tensor output;  // (T,B,H)
  Tensor h, c;    // (B,H), the last step
};
// One layer over a sequence x (T,B,I) from h0/c0 (B,H).
LstmResult lstm(const TensorView& x, const TensorView& h0, const TensorView& c0,
                const TensorView& w_ih, const TensorView& w_hh, const OptView& b_ih,
                const OptView& b_hh, const Policy& policy = current_policy());
// x (B,I), h (B,H), w_ih (3H,I), w_hh (3H,H), biases (3H); gates r,z,n -> h' (B,H).
Tensor gru_cell(const TensorView& x, const TensorView& h, const TensorView& w_ih,
                const TensorView& w_hh, const OptView& b_ih, const OptView& b_hh,
                const Policy& policy = current_policy());

// ---- pipelines (fused where a backend has it; composed from the ops above otherwise) ------
// relu(conv2d(x)) of shape (N,3D,H',W') split into Q,K,V channel thirds over the H'W' tokens;
// returns (N, H'W', D).
Tensor conv_attention_nchw(const TensorView& x, const TensorView& weight, const OptView& bias,
                           const Conv2dParams& params = {}, bool causal = false,
                           const Policy& policy = current_policy());
// The seed's rule: X[s,d] = flat[(s*head_dim + d) mod L] of relu(conv(x)); self-attention
// with Q = K = V = X; returns (seq_len, head_dim).
Tensor conv_attention_torchstrong_nchw(const TensorView& x, const TensorView& weight,
                                       const OptView& bias, std::int64_t seq_len,
                                       std::int64_t head_dim, const Conv2dParams& params = {},
                                       bool causal = false,
                                       const Policy& policy = current_policy());

}  // namespace lc
