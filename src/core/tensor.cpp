#include "lightning_core/tensor.h"

#include <cstring>
#include <limits>

#include "backends/backend.h"
#include "backends/cpu/thread_pool.h"
#include "lightning_core/error.h"
#include "runtime/stats_counters.h"

namespace lc {

Storage::~Storage() {
  if (data) backend::backend_for(device).deallocate(data);
}

std::shared_ptr<Storage> allocate_storage(std::int64_t numel, DType dtype, Device device,
                                          const char* op) {
  constexpr auto kMaxBytes = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (numel < 0) fail(op, "expected a non-negative element count, got ", numel);
  if (static_cast<std::uint64_t>(numel) > kMaxBytes / dtype_size(dtype))
    fail<ValueError>(op, "expected a size whose byte count fits in 64 bits, got ", numel,
                     " elements of ", dtype_name(dtype));
  std::size_t bytes = static_cast<std::size_t>(numel) * dtype_size(dtype);
  auto& be = backend::backend_for(device);
  void* p = be.allocate(bytes);  // throws OutOfMemoryError itself
  if (!device.is_cpu()) runtime::count_device_allocation();
  return std::make_shared<Storage>(p, bytes, device);
}

TensorView::TensorView(void* d, DType t, Shape s, Device dev)
    : data(d), dtype(t), device(dev), shape(s), strides(contiguous_strides(s)) {}

TensorView::TensorView(void* d, DType t, Shape s, Shape st, Device dev)
    : data(d), dtype(t), device(dev), shape(s), strides(st) {}

bool TensorView::is_contiguous() const {
  if (numel() == 0) return true;  // as NumPy: an empty array is contiguous whatever its strides
  std::int64_t expected = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

Tensor::Tensor(Shape shape, DType dtype, Device device)
    : storage_(allocate_storage(shape.numel(), dtype, device, "tensor")),
      shape_(shape),
      dtype_(dtype) {}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype)
    : storage_(std::move(storage)), shape_(shape), dtype_(dtype) {
  if (storage_ && static_cast<std::size_t>(shape.numel()) * dtype_size(dtype) > storage_->bytes)
    fail("tensor", "expected a shape that fits in its storage, got ", shape.str());
}

Tensor Tensor::to(Device device) const {
  if (!defined() || device == this->device()) return *this;
  Tensor out(shape_, dtype_, device);
  copy_into(view(), out.view());
  return out;
}

Tensor Tensor::to(std::string_view device) const { return to(parse_device(device)); }

Tensor Tensor::clone() const {
  Tensor out(shape_, dtype_, device());
  copy_into(view(), out.view());
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  if (shape.numel() != numel())
    fail("reshape", "expected a shape of ", numel(), " elements, got ", shape.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor64::Tensor64(Tensor t) : Tensor(std::move(t)) {
  if (dtype_ != DType::f64)
    fail<TypeError>("Tensor64", "expected float64, got ", dtype_name(dtype_));
}

namespace {

// Strided host copy, element by element over the outer axes, memcpy along a contiguous last axis.
template <class T>
void strided_copy(const TensorView& src, T* dst) {
  const int rank = src.rank();
  const auto* base = static_cast<const T*>(src.data);
  if (rank == 0) {
    *dst = *base;
    return;
  }
  std::int64_t idx[Shape::kMaxRank] = {};
  // Plain pointers: Shape::operator[] also takes negative indices, which GCC's -Warray-bounds
  // then follows into impossible branches.
  const std::int64_t* shape = src.shape.begin();
  const std::int64_t* strides = src.strides.begin();
  const std::int64_t inner = shape[rank - 1], inner_stride = strides[rank - 1];
  const std::int64_t outer = inner ? src.numel() / inner : 0;
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t off = 0;
    for (int d = 0; d < rank - 1; ++d) off += idx[d] * strides[d];
    const T* s = base + off;
    if (inner_stride == 1) {
      std::memcpy(dst, s, static_cast<std::size_t>(inner) * sizeof(T));
    } else {
      for (std::int64_t i = 0; i < inner; ++i) dst[i] = s[i * inner_stride];
    }
    dst += inner;
    for (int d = rank - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

Tensor contiguous_copy(const TensorView& v) {
  Tensor out(v.shape, v.dtype, v.device);
  if (v.is_contiguous()) {
    copy_into(v, out.view());
    return out;
  }
  if (!v.device.is_cpu())
    fail<NotSupportedError>("contiguous", "expected a contiguous device tensor, got strides ",
                            v.strides.str());
  dispatch_float(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    strided_copy<T>(v, out.data<T>());
  });
  runtime::count_contiguous_copy();
  return out;
}

void copy_into(const TensorView& src, const TensorView& dst) {
  if (src.shape != dst.shape || src.dtype != dst.dtype)
    fail("copy", "expected matching shape and dtype, got ", src.shape.str(), " ",
         dtype_name(src.dtype), " and ", dst.shape.str(), " ", dtype_name(dst.dtype));
  if (!dst.is_contiguous()) fail("copy", "expected a contiguous destination");
  const std::size_t bytes = static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype);
  if (bytes == 0) return;
  if (!src.is_contiguous()) {
    Tensor tmp = contiguous_copy(src);
    copy_into(tmp.view(), dst);
    return;
  }
  const bool src_host = src.device.is_cpu(), dst_host = dst.device.is_cpu();
  if (src_host && dst_host) {
    cpu::copy_bytes(dst.data, src.data, bytes);
  } else if (src_host) {
    backend::backend_for(dst.device).copy_from_host(dst.data, src.data, bytes);
    runtime::count_upload(bytes);
  } else if (dst_host) {
    backend::backend_for(src.device).copy_to_host(dst.data, src.data, bytes);
    runtime::count_download(bytes);
  } else if (src.device == dst.device) {
    backend::backend_for(src.device).copy_within(dst.data, src.data, bytes);
  } else {
    Tensor host = Tensor(src.shape, src.dtype, kCpu);
    copy_into(src, host.view());
    copy_into(host.view(), dst);
  }
}

}  // namespace lc
