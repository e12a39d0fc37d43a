// GEMM on cuBLASLt (float32: fp32 / tf32 / bf16 / fp16 precisions) and cuBLAS (float64).
// Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T, so no data
// is transposed. Descriptors and the heuristic's algorithm are cached per problem shape.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"

namespace lc::cuda {

namespace {

// Everything the descriptors and the heuristic depend on (alpha, beta and pointers are not).
struct GemmKey {
  cudaDataType_t in_type;
  cublasComputeType_t compute;
  std::int64_t rows_x, cols_x, ld_x, rows_y, cols_y, ld_y;  // stored (pre-op) column-major shapes
  std::int64_t m, n;                                        // of the column-major result
  std::int64_t batch, stride_x, stride_y, stride_c;
  bool trans_x, trans_y;
  cublasLtEpilogue_t epilogue;
  std::uint32_t align_x, align_y, align_c;

  bool operator==(const GemmKey& o) const { return std::memcmp(this, &o, sizeof(GemmKey)) == 0; }
};

struct GemmKeyHash {
  std::size_t operator()(const GemmKey& k) const {
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    std::size_t h = 1469598103934665603ull;  // FNV-1a over the (zero-initialised) bytes
    for (std::size_t i = 0; i < sizeof(GemmKey); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};

struct GemmPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t x = nullptr, y = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool has_algo = false;
  std::vector<cublasLtMatmulAlgo_t> candidates;  // the heuristic's best few, best first
  bool tuned = false;
  ~GemmPlan() {
    if (desc) (void)cublasLtMatmulDescDestroy(desc);
    if (x) (void)cublasLtMatrixLayoutDestroy(x);
    if (y) (void)cublasLtMatrixLayoutDestroy(y);
    if (c) (void)cublasLtMatrixLayoutDestroy(c);
  }
};

}  // namespace

struct GemmCache {
  std::unordered_map<GemmKey, std::unique_ptr<GemmPlan>, GemmKeyHash> plans;
};

void GemmCacheDeleter::operator()(GemmCache* cache) const noexcept { delete cache; }

namespace {

// The largest power of two (up to 256) dividing every address the operand takes.
std::uint32_t alignment_of(const void* p, std::int64_t batch, std::int64_t stride,
                           std::size_t elem) {
  std::uint64_t bits = reinterpret_cast<std::uintptr_t>(p);
  if (batch > 1 && stride != 0) bits |= static_cast<std::uint64_t>(stride) * elem;
  std::uint32_t a = 256;
  while (a > 1 && (bits & (a - 1)) != 0) a >>= 1;
  return a;
}

template <class T>
void set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& v) {
  LC_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)));
}

template <class T>
void set_layout_attr(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, const T& v) {
  LC_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, attr, &v, sizeof(v)));
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols,
                                   std::int64_t ld, std::int64_t batch, std::int64_t stride) {
  cublasLtMatrixLayout_t l = nullptr;
  LC_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, static_cast<std::uint64_t>(rows),
                                             static_cast<std::uint64_t>(cols), ld));
  if (batch > 1) {
    set_layout_attr(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<std::int32_t>(batch));
    set_layout_attr(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride);
  }
  return l;
}

