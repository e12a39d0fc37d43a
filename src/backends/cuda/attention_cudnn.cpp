// cuDNN fused flash attention (forward) through the cuDNN 9 backend graph API, built by hand:
//   S = Q K^T (fp32) -> S * scale -> [causal: select(row + Sk - Sq >= col, S, -inf)]
//   -> softmax as max / sub / exp / sum / div, with Stats = max + log(sum) (fp32, [B,H,Sq,1])
//   -> O = P V (P and O in the 16-bit input type).
// This is the pattern cuDNN's SDPA engines recognise (the one cudnn-frontend lowers to). The plan
// (heuristics mode A, first engine config that finalises) is cached per shape on the Context,
// refusals too, so a refused shape falls back to our kernel without asking again. The scale is
// a by-value scalar of the variant pack: one plan serves every scale.
#include "backends/cuda/attention_cudnn.h"

#include <cstdint>

#include "backends/cuda/attention_cudnn_graph.h"
#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"

namespace lc::cuda {

#ifdef LC_HAVE_CUDNN

namespace cudnn_attn {

void build_forward(SdpaPlan& out, cudnnHandle_t, const Shape& s) {
  GraphBuilder& g = out.graph;
  const cudnnDataType_t io = s.fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  const Dims qd{s.b, s.h, s.sq, s.d}, od{s.b, s.h, s.sq, s.dv}, vd{s.b, s.hkv, s.sk, s.dv};
  // K^T as the matmul's B: dims [b, hkv, d, sk] over the dense [b, hkv, sk, d] buffer.
  const Dims ktd{s.b, s.hkv, s.d, s.sk}, kts{s.hkv * s.sk * s.d, s.sk * s.d, 1, s.d};
  const Dims sd{s.b, s.h, s.sq, s.sk}, rowd{s.b, s.h, s.sq, 1};

  auto* q = g.tensor(io, qd, dense(qd), kQ);
  auto* kt = g.tensor(io, ktd, kts, kK);
  auto* v = g.tensor(io, vd, dense(vd), kV);
  // O in the input type: cuDNN 9.19 accepts an fp32 O here but writes wrong values into it.
  auto* o = g.tensor(io, od, dense(od), kO);
  auto* stats = g.tensor(f32, rowd, dense(rowd), kStats);

  auto* s0 = g.temp(f32, sd);
  g.matmul(q, kt, s0);
  auto* logits = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_MUL, f32, s0, g.scalar(f32, kScale), nullptr, logits);
  if (s.causal) logits = causal_mask(out, s, logits, sd);
  auto* mx = g.temp(f32, rowd);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, logits, mx);
  auto* centered = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_SUB, f32, logits, mx, nullptr, centered);
  auto* e = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_EXP, f32, centered, nullptr, nullptr, e);
  auto* sum = g.temp(f32, rowd);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, e, sum);
  auto* log_sum = g.temp(f32, rowd);
  g.pointwise(CUDNN_POINTWISE_LOG, f32, sum, nullptr, nullptr, log_sum);
  g.pointwise(CUDNN_POINTWISE_ADD, f32, mx, log_sum, nullptr, stats);
  auto* p = g.temp(io, sd);  // P in the input type: the second matmul's A operand
  g.pointwise(CUDNN_POINTWISE_DIV, f32, e, sum, nullptr, p);
  g.matmul(p, v, o);
}

Shape shape_of(const AttnDims& d, bool causal, Precision p) {
  return Shape{d.batch, d.heads, d.kv_heads, d.sq, d.sk, d.d, d.dv, causal, p == Precision::fp16};
}

AttnCudnnCache& cache_of(Context& ctx) {
  if (!ctx.attn_cudnn_cache) ctx.attn_cudnn_cache.reset(new AttnCudnnCache());
  return *ctx.attn_cudnn_cache;
}

