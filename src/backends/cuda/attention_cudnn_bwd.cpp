// cuDNN fused attention backward (bf16/fp16), the graph cudnn-frontend lowers SDPA backward to:
//   softmax_sum = rowsum(dO * O)                                   [B,H,Sq,1]
//   P = exp(mask(Q K^T * scale) - Stats)                           (Stats from the forward)
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - softmax_sum) * scale
//   dK = dS^T Q,  dQ = dS K (into an fp32 F16x16 accumulator, then the 16-bit dQ)
// GQA: dK and dV are per query head, then summed over each group of heads. The forward plan runs
// first for O and Stats; both plans are cached per shape (attention_cudnn_graph.h).
#include <cstdint>

#include "backends/cuda/attention_cudnn.h"
#include "backends/cuda/attention_cudnn_graph.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"

namespace lc::cuda {

#ifdef LC_HAVE_CUDNN

namespace cudnn_attn {
namespace {

// The transpose of a dense [b, h, r, c] tensor, as the view [b, h, c, r].
Dims transposed_strides(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], 1, d[3]}; }

// x (virtual, per query head) summed over each group of heads into y, or the matmul straight
// into y when there is no grouping.
void matmul_grouped(GraphBuilder& g, const Shape& s, cudnnBackendDescriptor_t a,
                    cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y, const Dims& per_head,
                    cudnnDataType_t io) {
  if (s.h == s.hkv) return g.matmul(a, b, y);
  auto* t = g.temp(io, per_head);
  g.matmul(a, b, t);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, t, y);
}

void build_backward(SdpaPlan& out, cudnnHandle_t, const Shape& s) {
  GraphBuilder& g = out.graph;
  const cudnnDataType_t io = s.fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  const Dims qd{s.b, s.h, s.sq, s.d}, od{s.b, s.h, s.sq, s.dv};
  const Dims kd{s.b, s.hkv, s.sk, s.d}, vd{s.b, s.hkv, s.sk, s.dv};
  const Dims ktd{s.b, s.hkv, s.d, s.sk}, vtd{s.b, s.hkv, s.dv, s.sk};
  const Dims sd{s.b, s.h, s.sq, s.sk}, std_{s.b, s.h, s.sk, s.sq}, rowd{s.b, s.h, s.sq, 1};

  auto* q = g.tensor(io, qd, dense(qd), kQ);
  auto* kt = g.tensor(io, ktd, transposed_strides(kd), kK);
  auto* vt = g.tensor(io, vtd, transposed_strides(vd), kV);
  auto* o = g.tensor(io, od, dense(od), kO);
  auto* dout = g.tensor(io, od, dense(od), kDO);
  auto* stats = g.tensor(f32, rowd, dense(rowd), kStats);
  auto* dq = g.tensor(io, qd, dense(qd), kDQ);
  auto* dk = g.tensor(io, kd, dense(kd), kDK);
  auto* dv = g.tensor(io, vd, dense(vd), kDV);
  auto* dq_acc = g.tensor(f32, qd, dense(qd), kDQAccum, false, true);
  auto* scale = g.scalar(f32, kScale);
  auto* one = g.scalar(f32, kOne);

  // softmax_sum = rowsum(dO * O)
  auto* dout_o = g.temp(f32, od);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, dout, o, nullptr, dout_o);
  auto* row_sum = g.temp(f32, rowd);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, dout_o, row_sum);
  auto* softmax_sum = g.temp(f32, rowd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, row_sum, one, nullptr, softmax_sum);

  // P = exp(mask(Q K^T * scale) - Stats)
  auto* s0 = g.temp(f32, sd);
  g.matmul(q, kt, s0);
  auto* logits = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, s0, scale, nullptr, logits);
  if (s.causal) logits = causal_mask(out, s, logits, sd);
  auto* centered = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_SUB, f32, logits, stats, nullptr, centered);
  auto* p = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_EXP, f32, centered, nullptr, nullptr, p);

  // dV = P^T dO
  auto* pt = g.tensor(io, std_, transposed_strides(sd));
  g.reshape(p, pt);
  matmul_grouped(g, s, pt, dout, dv, {s.b, s.h, s.sk, s.dv}, io);

  // dS = P * (dO V^T - softmax_sum) * scale
  auto* dp = g.temp(f32, sd);
  g.matmul(dout, vt, dp);
  auto* dp1 = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, dp, one, nullptr, dp1);
  auto* dp2 = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_SUB, f32, dp1, softmax_sum, nullptr, dp2);
  auto* ds0 = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, dp2, p, nullptr, ds0);
  auto* ds = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, ds0, scale, nullptr, ds);

  // dK = dS^T Q
  auto* dst = g.tensor(io, std_, transposed_strides(sd));
  g.reshape(ds, dst);
  matmul_grouped(g, s, dst, q, dk, {s.b, s.h, s.sk, s.d}, io);

  // dQ = dS K, accumulated in fp32, then converted.
  auto* k = g.tensor(io, kd, dense(kd));
  g.reshape(kt, k);
  g.matmul(ds, k, dq_acc);
  g.pointwise(CUDNN_POINTWISE_IDENTITY, f32, dq_acc, nullptr, nullptr, dq);
}

}  // namespace
}  // namespace cudnn_attn