// Builds descriptors and asks the heuristic for the best algorithm; null when cuBLASLt has no
// kernel for this combination (the caller then drops the epilogue or the fast mode).
std::unique_ptr<GemmPlan> make_plan(Context& ctx, const GemmKey& k) {
  auto plan = std::make_unique<GemmPlan>();
  LC_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, k.compute, CUDA_R_32F));
  const cublasOperation_t ox = k.trans_x ? CUBLAS_OP_T : CUBLAS_OP_N,
                          oy = k.trans_y ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_attr(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, ox);
  set_attr(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, oy);
  if (k.epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    set_attr(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, k.epilogue);
    if (k.epilogue == CUBLASLT_EPILOGUE_BIAS || k.epilogue == CUBLASLT_EPILOGUE_RELU_BIAS) {
      set_attr(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUDA_R_32F);
      set_attr(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, std::int64_t{0});
    }
  }
  plan->x = make_layout(k.in_type, k.rows_x, k.cols_x, k.ld_x, k.batch, k.stride_x);
  plan->y = make_layout(k.in_type, k.rows_y, k.cols_y, k.ld_y, k.batch, k.stride_y);
  plan->c = make_layout(CUDA_R_32F, k.m, k.n, k.m, k.batch, k.stride_c);

  cublasLtMatmulPreference_t pref = nullptr;
  LC_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  struct PrefGuard {
    cublasLtMatmulPreference_t p;
    ~PrefGuard() { (void)cublasLtMatmulPreferenceDestroy(p); }
  } guard{pref};
  auto set_pref = [&](cublasLtMatmulPreferenceAttributes_t attr, auto v) {
    LC_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)));
  };
  set_pref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
           static_cast<std::uint64_t>(ctx.lt_workspace_bytes));
  set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, k.align_x);
  set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, k.align_y);
  set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, k.align_c);
  set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, k.align_c);

  constexpr int kCandidates = 8;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
      ctx.lt, plan->desc, plan->x, plan->y, plan->c, plan->c, pref, kCandidates, results, &found);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || found == 0) return nullptr;
  LC_CUBLAS_CHECK(st);
  for (int i = 0; i < found; ++i)
    if (results[i].state == CUBLAS_STATUS_SUCCESS) plan->candidates.push_back(results[i].algo);
  if (plan->candidates.empty()) return nullptr;
  plan->algo = plan->candidates[0];
  plan->has_algo = true;
  return plan;
}

GemmPlan* find_plan(Context& ctx, const GemmKey& key) {
  if (!ctx.gemm_cache) ctx.gemm_cache.reset(new GemmCache());
  auto& plans = ctx.gemm_cache->plans;
  auto it = plans.find(key);
  if (it != plans.end()) return it->second.get();  // null: known to be unsupported
  auto plan = make_plan(ctx, key);
  GemmPlan* raw = plan.get();
  plans.emplace(key, std::move(plan));
  return raw;
}

// LC_CUDA_LOWP_GEMM=fast: bf16/fp16 through cuBLASLt's FAST_16BF / FAST_16F compute types on the
// float32 inputs (rounded inside the kernel) instead of converting them first. For benchmarks.
bool lowp_in_kernel() {
  static const bool fast = [] {
    const char* v = std::getenv("LC_CUDA_LOWP_GEMM");
    return v && std::strcmp(v, "fast") == 0;
  }();
  return fast;
}

// The operands cuBLASLt reads: X = B's data, Y = A's data (the column-major swap).
struct Operands {
  const void* x;
  const void* y;
  cudaDataType_t type;
  std::size_t elem;
};

std::int64_t span_of(std::int64_t batch, std::int64_t stride, std::int64_t rows,
                     std::int64_t cols) {
  return (batch > 1 && stride != 0 ? (batch - 1) * stride : 0) + rows * cols;
}

