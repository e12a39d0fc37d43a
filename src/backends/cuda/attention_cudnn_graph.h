// Internal to attention_cudnn.cpp (forward) and attention_cudnn_bwd.cpp (backward): RAII cuDNN
// backend descriptors, the operation-graph builder, the plan cache and its execution. Only
// compiled with LC_HAVE_CUDNN.
#pragma once

#ifdef LC_HAVE_CUDNN

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/cuda/attention_launch.h"
#include "backends/cuda/cuda_context.h"

namespace lc::cuda {

struct AttnCudnnCache;

namespace cudnn_attn {

// "[cudnn] expected <call> (<what>) to succeed, got <status>: <cuDNN's last message>".
inline void check(cudnnStatus_t st, const char* call, const char* what) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  const std::string expr = std::string(call) + " (" + what + ")";
  if (detail[0] == 0) throw_cudnn_error(st, expr.c_str(), __FILE__, __LINE__);
  fail<BackendError>("cudnn", "expected ", expr, " to succeed, got ", cudnnGetErrorString(st), ": ",
                     detail);
}

// One backend descriptor, destroyed with its owner (RAII; movable, not copyable).
class Desc {
 public:
  Desc() = default;
  Desc(cudnnBackendDescriptorType_t type, const char* what) {
    check(cudnnBackendCreateDescriptor(type, &d_), "cudnnBackendCreateDescriptor", what);
  }
  Desc(Desc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Desc& operator=(Desc&& o) noexcept {
    if (this != &o) {
      reset();
      d_ = std::exchange(o.d_, nullptr);
    }
    return *this;
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() { reset(); }
  void reset() noexcept {
    if (d_) (void)cudnnBackendDestroyDescriptor(d_);
    d_ = nullptr;
  }
  cudnnBackendDescriptor_t get() const { return d_; }

  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, std::int64_t n,
           const void* value, const char* what) {
    check(cudnnBackendSetAttribute(d_, name, type, n, value), "cudnnBackendSetAttribute", what);
  }
  void set_desc(cudnnBackendAttributeName_t name, cudnnBackendDescriptor_t value,
                const char* what) {
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value, what);
  }
  void finalize(const char* what) { check(cudnnBackendFinalize(d_), "cudnnBackendFinalize", what); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

using Dims = std::array<std::int64_t, 4>;

// Dense row-major strides of a 4-d shape.
inline Dims dense(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}; }

// Unique ids of the tensors the variant pack carries.
enum Uid : std::int64_t {
  kQ = 1,
  kK,
  kV,
  kO,
  kStats,
  kScale,
  kNegInf,
  kSkv,
  kSq,
  kOne,
  kDO,
  kDQ,
  kDK,
  kDV,
  kDQAccum,
  kFirstVirtual = 100
};

// The operation graph under construction: every descriptor it made, kept alive with the plan.
struct GraphBuilder {
  std::vector<Desc> keep;
  std::vector<cudnnBackendDescriptor_t> ops;
  std::int64_t next_uid = kFirstVirtual;

  // A tensor; virtual when uid == 0. f16x16: cuDNN's reordered layout (the dQ accumulator).
  cudnnBackendDescriptor_t tensor(cudnnDataType_t type, const Dims& dims, const Dims& strides,
                                  std::int64_t uid = 0, bool by_value = false,
                                  bool f16x16 = false) {
    Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor");
    const bool is_virtual = uid == 0;
    if (is_virtual) uid = next_uid++;
    const std::int64_t alignment = 16;
    t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, "tensor data type");
    t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data(), "tensor dims");
    t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data(), "tensor strides");
    t.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor uid");
    t.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, "tensor alignment");
    t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, "tensor is_virtual");
    if (by_value)
      t.set(CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "tensor by_value");
    if (f16x16) {
      const cudnnBackendTensorReordering_t mode = CUDNN_TENSOR_REORDERING_F16x16;
      t.set(CUDNN_ATTR_TENSOR_REORDERING_MODE, CUDNN_TYPE_TENSOR_REORDERING_MODE, 1, &mode,
            "tensor reordering");
    }
    t.finalize("tensor");
    keep.push_back(std::move(t));
    return keep.back().get();
  }
  cudnnBackendDescriptor_t scalar(cudnnDataType_t type, std::int64_t uid) {
    return tensor(type, {1, 1, 1, 1}, {1, 1, 1, 1}, uid, true);
  }
  // A virtual tensor like `dims` (dense).
  cudnnBackendDescriptor_t temp(cudnnDataType_t type, const Dims& dims) {
    return tensor(type, dims, dense(dims));
  }

  void add_op(Desc op) {
    ops.push_back(op.get());
    keep.push_back(std::move(op));
  }

  // y = mode(x[, b][, t]) computed in `prec`; axis for GEN_INDEX.
  void pointwise(cudnnPointwiseMode_t mode, cudnnDataType_t prec, cudnnBackendDescriptor_t x,
                 cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y,
                 std::int64_t axis = -1) {
    Desc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
    pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode");
    pw.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, "pointwise precision");
    if (axis >= 0) pw.set(CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, "pointwise axis");
    pw.finalize("pointwise");
    Desc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise operation");
    op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw.get(), "pointwise op desc");
    op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, "pointwise x");
    if (b) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, "pointwise b");
    if (t) op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t, "pointwise t");
    op.set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, "pointwise y");
    op.finalize("pointwise operation");
    keep.push_back(std::move(pw));
    add_op(std::move(op));
  }

  void reduction(cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                 cudnnBackendDescriptor_t y) {
    Desc r(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    r.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode,
          "reduction operator");
    r.set(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec, "reduction precision");
    r.finalize("reduction");
    Desc op(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction operation");
    op.set_desc(CUDNN_ATTR_OPERATION_REDUCTION_DESC, r.get(), "reduction op desc");
    op.set_desc(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, "reduction x");
    op.set_desc(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, "reduction y");
    op.finalize("reduction operation");
    keep.push_back(std::move(r));
    add_op(std::move(op));
  }

  // y: x's elements under another view (a transpose, here).
  void reshape(cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
    Desc op(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, "reshape operation");
    op.set_desc(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x, "reshape x");
    op.set_desc(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y, "reshape y");
    op.finalize("reshape operation");
    add_op(std::move(op));
  }

  void matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c) {
    Desc m(CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    m.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec, "matmul precision");
    m.finalize("matmul");
    Desc op(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul operation");
    op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_DESC, m.get(), "matmul op desc");
    op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, "matmul a");
    op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, "matmul b");
    op.set_desc(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, "matmul c");
    op.finalize("matmul operation");
    keep.push_back(std::move(m));
    add_op(std::move(op));
  }
};