using namespace cudnn_attn;

bool run_attention_backward_cudnn(Context& ctx, const AttnBwdArgs& a, bool required) {
  const AttnDims& d = a.dims;
  if (!cudnn_attention_available(ctx)) {
    if (required) require_cudnn_attention(ctx);
    return false;
  }
  std::lock_guard<std::mutex> lock(cudnn_attn::mutex());
  cudnnHandle_t handle = ctx.cudnn();
  const Shape shape = shape_of(d, a.causal, a.precision);
  AttnCudnnCache& cache = cache_of(ctx);
  const SdpaPlan& fwd = find_plan(cache.forward, handle, shape, build_forward);
  const SdpaPlan& bwd = find_plan(cache.backward, handle, shape, build_backward);
  if (!fwd.usable || !bwd.usable) {
    if (required)
      fail<NotSupportedError>(
          "attention_backward", "expected cuDNN to run this shape ",
          "(LC_CUDA_ATTN=cudnn), got a refusal: ", fwd.usable ? bwd.why : fwd.why);
    return false;
  }

  // 16-bit Q/K/V/O/dO and dQ/dK/dV, fp32 Stats and dQ accumulator.
  const bool fp16 = a.precision == Precision::fp16;
  const std::int64_t q_n = d.batch * d.heads * d.sq * d.d;
  const std::int64_t k_n = d.batch * d.kv_heads * d.sk * d.d;
  const std::int64_t v_n = d.batch * d.kv_heads * d.sk * d.dv;
  const std::int64_t o_n = d.batch * d.heads * d.sq * d.dv;
  const std::int64_t rows = d.batch * d.heads * d.sq;
  auto bytes = [](std::int64_t n, int size) { return (n * size + 255) / 256 * 256; };
  const std::int64_t sizes[] = {bytes(q_n, 2),  bytes(k_n, 2), bytes(v_n, 2), bytes(o_n, 2),
                                bytes(o_n, 2),  bytes(q_n, 2), bytes(k_n, 2), bytes(v_n, 2),
                                bytes(rows, 4), bytes(q_n, 4)};
  std::int64_t total = 0;
  for (std::int64_t n : sizes) total += n;
  Scratch buf = ctx.scratch(static_cast<std::size_t>(total));
  char* at[10];
  at[0] = buf.as<char>();
  for (int i = 1; i < 10; ++i) at[i] = at[i - 1] + sizes[i - 1];
  char *q16 = at[0], *k16 = at[1], *v16 = at[2], *o16 = at[3], *do16 = at[4];
  char *dq16 = at[5], *dk16 = at[6], *dv16 = at[7];
  float* stats = reinterpret_cast<float*>(at[8]);
  float* dq_acc = reinterpret_cast<float*>(at[9]);

  AttnFwdArgs f;
  f.q = a.q;
  f.k = a.k;
  f.v = a.v;
  f.dims = d;
  f.causal = a.causal;
  f.scale = a.scale;
  f.precision = a.precision;
  attention_pack16_dense(ctx, f, q16, k16, v16);
  attention_pack16_rows(ctx, a.dout, do16, rows, d.dv, fp16);
  run_forward_plan(ctx, handle, fwd, f, q16, k16, v16, o16, stats);

  LC_CUDA_CHECK(cudaMemsetAsync(dq_acc, 0, static_cast<std::size_t>(q_n) * 4, ctx.stream));
  Scalars sc;
  sc.scale = static_cast<float>(a.scale);
  sc.skv = static_cast<std::int32_t>(d.sk);
  sc.sq = static_cast<std::int32_t>(d.sq);
  execute(ctx, handle, bwd, {kQ, kK, kV, kO, kDO, kStats, kDQ, kDK, kDV, kDQAccum},
          {q16, k16, v16, o16, do16, stats, dq16, dk16, dv16, dq_acc}, sc, a.causal, true);
  attention_unpack16(ctx, dq16, a.dq, q_n, fp16);
  attention_unpack16(ctx, dk16, a.dk, k_n, fp16);
  attention_unpack16(ctx, dv16, a.dv, v_n, fp16);
  return true;
}

#else  // no cuDNN in this build

bool run_attention_backward_cudnn(Context&, const AttnBwdArgs&, bool required) {
  if (required)
    fail<NotSupportedError>("attention_backward", "expected a CUDA backend built with cuDNN for ",
                            "LC_CUDA_ATTN=cudnn, got one built without it");
  return false;
}

#endif  // LC_HAVE_CUDNN

}  // namespace lc::cuda
