// Per-device state of the CUDA backend (host-only header): the stream every op runs on, the
// library handles, a stream-ordered memory pool, pinned staging buffers and the GEMM plan cache.
// Launchers receive a Context whose device is already current (the backend sets it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "backends/backend.h"
#include "backends/cuda/cuda_check.h"

namespace lc::cuda {

// Stream-ordered pooled device memory: cudaMallocFromPoolAsync on a pool of our own whose
// release threshold keeps freed blocks cached, so steady-state allocation costs ~1 us.
class DevicePool {
 public:
  DevicePool() = default;
  void init(int device, cudaStream_t stream);
  // Throws OutOfMemoryError (after trimming the cache and retrying once).
  void* allocate(std::size_t bytes);
  // Stream-ordered: the block is reused only by work queued on the stream after this call.
  void deallocate(void* p) noexcept;
  // Returns cached, unused blocks to the driver.
  void trim() noexcept;
  void release() noexcept;

 private:
  cudaMemPool_t pool_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
  std::size_t total_ = 0;  // bytes of device memory
};

// Two pinned buffers that pageable host memory is copied through, so DMA runs at pinned speed
// and uploads return as soon as the source may be reused (before the DMA finishes).
class HostStaging {
 public:
  static constexpr std::size_t kChunk = std::size_t{8} << 20;
  HostStaging() = default;
  void init(cudaStream_t stream) { stream_ = stream; }
  void upload(void* dst, const void* src, std::size_t bytes);
  // Returns once dst holds the data (the stream's earlier work included).
  void download(void* dst, const void* src, std::size_t bytes);
  void release() noexcept;

 private:
  void ensure_buffers();
  struct Buffer {
    void* host = nullptr;
    cudaEvent_t done = nullptr;  // recorded after the last copy that used `host`
  };
  Buffer buf_[2];
  int next_ = 0;
  cudaStream_t stream_ = nullptr;
  std::mutex mutex_;
};

struct Context;

// A scratch block from the pool, handed back (stream-ordered) when it goes out of scope: kernels
// already queued that read it stay valid.
class Scratch {
 public:
  Scratch() = default;
  Scratch(DevicePool* pool, std::size_t bytes)
      : pool_(pool), ptr_(bytes ? pool->allocate(bytes) : nullptr) {}
  Scratch(Scratch&& o) noexcept : pool_(o.pool_), ptr_(o.ptr_) { o.ptr_ = nullptr; }
  Scratch& operator=(Scratch&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = o.pool_;
      ptr_ = o.ptr_;
      o.ptr_ = nullptr;
    }
    return *this;
  }
  ~Scratch() { reset(); }
  void reset() noexcept {
    if (ptr_) pool_->deallocate(ptr_);
    ptr_ = nullptr;
  }
  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  DevicePool* pool_ = nullptr;
  void* ptr_ = nullptr;
};

struct GemmCache;  // gemm.cpp: cuBLASLt descriptors and heuristic results per problem shape
struct GemmCacheDeleter {
  void operator()(GemmCache* cache) const noexcept;  // gemm.cpp
};

struct AttnCudnnCache;  // attention_cudnn.cpp: finalised cuDNN attention plans per shape
struct AttnCudnnCacheDeleter {
  void operator()(AttnCudnnCache* cache) const noexcept;  // attention_cudnn.cpp
};

struct Context {
  explicit Context(int device_index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device = 0;
  cudaDeviceProp props{};         // sm count, L2 size, shared-memory limits, name
  cudaStream_t stream = nullptr;  // blocking: ordered with the legacy default stream (interop)
  cublasLtHandle_t lt = nullptr;
  cublasHandle_t blas = nullptr;  // float64 GEMM only
  void* lt_workspace = nullptr;
  std::size_t lt_workspace_bytes = 0;
  DevicePool pool;
  HostStaging staging;
  std::unique_ptr<GemmCache, GemmCacheDeleter> gemm_cache;
  std::mutex gemm_mutex;  // the cache and the per-call descriptor attributes

  bool pdl = true;  // programmatic dependent launch for our kernels (LC_CUDA_PDL=0 turns it off)

  Scratch scratch(std::size_t bytes) { return Scratch(&pool, bytes); }
#ifdef LC_HAVE_CUDNN
  // Created on first use (loading cuDNN's engines is slow), bound to `stream`.
  cudnnHandle_t cudnn();
  std::unique_ptr<AttnCudnnCache, AttnCudnnCacheDeleter>
      attn_cudnn_cache;  // attention_cudnn.cpp locks it
#endif

 private:
#ifdef LC_HAVE_CUDNN
  cudnnHandle_t cudnn_ = nullptr;
  std::mutex cudnn_mutex_;
#endif
};

// Makes a device current for a scope (and restores the previous one).
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();

 private:
  int previous_ = -1;
};

// Launches one of our kernels on the context's stream. With programmatic dependent launch it may
// start while the previous kernel drains: every kernel in kernels/ calls pdl_sync() before it
// touches global memory, so ordering is unchanged; only launch latency is hidden.
template <class... Params, class... Args>
void launch(const Context& ctx, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
            Args&&... args) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = ctx.stream;
  cfg.attrs = &attr;
  cfg.numAttrs = ctx.pdl ? 1 : 0;
  LC_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

// Grid size for a grid-stride loop over `n` items of `per_block` each (at least 1 block).
inline unsigned grid_for(std::int64_t n, int per_block, const Context& ctx, int blocks_per_sm = 8) {
  std::int64_t blocks = (n + per_block - 1) / per_block;
  const std::int64_t cap = static_cast<std::int64_t>(ctx.props.multiProcessorCount) * blocks_per_sm;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

// ---- launchers shared between files (elementwise.cu) --------------------------------------
enum class HalfKind { bf16, fp16 };
// dst[i] = round-to-nearest-even 16-bit value of src[i], i < n.
void convert_f32_to_half(Context& ctx, const float* src, void* dst, std::int64_t n, HalfKind kind);
// GEMM epilogue for a row-major (rows, cols) matrix: c = act(c + bias) (bias (cols) or null).
void bias_activation(Context& ctx, DType dtype, void* c, const void* bias, std::int64_t rows,
                     std::int64_t cols, Activation act);
// c = beta * c over n elements (c = 0 when beta == 0, NaN in c included).
void scale_in_place(Context& ctx, DType dtype, void* c, std::int64_t n, double beta);

}  // namespace lc::cuda
