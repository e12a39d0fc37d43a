// Tensor (owning, float32), Tensor64 (owning, float64) and TensorView (non-owning, strided).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lightning_core/device.h"
#include "lightning_core/dtype.h"
#include "lightning_core/shape.h"

namespace lc {

// A raw allocation on one device, freed by the backend that made it.
struct Storage {
  void* data = nullptr;
  std::size_t bytes = 0;
  Device device;
  ~Storage();
  Storage(void* d, std::size_t b, Device dev) : data(d), bytes(b), device(dev) {}
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Allocates `numel * dtype_size(dtype)` bytes on `device`; checks the byte count for overflow
// first and throws OutOfMemoryError when the allocation fails.
std::shared_ptr<Storage> allocate_storage(std::int64_t numel, DType dtype, Device device,
                                          const char* op = "alloc");

// Non-owning view: pointer, dtype, device, shape and element strides.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device;
  Shape shape;
  Shape strides;  // in elements; may be negative or zero
  bool writable = true;
  // Set by language bindings when the argument was not a usable array ("None", "an int64
  // array"); the op's front-end reports it with the op and argument name.
  std::string invalid;

  TensorView() = default;
  TensorView(void* d, DType t, Shape s, Device dev = {});  // contiguous
  TensorView(void* d, DType t, Shape s, Shape st, Device dev);

  int rank() const { return shape.rank(); }
  std::int64_t numel() const { return shape.numel(); }
  bool is_contiguous() const;
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, DType dtype = DType::f32, Device device = {});
  // Wraps an existing allocation (shape must fit in it).
  Tensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device{}; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  void* data() const { return storage_ ? storage_->data : nullptr; }
  template <class T>
  T* data() const {
    return static_cast<T*>(data());
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  TensorView view() const { return TensorView(data(), dtype_, shape_, device()); }
  operator TensorView() const { return view(); }  // NOLINT: a tensor is usable wherever a view is

  // A copy on `device` (the same tensor when it already lives there).
  Tensor to(Device device) const;
  Tensor to(std::string_view device) const;
  Tensor clone() const;
  // Same storage, new shape with the same element count.
  Tensor reshape(Shape shape) const;

 protected:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::f32;
};

// A float64 tensor: the same object with its dtype fixed.
class Tensor64 : public Tensor {
 public:
  Tensor64() { dtype_ = DType::f64; }
  explicit Tensor64(Shape shape, Device device = {}) : Tensor(shape, DType::f64, device) {}
  explicit Tensor64(Tensor t);  // throws TypeError unless t is float64
};

// Copies a (possibly strided) view into a new contiguous tensor on the same device.
Tensor contiguous_copy(const TensorView& v);
// Copies src into dst (same shape and dtype; any devices, any strides on the host).
void copy_into(const TensorView& src, const TensorView& dst);

}  // namespace lc