// Large problems: time the heuristic's candidates once (into scratch, beta = 0) and keep the
// fastest; its first pick is not always the best kernel (seen for bf16 inputs with fp32 output).
// LC_CUDA_GEMM_TUNE=0 keeps the first pick. Never while the stream is being captured.
void tune_plan(Context& ctx, GemmPlan& plan, const void* x, const void* y,
               const backend::GemmProblem& p) {
  static const bool enabled = [] {
    const char* v = std::getenv("LC_CUDA_GEMM_TUNE");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  constexpr double kMinFlops = 1e9;  // below this the first pick is within launch noise
  if (!enabled || plan.candidates.size() < 2 || 2.0 * p.batch * p.m * p.n * p.k < kMinFlops) {
    plan.tuned = true;
    return;
  }
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  LC_CUDA_CHECK(cudaStreamIsCapturing(ctx.stream, &capture));
  if (capture != cudaStreamCaptureStatusNone) return;  // tune on a later, uncaptured call
  plan.tuned = true;
  Scratch out = ctx.scratch(static_cast<std::size_t>(p.batch * p.m * p.n) * sizeof(float));
  cudaEvent_t start = nullptr, stop = nullptr;
  LC_CUDA_CHECK(cudaEventCreate(&start));
  LC_CUDA_CHECK(cudaEventCreate(&stop));
  const float alpha = 1.f, beta = 0.f;
  float best = 0.f;
  std::size_t best_i = 0;
  for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
    auto run = [&] {
      return cublasLtMatmul(ctx.lt, plan.desc, &alpha, x, plan.x, y, plan.y, &beta, out.get(),
                            plan.c, out.get(), plan.c, &plan.candidates[i], ctx.lt_workspace,
                            ctx.lt_workspace_bytes, ctx.stream);
    };
    if (run() != CUBLAS_STATUS_SUCCESS) continue;  // warm-up; a candidate that fails is skipped
    LC_CUDA_CHECK(cudaEventRecord(start, ctx.stream));
    constexpr int kReps = 3;
    for (int r = 0; r < kReps; ++r) LC_CUBLAS_CHECK(run());
    LC_CUDA_CHECK(cudaEventRecord(stop, ctx.stream));
    LC_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    LC_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (i == 0 || ms < best) {
      best = ms;
      best_i = i;
    }
  }
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  plan.algo = plan.candidates[best_i];
}

