// Device memory (a stream-ordered pool) and host<->device copies through pinned staging buffers.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/cpu/thread_pool.h"
#include "backends/cuda/cuda_context.h"

namespace lc::cuda {

// ---- DevicePool ---------------------------------------------------------------------------

void DevicePool::init(int device, cudaStream_t stream) {
  device_ = device;
  stream_ = stream;
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  LC_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
  // Keep every freed block cached: the pool never shrinks on its own at a synchronisation.
  std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
  LC_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold));
  std::size_t free_b = 0;
  LC_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_));
}

void* DevicePool::allocate(std::size_t bytes) {
  // Never hand out null for an empty tensor: a valid, 256-byte aligned pointer keeps
  // pointer checks and DLPack exports uniform.
  const std::size_t n = std::max<std::size_t>(bytes, 256);
  void* p = nullptr;
  // A request beyond the card's memory never succeeds; some drivers answer it with
  // cudaErrorInvalidValue rather than an allocation failure, so say it here.
  cudaError_t e =
      n > total_ ? cudaErrorMemoryAllocation : cudaMallocFromPoolAsync(&p, n, pool_, stream_);
  if (e == cudaErrorMemoryAllocation && n <= total_) {
    (void)cudaGetLastError();  // allocation failures are not sticky; clear the record
    // Blocks freed on the stream but not yet reusable, and cached blocks: give them back, retry.
    LC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    LC_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
    e = cudaMallocFromPoolAsync(&p, n, pool_, stream_);
  }
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    std::size_t free_b = 0, total_b = 0;
    (void)cudaMemGetInfo(&free_b, &total_b);
    (void)cudaGetLastError();
    fail<OutOfMemoryError>("cuda", "expected ", bytes, " bytes of device memory on cuda:", device_,
                           ", got cudaErrorMemoryAllocation (", free_b >> 20, " MiB free of ",
                           total_b >> 20, " MiB)");
  }
  LC_CUDA_CHECK(e);
  return p;
}

void DevicePool::deallocate(void* p) noexcept {
  if (!p) return;
  // Errors here (a faulted context, or the runtime already unloading at exit) cannot be
  // reported from a destructor; the memory goes with the context.
  if (cudaFreeAsync(p, stream_) != cudaSuccess) (void)cudaGetLastError();
}

void DevicePool::trim() noexcept {
  if (!pool_) return;
  (void)cudaStreamSynchronize(stream_);
  (void)cudaMemPoolTrimTo(pool_, 0);
  (void)cudaGetLastError();
}

void DevicePool::release() noexcept {
  if (!pool_) return;
  (void)cudaMemPoolDestroy(pool_);
  (void)cudaGetLastError();
  pool_ = nullptr;
}

// ---- HostStaging --------------------------------------------------------------------------

namespace {

// Page-locked host memory (cudaHostAlloc or cudaHostRegister) is copied directly by DMA.
bool is_pinned(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

}  // namespace

void HostStaging::ensure_buffers() {
  for (auto& b : buf_) {
    if (b.host) continue;
    LC_CUDA_CHECK(cudaHostAlloc(&b.host, kChunk, cudaHostAllocDefault));
    LC_CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
  }
}

void HostStaging::upload(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (is_pinned(src)) {
    // Direct DMA; wait so the caller may reuse src at once, as with the staged path.
    LC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    LC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_buffers();
  // Double buffering: the host fills one buffer while the other one's DMA runs.
  for (std::size_t off = 0; off < bytes; off += kChunk) {
    const std::size_t n = std::min(kChunk, bytes - off);
    Buffer& b = buf_[next_];
    next_ ^= 1;
    LC_CUDA_CHECK(cudaEventSynchronize(b.done));  // the DMA that last read this buffer is done
    cpu::copy_bytes(b.host, static_cast<const char*>(src) + off, n);  // parallel from 2 MB
    LC_CUDA_CHECK(
        cudaMemcpyAsync(static_cast<char*>(dst) + off, b.host, n, cudaMemcpyHostToDevice, stream_));
    LC_CUDA_CHECK(cudaEventRecord(b.done, stream_));
  }
}

void HostStaging::download(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) {
    LC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  if (is_pinned(dst)) {
    LC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    LC_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_buffers();
  // Chunk i's DMA runs while the host copies chunk i-1 out of the other buffer.
  const std::size_t chunks = (bytes + kChunk - 1) / kChunk;
  auto drain = [&](std::size_t i) {
    Buffer& b = buf_[i & 1];
    const std::size_t off = i * kChunk, n = std::min(kChunk, bytes - off);
    LC_CUDA_CHECK(cudaEventSynchronize(b.done));
    cpu::copy_bytes(static_cast<char*>(dst) + off, b.host, n);
  };
  for (std::size_t i = 0; i < chunks; ++i) {
    Buffer& b = buf_[i & 1];
    if (i >= 2) drain(i - 2);  // buffer i&1 was last filled by chunk i-2
    const std::size_t off = i * kChunk, n = std::min(kChunk, bytes - off);
    LC_CUDA_CHECK(cudaMemcpyAsync(b.host, static_cast<const char*>(src) + off, n,
                                  cudaMemcpyDeviceToHost, stream_));
    LC_CUDA_CHECK(cudaEventRecord(b.done, stream_));
  }
  for (std::size_t i = chunks >= 2 ? chunks - 2 : 0; i < chunks; ++i) drain(i);
  next_ = 0;
}

void HostStaging::release() noexcept {
  for (auto& b : buf_) {
    if (b.done) (void)cudaEventSynchronize(b.done);
    if (b.host) (void)cudaFreeHost(b.host);
    if (b.done) (void)cudaEventDestroy(b.done);
    b = Buffer{};
  }
  (void)cudaGetLastError();
}

}  // namespace lc::cuda
