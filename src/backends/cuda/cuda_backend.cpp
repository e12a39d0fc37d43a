// The CUDA Backend: owns one Context per device, forwards each op to its launcher file, and
// exports the two entry points the core library looks up after dlopen.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"

namespace lc::cuda {

// ---- errors -------------------------------------------------------------------------------

namespace {

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
  const char* name = cudaGetErrorName(e);
  const char* text = cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    fail<OutOfMemoryError>("cuda", "expected ", expr, " to succeed, got ", name, ": ", text, " (",
                           base_name(file), ":", line, ")");
  }
  fail<BackendError>("cuda", "expected ", expr, " to succeed, got ", name, ": ", text, " (",
                     base_name(file), ":", line, ")");
}

void throw_cublas_error(cublasStatus_t s, const char* expr, const char* file, int line) {
  const char* name = cublasGetStatusName(s);
  const char* text = cublasGetStatusString(s);
  if (s == CUBLAS_STATUS_ALLOC_FAILED)
    fail<OutOfMemoryError>("cublas", "expected ", expr, " to succeed, got ", name, ": ", text, " (",
                           base_name(file), ":", line, ")");
  fail<BackendError>("cublas", "expected ", expr, " to succeed, got ", name, ": ", text, " (",
                     base_name(file), ":", line, ")");
}

#ifdef LC_HAVE_CUDNN
void throw_cudnn_error(cudnnStatus_t s, const char* expr, const char* file, int line) {
  const char* text = cudnnGetErrorString(s);
  if (s == CUDNN_STATUS_ALLOC_FAILED)
    fail<OutOfMemoryError>("cudnn", "expected ", expr, " to succeed, got ", text, " (",
                           base_name(file), ":", line, ")");
  fail<BackendError>("cudnn", "expected ", expr, " to succeed, got ", text, " (", base_name(file),
                     ":", line, ")");
}
#endif

// ---- Context ------------------------------------------------------------------------------

DeviceScope::DeviceScope(int device) {
  LC_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device)
    LC_CUDA_CHECK(cudaSetDevice(device));
  else
    previous_ = -1;
}

