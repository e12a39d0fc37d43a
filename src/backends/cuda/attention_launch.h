// Host-side interface between the attention launcher files (attention.cu, attention_forward.cu,
// attention_mma.cu, attention_backward.cu). Not part of the backend interface.
#pragma once

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
void run_attention_backward(Context& ctx, const AttnBwdArgs& a);

}  // namespace lc::cuda