struct Shape {
  std::int64_t b, h, hkv, sq, sk, d, dv;
  bool causal;
  bool fp16;
  bool operator<(const Shape& o) const {
    return std::tie(b, h, hkv, sq, sk, d, dv, causal, fp16) <
           std::tie(o.b, o.h, o.hkv, o.sq, o.sk, o.d, o.dv, o.causal, o.fp16);
  }
};

// A finalised plan (or the reason cuDNN gave for refusing the shape).
struct SdpaPlan {
  GraphBuilder graph;  // tensors and operations the plan was built from
  Desc op_graph;
  Desc heur;
  std::vector<Desc> configs;
  Desc plan;
  std::int64_t workspace = 0;
  bool bottom_right = false;  // causal with Sq < Sk: the mask reads the Skv and Sq scalars
  bool usable = false;
  std::string why;  // refusal
};

// Operation graph -> heuristics (mode A) -> the first engine config that finalises. Throws
// BackendError (with cuDNN's reason) when the graph or every engine is refused.
inline void finalize_plan(SdpaPlan& out, cudnnHandle_t handle) {
  GraphBuilder& g = out.graph;
  out.op_graph = Desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
  out.op_graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                   static_cast<std::int64_t>(g.ops.size()), g.ops.data(), "graph ops");
  out.op_graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "graph handle");
  out.op_graph.finalize("operation graph");

  out.heur = Desc(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "heuristics");
  const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  out.heur.set_desc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, out.op_graph.get(), "heuristics graph");
  out.heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics mode");
  out.heur.finalize("heuristics");
  std::int64_t count = 0;
  check(cudnnBackendGetAttribute(out.heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr),
        "cudnnBackendGetAttribute", "heuristics result count");
  if (count <= 0) fail<BackendError>("cudnn", "expected an engine config, got none");
  std::vector<cudnnBackendDescriptor_t> raw;
  for (std::int64_t i = 0; i < count; ++i) {
    out.configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine config");
    raw.push_back(out.configs.back().get());
  }
  std::int64_t got = 0;
  check(cudnnBackendGetAttribute(out.heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data()),
        "cudnnBackendGetAttribute", "heuristics results");
  std::string last;
  for (std::int64_t i = 0; i < got; ++i) {
    Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
    plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "plan handle");
    plan.set_desc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, raw[i], "plan engine config");
    const cudnnStatus_t st = cudnnBackendFinalize(plan.get());
    if (st != CUDNN_STATUS_SUCCESS) {  // this engine cannot run the graph: try the next
      char detail[256] = {0};
      cudnnGetLastErrorString(detail, sizeof(detail));
      last = std::string(cudnnGetErrorString(st)) + (detail[0] ? ": " : "") + detail;
      continue;
    }
    std::int64_t n = 0;
    check(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                   CUDNN_TYPE_INT64, 1, &n, &out.workspace),
          "cudnnBackendGetAttribute", "plan workspace size");
    out.plan = std::move(plan);
    out.usable = true;
    return;
  }
  fail<BackendError>("cudnn", "expected an engine config that finalises, got ", got,
                     " refusals (last: ", last, ")");
}