void run_forward_plan(Context& ctx, cudnnHandle_t handle, const SdpaPlan& plan,
                      const AttnFwdArgs& a, const void* q16, const void* k16, const void* v16,
                      void* o16, float* stats) {
  Scalars sc;
  sc.scale = static_cast<float>(a.scale);
  sc.skv = static_cast<std::int32_t>(a.dims.sk);
  sc.sq = static_cast<std::int32_t>(a.dims.sq);
  execute(ctx, handle, plan, {kQ, kK, kV, kO, kStats},
          {const_cast<void*>(q16), const_cast<void*>(k16), const_cast<void*>(v16), o16, stats}, sc,
          a.causal, false);
}

void require_cudnn_attention(const Context& ctx) {
  fail<NotSupportedError>("attention", "expected cuDNN >= 9 on an sm80+ GPU for ",
                          "LC_CUDA_ATTN=cudnn, got cuDNN ", cudnnGetVersion(), " on sm",
                          ctx.props.major, ctx.props.minor);
}

}  // namespace cudnn_attn

using namespace cudnn_attn;

void AttnCudnnCacheDeleter::operator()(AttnCudnnCache* cache) const noexcept { delete cache; }

bool cudnn_attention_available(const Context& ctx) {
  static const bool loaded = cudnnGetVersion() >= 90000;
  return loaded && ctx.props.major >= 8;
}

bool run_attention_forward_cudnn(Context& ctx, const AttnFwdArgs& a, bool required) {
  const AttnDims& d = a.dims;
  if (!cudnn_attention_available(ctx)) {
    if (required) require_cudnn_attention(ctx);
    return false;
  }
  std::lock_guard<std::mutex> lock(cudnn_attn::mutex());
  cudnnHandle_t handle = ctx.cudnn();
  const SdpaPlan& plan =
      find_plan(cache_of(ctx).forward, handle, shape_of(d, a.causal, a.precision), build_forward);
  if (!plan.usable) {
    if (required)
      fail<NotSupportedError>("attention", "expected cuDNN to run this shape (LC_CUDA_ATTN=cudnn),",
                              " got a refusal: ", plan.why);
    return false;
  }

  // 16-bit Q/K/V/O staging and the fp32 Stats (log-sum-exp, natural log).
  const std::int64_t q_n = d.batch * d.heads * d.sq * d.d;
  const std::int64_t k_n = d.batch * d.kv_heads * d.sk * d.d;
  const std::int64_t v_n = d.batch * d.kv_heads * d.sk * d.dv;
  const std::int64_t o_n = d.batch * d.heads * d.sq * d.dv;
  const std::int64_t rows = d.batch * d.heads * d.sq;
  auto round16 = [](std::int64_t n) { return (n * 2 + 255) / 256 * 256; };
  const std::int64_t io_bytes = round16(q_n) + round16(k_n) + round16(v_n) + round16(o_n);
  const std::int64_t stats_bytes = a.lse2 ? 0 : (rows * 4 + 255) / 256 * 256;
  Scratch buf = ctx.scratch(static_cast<std::size_t>(io_bytes + stats_bytes));
  char* q16 = buf.as<char>();
  char* k16 = q16 + round16(q_n);
  char* v16 = k16 + round16(k_n);
  char* o16 = v16 + round16(v_n);
  float* stats = a.lse2 ? a.lse2 : reinterpret_cast<float*>(o16 + round16(o_n));
  attention_pack16_dense(ctx, a, q16, k16, v16);
  run_forward_plan(ctx, handle, plan, a, q16, k16, v16, o16, stats);
  attention_unpack16(ctx, o16, a.out, o_n, a.precision == Precision::fp16);
  // Our kernels' lse is log2-domain: lse2 = lse / ln 2.
  if (a.lse2) scale_in_place(ctx, DType::f32, a.lse2, rows, 1.4426950408889634);
  return true;
}

#else  // no cuDNN in this build

bool cudnn_attention_available(const Context&) { return false; }

bool run_attention_forward_cudnn(Context&, const AttnFwdArgs&, bool required) {
  if (required)
    fail<NotSupportedError>("attention", "expected a CUDA backend built with cuDNN for ",
                            "LC_CUDA_ATTN=cudnn, got one built without it");
  return false;
}

#endif  // LC_HAVE_CUDNN

}  // namespace lc::cuda
