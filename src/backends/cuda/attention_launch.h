// Host-side interface between the attention launcher files (attention.cu, attention_forward.cu,
// attention_mma.cu, attention_backward.cu). Not part of the backend interface.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cuda/attention_heuristics.h"
#include "lightning_core/policy.h"

namespace lc::cuda {

struct Context;

// [B,H,Sq,D] x [B,Hkv,Sk,D] x [B,Hkv,Sk,Dv], contiguous fp32 on the device.
struct AttnDims {
  std::int64_t batch = 1, heads = 1, kv_heads = 1, sq = 0, sk = 0;
  int d = 0, dv = 0;
};

struct AttnFwdArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  float* lse2 = nullptr;  // optional (B*H*Sq), log2 domain, +inf for rows that see nothing
  AttnDims dims;
  bool causal = false;
  double scale = 1.0;
  Precision precision = Precision::fp32;
};

struct AttnBwdArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* dout = nullptr;
  float* dq = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  AttnDims dims;
  bool causal = false;
  double scale = 1.0;
  Precision precision = Precision::fp32;
};

attn::FwdPlan plan_attention(const Context& ctx, const AttnFwdArgs& a);
// Requires sq, sk > 0. The plan decides the kernel (attention_heuristics.h).
void run_attention_forward(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan);
void run_attention_forward_mma(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan);
void run_attention_forward_wgmma(Context& ctx, const AttnFwdArgs& a, const attn::FwdPlan& plan);

// 16-bit copies of Q/K/V padded to the head-dim bucket dp, back to back in one buffer:
// q (B*H*Sq, dp), k and v (B*Hkv*Sk, dp); rounding per a.precision (attention_mma.cu).
inline std::size_t packed16_bytes(const AttnDims& d, int dp) {
  return static_cast<std::size_t>(d.batch * d.heads * d.sq + 2 * d.batch * d.kv_heads * d.sk) *
         static_cast<std::size_t>(dp) * 2;
}
void pack_attention16(Context& ctx, const AttnFwdArgs& a, int dp, void* dst);
void run_attention_backward(Context& ctx, const AttnBwdArgs& a);
// bf16/fp16 with head dims <= 128: the tensor-core backward (attention_backward_mma.cu), from
// the forward's lse2 and delta = rowsum(dO * O) over B*H*Sq rows.
bool attention_backward_mma_applies(const AttnBwdArgs& a);
void run_attention_backward_mma(Context& ctx, const AttnBwdArgs& a, const float* lse2,
                                const float* delta);

}  // namespace lc::cuda