// Keeps key j for query i when i + (Sk - Sq) >= j (bottom-right aligned, as our kernels):
// GEN_INDEX rows (+ Skv - Sq, by-value scalars) >= GEN_INDEX cols, BINARY_SELECT with -inf.
// Returns the masked logits.
inline cudnnBackendDescriptor_t causal_mask(SdpaPlan& out, const Shape& s,
                                            cudnnBackendDescriptor_t logits, const Dims& sd) {
  GraphBuilder& g = out.graph;
  const cudnnDataType_t i32 = CUDNN_DATA_INT32, f32 = CUDNN_DATA_FLOAT;
  auto* row = g.temp(i32, sd);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, i32, logits, nullptr, nullptr, row, 2);
  if (s.sq != s.sk) {
    out.bottom_right = true;
    auto* plus = g.temp(i32, sd);
    g.pointwise(CUDNN_POINTWISE_ADD, i32, row, g.scalar(i32, kSkv), nullptr, plus);
    row = g.temp(i32, sd);
    g.pointwise(CUDNN_POINTWISE_SUB, i32, plus, g.scalar(i32, kSq), nullptr, row);
  }
  auto* col = g.temp(i32, sd);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, i32, logits, nullptr, nullptr, col, 3);
  auto* keep = g.temp(CUDNN_DATA_BOOLEAN, sd);
  g.pointwise(CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, row, col, nullptr, keep);
  auto* masked = g.temp(f32, sd);
  g.pointwise(CUDNN_POINTWISE_BINARY_SELECT, f32, logits, g.scalar(f32, kNegInf), keep, masked);
  return masked;
}

// Host values of the by-value scalars a graph may read.
struct Scalars {
  float scale = 1.f, one = 1.f, neg_inf = -INFINITY;
  std::int32_t skv = 0, sq = 0;
};

// The variant pack (device tensors by uid, plus the scalars the plan reads) and the launch.
inline void execute(Context& ctx, cudnnHandle_t handle, const SdpaPlan& plan,
                    std::vector<std::int64_t> uids, std::vector<void*> ptrs, Scalars& sc,
                    bool causal, bool one) {
  uids.push_back(kScale);
  ptrs.push_back(&sc.scale);
  if (one) {
    uids.push_back(kOne);
    ptrs.push_back(&sc.one);
  }
  if (causal) {
    uids.push_back(kNegInf);
    ptrs.push_back(&sc.neg_inf);
  }
  if (plan.bottom_right) {
    uids.insert(uids.end(), {kSkv, kSq});
    ptrs.insert(ptrs.end(), {&sc.skv, &sc.sq});
  }
  Scratch ws = ctx.scratch(static_cast<std::size_t>(plan.workspace));
  void* wsp = ws.get();
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack");
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
           static_cast<std::int64_t>(uids.size()), uids.data(), "variant pack uids");
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
           static_cast<std::int64_t>(ptrs.size()), ptrs.data(), "variant pack pointers");
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &wsp,
           "variant pack workspace");
  pack.finalize("variant pack");
  check(cudnnBackendExecute(handle, plan.plan.get(), pack.get()), "cudnnBackendExecute",
        "fused attention");
}

// One lock for the plan caches and the cuDNN handle they run on.
inline std::mutex& mutex() {
  static std::mutex m;
  return m;
}

using PlanMap = std::map<Shape, std::unique_ptr<SdpaPlan>>;

// The cached plan of `shape`, built by `build(plan, handle, shape)` on first use; a refusal is
// cached as an unusable plan holding cuDNN's reason.
template <class Build>
const SdpaPlan& find_plan(PlanMap& plans, cudnnHandle_t handle, const Shape& shape, Build&& build) {
  auto& slot = plans[shape];
  if (!slot) {
    slot = std::make_unique<SdpaPlan>();
    try {
      build(*slot, handle, shape);
      finalize_plan(*slot, handle);
    } catch (const BackendError& e) {  // refusal remembered; its descriptors released
      slot = std::make_unique<SdpaPlan>();
      slot->why = e.what();
    }
  }
  return *slot;
}

// attention_cudnn.cpp: the forward graph, shared with the backward (which needs O and Stats).
void build_forward(SdpaPlan& out, cudnnHandle_t handle, const Shape& s);
Shape shape_of(const AttnDims& d, bool causal, Precision p);
AttnCudnnCache& cache_of(Context& ctx);
void run_forward_plan(Context& ctx, cudnnHandle_t handle, const SdpaPlan& plan,
                      const AttnFwdArgs& a, const void* q16, const void* k16, const void* v16,
                      void* o16, float* stats);
[[noreturn]] void require_cudnn_attention(const Context& ctx);

}  // namespace cudnn_attn

// The plans of one Context (forward and backward graphs), destroyed before its cuDNN handle.
struct AttnCudnnCache {
  cudnn_attn::PlanMap forward, backward;
};

}  // namespace lc::cuda

#endif  // LC_HAVE_CUDNN