DeviceScope::~DeviceScope() {
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

Context::Context(int device_index) : device(device_index) {
  DeviceScope scope(device);
  if (const char* v = std::getenv("LC_CUDA_PDL"); v && std::strcmp(v, "0") == 0) pdl = false;
  LC_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  // Blocking (not cudaStreamNonBlocking): work here is ordered with the legacy default stream,
  // which PyTorch and CuPy use by default, so arrays shared with them need no extra events.
  LC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
  pool.init(device, stream);
  staging.init(stream);
  LC_CUBLAS_CHECK(cublasLtCreate(&lt));
  LC_CUBLAS_CHECK(cublasCreate(&blas));
  LC_CUBLAS_CHECK(cublasSetStream(blas, stream));
  // cuBLAS recommends 32 MiB of workspace on Hopper (split-K and stream-K kernels use it).
  lt_workspace_bytes = std::size_t{32} << 20;
  LC_CUDA_CHECK(cudaMalloc(&lt_workspace, lt_workspace_bytes));
  LC_CUBLAS_CHECK(cublasSetWorkspace(blas, lt_workspace, lt_workspace_bytes));
}

Context::~Context() {
  // Errors are ignored: at process exit the runtime may already be unloading.
  (void)cudaSetDevice(device);
  (void)cudaStreamSynchronize(stream);
  gemm_cache.reset();
#ifdef LC_HAVE_CUDNN
  attn_cudnn_cache.reset();  // its plans reference the handle
  if (cudnn_) (void)cudnnDestroy(cudnn_);
#endif
  if (blas) (void)cublasDestroy(blas);
  if (lt) (void)cublasLtDestroy(lt);
  if (lt_workspace) (void)cudaFree(lt_workspace);
  staging.release();
  pool.release();
  if (stream) (void)cudaStreamDestroy(stream);
  (void)cudaGetLastError();
}

#ifdef LC_HAVE_CUDNN
cudnnHandle_t Context::cudnn() {
  std::lock_guard<std::mutex> lock(cudnn_mutex_);
  if (!cudnn_) {
    LC_CUDNN_CHECK(cudnnCreate(&cudnn_));
    LC_CUDNN_CHECK(cudnnSetStream(cudnn_, stream));
  }
  return cudnn_;
}
#endif

// ---- Backend ------------------------------------------------------------------------------

namespace {

using namespace lc::backend;

bool is_lowp(Precision p) {
  return p == Precision::tf32 || p == Precision::bf16 || p == Precision::fp16;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : ctx_(device), name_("cuda:" + std::to_string(device)) {}

  const char* name() const override { return name_.c_str(); }
  Device device() const override { return Device{DeviceKind::cuda, ctx_.device}; }

  bool supports(OpKind op, DType dtype, Precision precision) const override {
    const bool f32 = dtype == DType::f32;
    switch (op) {
      case OpKind::gemm:
        // float64 runs in float64 whatever the policy asks (never lower); float32 in fp32 or
        // the tensor-core precision the policy allows, never in float64.
        return dtype == DType::f64 || precision == Precision::fp32 || is_lowp(precision);
      case OpKind::unary:
      case OpKind::binary:
      case OpKind::axpy:
      case OpKind::transpose:
      case OpKind::softmax:
      case OpKind::norm:
      case OpKind::reduce:
        return true;  // float32 and float64 (arithmetic in the input's type)
      case OpKind::pool2d:
      case OpKind::lstm_cell:
      case OpKind::gru_cell:
        return f32;
      case OpKind::conv2d:
      case OpKind::attention:
      case OpKind::attention_backward:
        return f32 && precision != Precision::fp64;
    }
    return false;
  }

  void* allocate(std::size_t bytes) override {
    DeviceScope s(ctx_.device);
    return ctx_.pool.allocate(bytes);
  }
  void deallocate(void* p) noexcept override { ctx_.pool.deallocate(p); }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    DeviceScope s(ctx_.device);
    ctx_.staging.upload(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    DeviceScope s(ctx_.device);
    ctx_.staging.download(dst, src, bytes);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    DeviceScope s(ctx_.device);
    LC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_.stream));
  }
  void synchronize() override {
    DeviceScope s(ctx_.device);
    LC_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }

  void gemm(const GemmProblem& p) override { run(cuda::gemm, p); }
  void conv2d(const Conv2dProblem& p) override { run(cuda::conv2d, p); }
  void pool2d(const Pool2dProblem& p) override { run(cuda::pool2d, p); }
  void attention(const AttentionProblem& p) override { run(cuda::attention, p); }
  void attention_backward(const AttentionBackwardProblem& p) override {
    run(cuda::attention_backward, p);
  }
  void unary(const UnaryProblem& p) override { run(cuda::unary, p); }
  void binary(const BinaryProblem& p) override { run(cuda::binary, p); }
  void axpy(const AxpyProblem& p) override { run(cuda::axpy, p); }
  void softmax(const SoftmaxProblem& p) override { run(cuda::softmax, p); }
  void norm(const NormProblem& p) override { run(cuda::norm, p); }
  void reduce(const ReduceProblem& p) override { run(cuda::reduce, p); }
  void transpose(const TransposeProblem& p) override { run(cuda::transpose, p); }
  void lstm_cell(const LstmCellProblem& p) override { run(cuda::lstm_cell, p); }
  void gru_cell(const GruCellProblem& p) override { run(cuda::gru_cell, p); }

 private:
  template <class P>
  void run(void (*launcher)(Context&, const P&), const P& p) {
    DeviceScope s(ctx_.device);
    launcher(ctx_, p);
  }

  Context ctx_;
  std::string name_;
};

void write_error(char* err, std::size_t n, const std::string& msg) {
  if (err && n) std::snprintf(err, n, "%s", msg.c_str());
}

}  // namespace
}  // namespace lc::cuda

#define LC_EXPORT extern "C" __attribute__((visibility("default")))

LC_EXPORT int lc_backend_device_count(int abi_version, char* err, std::size_t err_len) {
  using lc::cuda::write_error;
  if (abi_version != lc::backend::kAbiVersion) {
    write_error(err, err_len,
                "CUDA backend library built for backend ABI " +
                    std::to_string(lc::backend::kAbiVersion) + ", core expects " +
                    std::to_string(abi_version));
    return 0;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    // Without libcuda.so the static runtime reports an insufficient driver.
    const std::string what = e == cudaErrorNoDevice ? "no device"
                             : e == cudaErrorInsufficientDriver
                                 ? "no driver (or one too old for this CUDA runtime)"
                                 : "no usable device";
    write_error(err, err_len,
                what + " (" + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")");
    return 0;
  }
  if (count == 0) write_error(err, err_len, "no device (cudaGetDeviceCount reports 0)");
  return count;
}

LC_EXPORT lc::backend::Backend* lc_backend_create(int abi_version, int device, char* err,
                                                  std::size_t err_len) {
  using lc::cuda::write_error;
  if (abi_version != lc::backend::kAbiVersion) {
    write_error(err, err_len, "backend ABI mismatch");
    return nullptr;
  }
  try {
    return new lc::cuda::CudaBackend(device);
  } catch (const std::exception& e) {
    write_error(err, err_len, e.what());
  } catch (...) {
    write_error(err, err_len, "unknown error creating the CUDA context");
  }
  return nullptr;
}