void gemm_f32(Context& ctx, const backend::GemmProblem& p) {
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  Operands ops{p.b, p.a, CUDA_R_32F, 4};
  Scratch xs, ys;
  const bool half = p.precision == Precision::bf16 || p.precision == Precision::fp16;
  if (p.precision == Precision::tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  if (half && lowp_in_kernel()) {
    compute =
        p.precision == Precision::bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F_FAST_16F;
  } else if (half) {
    // Round the inputs to 16 bits once (round-to-nearest-even); accumulate and write in fp32.
    const HalfKind kind = p.precision == Precision::bf16 ? HalfKind::bf16 : HalfKind::fp16;
    const std::int64_t na = span_of(p.batch, p.stride_a, p.m, p.k),
                       nb = span_of(p.batch, p.stride_b, p.k, p.n);
    xs = ctx.scratch(static_cast<std::size_t>(nb) * 2);
    ys = ctx.scratch(static_cast<std::size_t>(na) * 2);
    convert_f32_to_half(ctx, static_cast<const float*>(p.b), xs.get(), nb, kind);
    convert_f32_to_half(ctx, static_cast<const float*>(p.a), ys.get(), na, kind);
    ops = Operands{xs.get(), ys.get(), kind == HalfKind::bf16 ? CUDA_R_16BF : CUDA_R_16F, 2};
  }

  // Epilogue: bias and ReLU in cuBLASLt; GELU by our kernel (cuBLASLt's GELU is the tanh
  // approximation, ours and PyTorch's default the exact erf form).
  const bool bias_aligned = p.bias && (reinterpret_cast<std::uintptr_t>(p.bias) & 15u) == 0;
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  if (bias_aligned)
    epi = p.act == Activation::relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (!p.bias && p.act == Activation::relu)
    epi = CUBLASLT_EPILOGUE_RELU;

  GemmKey key;
  std::memset(&key, 0, sizeof(key));  // the hash and == read every byte, padding included
  key.in_type = ops.type;
  key.compute = compute;
  key.trans_x = p.trans_b;
  key.trans_y = p.trans_a;
  key.rows_x = p.trans_b ? p.k : p.n;  // B (K,N) row-major is (N,K) column-major
  key.cols_x = p.trans_b ? p.n : p.k;
  key.ld_x = key.rows_x;
  key.rows_y = p.trans_a ? p.m : p.k;  // A (M,K) row-major is (K,M) column-major
  key.cols_y = p.trans_a ? p.k : p.m;
  key.ld_y = key.rows_y;
  key.m = p.n;
  key.n = p.m;
  key.batch = p.batch;
  key.stride_x = p.stride_b;
  key.stride_y = p.stride_a;
  key.stride_c = p.stride_c;
  key.epilogue = epi;
  key.align_x = alignment_of(ops.x, p.batch, p.stride_b, ops.elem);
  key.align_y = alignment_of(ops.y, p.batch, p.stride_a, ops.elem);
  key.align_c = alignment_of(p.c, p.batch, p.stride_c, 4);

  std::lock_guard<std::mutex> lock(ctx.gemm_mutex);
  GemmPlan* plan = find_plan(ctx, key);
  if (!plan && epi != CUBLASLT_EPILOGUE_DEFAULT) {  // no fused kernel: plain GEMM + our epilogue
    key.epilogue = epi = CUBLASLT_EPILOGUE_DEFAULT;
    plan = find_plan(ctx, key);
  }
  if (!plan)
    fail<NotSupportedError>("gemm", "expected a cuBLASLt kernel for ", p.m, "x", p.k, "x", p.n,
                            " in ", precision_name(p.precision), ", got none");
  if (epi == CUBLASLT_EPILOGUE_BIAS || epi == CUBLASLT_EPILOGUE_RELU_BIAS)
    set_attr(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias);
  if (!plan->tuned) tune_plan(ctx, *plan, ops.x, ops.y, p);
  const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
  LC_CUBLAS_CHECK(cublasLtMatmul(ctx.lt, plan->desc, &alpha, ops.x, plan->x, ops.y, plan->y, &beta,
                                 p.c, plan->c, p.c, plan->c, plan->has_algo ? &plan->algo : nullptr,
                                 ctx.lt_workspace, ctx.lt_workspace_bytes, ctx.stream));

  const bool fused = epi != CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias_left = fused ? nullptr : p.bias;
  const Activation act_left = fused && p.act == Activation::relu ? Activation::none : p.act;
  bias_activation(ctx, DType::f32, p.c, bias_left, p.batch * p.m, p.n, act_left);
}

void gemm_f64(Context& ctx, const backend::GemmProblem& p) {
  const cublasOperation_t ox = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                          oy = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const std::int64_t ldx = p.trans_b ? p.k : p.n, ldy = p.trans_a ? p.m : p.k;
  const double alpha = p.alpha, beta = p.beta;
  LC_CUBLAS_CHECK(cublasDgemmStridedBatched_64(
      ctx.blas, ox, oy, p.n, p.m, p.k, &alpha, static_cast<const double*>(p.b), ldx, p.stride_b,
      static_cast<const double*>(p.a), ldy, p.stride_a, &beta, static_cast<double*>(p.c), p.n,
      p.stride_c, p.batch));
  bias_activation(ctx, DType::f64, p.c, p.bias, p.batch * p.m, p.n, p.act);
}

}  // namespace

void gemm(Context& ctx, const backend::GemmProblem& p) {
  if (p.batch <= 0 || p.m <= 0 || p.n <= 0) return;
  if (p.batch > 1 && p.stride_c != p.m * p.n)  // the epilogue kernels walk C as (batch*M, N)
    fail<NotSupportedError>("gemm", "expected output batches back to back (stride ", p.m * p.n,
                            "), got ", p.stride_c);
  if (p.k == 0) {  // op(A) op(B) is all zeros: C = beta * C, then the epilogue
    scale_in_place(ctx, p.dtype, p.c, p.batch * p.m * p.n, p.beta);
    bias_activation(ctx, p.dtype, p.c, p.bias, p.batch * p.m, p.n, p.act);
    return;
  }
  if (p.dtype == DType::f64)
    gemm_f64(ctx, p);
  else
    gemm_f32(ctx, p);
}

}  // namespace lc::cuda
