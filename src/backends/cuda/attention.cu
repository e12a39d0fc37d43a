// Attention entry points of the CUDA backend: shapes out of the problem, empty cases, then the
// forward plan (attention_heuristics.h) or the backward. Kernels: kernels/attention_*.cuh.
#include <cstdint>
#include <cstdlib>

#include "backends/cuda/attention_cudnn.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"

namespace lc::cuda {

namespace {

// (B, H, S, D) of a rank-2..4 view; leading extents default to 1.
struct Dims4 {
  std::int64_t b = 1, h = 1, s = 0, d = 0;
};
Dims4 dims4(const TensorView& t, const char* op) {
  const int r = t.rank();
  if (r < 2 || r > 4) fail<NotSupportedError>(op, "expected rank 2..4 tensors, got rank ", r);
  Dims4 x;
  x.s = t.shape[r - 2];
  x.d = t.shape[r - 1];
  if (r >= 3) x.h = t.shape[r - 3];
  if (r == 4) x.b = t.shape[0];
  return x;
}

AttnDims attn_dims(const TensorView& q, const TensorView& k, const TensorView& v, const char* op) {
  const Dims4 dq = dims4(q, op), dk = dims4(k, op), dv = dims4(v, op);
  AttnDims d;
  d.batch = dq.b;
  d.heads = dq.h;
  d.kv_heads = dk.h;
  d.sq = dq.s;
  d.sk = dk.s;
  d.d = static_cast<int>(dq.d);
  d.dv = static_cast<int>(dv.d);
  if (d.kv_heads <= 0 || d.heads % d.kv_heads != 0)
    fail<NotSupportedError>(op, "expected heads divisible by kv heads, got ", d.heads, " and ",
                            d.kv_heads);
  return d;
}

void zero(Context& ctx, const TensorView& t) {
  if (t.numel() > 0)
    LC_CUDA_CHECK(cudaMemsetAsync(t.data, 0, static_cast<std::size_t>(t.numel()) * 4, ctx.stream));
}

}  // namespace

attn::FwdPlan plan_attention(const Context& ctx, const AttnFwdArgs& a) {
  attn::FwdShape s;
  s.batch_heads = a.dims.batch * a.dims.heads;
  s.sq = a.dims.sq;
  s.sk = a.dims.sk;
  s.d = a.dims.d;
  s.dv = a.dims.dv;
  s.causal = a.causal;
  s.precision = a.precision;
  auto aligned = [](const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; };
  s.aligned16 = aligned(a.q) && aligned(a.k) && aligned(a.v) && aligned(a.out);
  s.sm_count = ctx.props.multiProcessorCount;
  s.cudnn = cudnn_attention_available(ctx);
  s.choice = attn::parse_attn_override(std::getenv("LC_CUDA_ATTN"));  // per call: tests set it
  return attn::choose_forward(s);
}

void attention(Context& ctx, const backend::AttentionProblem& p) {
  AttnFwdArgs a;
  a.dims = attn_dims(p.q, p.k, p.v, "attention");
  a.q = p.q.ptr<const float>();
  a.k = p.k.ptr<const float>();
  a.v = p.v.ptr<const float>();
  a.out = p.out.ptr<float>();
  a.causal = p.causal;
  a.scale = p.scale;
  a.precision = p.precision;
  if (p.out.numel() == 0) return;
  if (a.dims.sk == 0) return zero(ctx, p.out);  // no keys: every row sees nothing
  run_attention_forward(ctx, a, plan_attention(ctx, a));
}

void attention_backward(Context& ctx, const backend::AttentionBackwardProblem& p) {
  AttnBwdArgs a;
  a.dims = attn_dims(p.q, p.k, p.v, "attention_backward");
  a.q = p.q.ptr<const float>();
  a.k = p.k.ptr<const float>();
  a.v = p.v.ptr<const float>();
  a.dout = p.dout.ptr<const float>();
  a.dq = p.dq.ptr<float>();
  a.dk = p.dk.ptr<float>();
  a.dv = p.dv.ptr<float>();
  a.causal = p.causal;
  a.scale = p.scale;
  a.precision = p.precision;
  if (a.dims.sq == 0 || a.dims.sk == 0) {  // no (query, key) pair: every gradient is zero
    zero(ctx, p.dq);
    zero(ctx, p.dk);
    zero(ctx, p.dv);
    return;
  }
  run_attention_backward(ctx, a);
}

}  // namespace lc::cuda
