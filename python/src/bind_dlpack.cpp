// DLPack and __cuda_array_interface__: lc.Tensor exports its memory zero-copy
// (__dlpack__, __dlpack_device__, __cuda_array_interface__) and lc.from_dlpack imports any
// DLPack producer's (torch, cupy, jax, numpy) zero-copy, keeping the producer's buffer alive.
//
// Streams: the CUDA backend runs on a *blocking* stream, ordered with the legacy default
// stream. So a consumer on the legacy stream (None or 1) needs nothing; any other consumer
// stream gets a synchronised producer. On import we ask the producer for stream 1 (the legacy
// stream), which orders its pending work before everything we enqueue afterwards.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "bindings.h"

namespace lc::py {
namespace {

// ---- the DLPack ABI (dlpack.h v1.0; stable, so declared here rather than vendored) ------------
namespace dl {
enum : std::int32_t { kCPU = 1, kCUDA = 2, kCUDAHost = 3 };
enum : std::uint8_t { kInt = 0, kUInt = 1, kFloat = 2, kBfloat = 4, kComplex = 5, kBool = 6 };
constexpr std::uint64_t kFlagReadOnly = 1, kFlagIsCopied = 2;
struct Device {
  std::int32_t device_type, device_id;
};
struct DataType {
  std::uint8_t code, bits;
  std::uint16_t lanes;
};
struct Tensor {
  void* data;
  Device device;
  std::int32_t ndim;
  DataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;
  std::uint64_t byte_offset;
};
struct ManagedTensor {
  Tensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(ManagedTensor*);
};
struct Version {
  std::uint32_t major, minor;
};
struct ManagedTensorVersioned {
  Version version;
  void* manager_ctx;
  void (*deleter)(ManagedTensorVersioned*);
  std::uint64_t flags;
  Tensor dl_tensor;
};
}  // namespace dl

constexpr const char* kName = "dltensor";
constexpr const char* kUsedName = "used_dltensor";
constexpr const char* kVersionedName = "dltensor_versioned";
constexpr const char* kUsedVersionedName = "used_dltensor_versioned";

// ---- export --------------------------------------------------------------------------------

// What a capsule's managed tensor owns: a reference to the storage and the shape arrays.
struct ExportContext {
  std::shared_ptr<Storage> storage;
  std::int64_t shape[Shape::kMaxRank];
  std::int64_t strides[Shape::kMaxRank];
};

template <class M>
M* make_managed(const lc::Tensor& t) {
  auto* ctx = new ExportContext{t.storage(), {}, {}};
  const Shape st = contiguous_strides(t.shape());
  for (int i = 0; i < t.rank(); ++i) {
    ctx->shape[i] = t.shape()[i];
    ctx->strides[i] = st[i];
  }
  auto* m = new M{};
  m->manager_ctx = ctx;
  m->deleter = [](M* self) {
    delete static_cast<ExportContext*>(self->manager_ctx);
    delete self;
  };
  dl::Tensor& d = m->dl_tensor;
  d.data = t.data();
  const Device dev = t.device();
  d.device = dev.is_cpu() ? dl::Device{dl::kCPU, 0} : dl::Device{dl::kCUDA, dev.index};
  d.ndim = t.rank();
  d.dtype = dl::DataType{dl::kFloat, static_cast<std::uint8_t>(dtype_size(t.dtype()) * 8), 1};
  d.shape = ctx->shape;
  d.strides = ctx->strides;
  d.byte_offset = 0;
  return m;
}

// A capsule nobody consumed still owns its tensor (the protocol's rule); a consumed one is
// renamed "used_..." and left alone.
template <class M>
void capsule_destructor(PyObject* capsule, const char* name) {
  if (!PyCapsule_IsValid(capsule, name)) return;  // consumed (renamed): the consumer deletes it
  auto* m = static_cast<M*>(PyCapsule_GetPointer(capsule, name));
  if (m && m->deleter) m->deleter(m);
}

nb::tuple parse_pair(nb::handle obj, const char* what) {
  if (!nb::isinstance<nb::tuple>(obj) || nb::len(obj) != 2)
    fail<ValueError>("__dlpack__", "expected ", what, " as a tuple of two ints, got ",
                     nb::str(nb::repr(obj)).c_str());
  return nb::borrow<nb::tuple>(obj);
}

nb::object tensor_dlpack(const lc::Tensor& self, nb::handle stream, nb::handle max_version,
                         nb::handle dl_device, nb::handle copy) {
  if (!self.defined())
    fail<ValueError>("__dlpack__", "expected a tensor with storage, got an empty one");
  lc::Tensor t = self;
  bool copied = false;
  const Device dev = t.device();
  if (!dl_device.is_none()) {
    nb::tuple d = parse_pair(dl_device, "dl_device");
    const int type = nb::cast<int>(d[0]), id = nb::cast<int>(d[1]);
    const bool same = dev.is_cpu() ? type == dl::kCPU : type == dl::kCUDA && id == dev.index;
    if (!same) {
      if (type != dl::kCPU || (!copy.is_none() && !nb::cast<bool>(copy)))
        throw nb::buffer_error(("[__dlpack__] expected dl_device (" + std::to_string(type) + ", " +
                                std::to_string(id) +
                                ") to be this tensor's device or the CPU (with copy " +
                                "allowed), got a tensor on " + dev.str())
                                   .c_str());
      nb::gil_scoped_release unlocked;
      t = t.to(kCpu);  // a host copy, downloaded (and so synchronised) here
      copied = true;
    }
  }
  if (!copied && !copy.is_none() && nb::cast<bool>(copy)) {
    nb::gil_scoped_release unlocked;
    t = t.clone();
    copied = true;
  }
  if (!t.device().is_cpu() && !stream.is_none()) {
    const std::int64_t s = nb::cast<std::int64_t>(stream);
    if (s == 0)
      fail<ValueError>("__dlpack__",
                       "expected stream None, -1, 1, 2 or a CUDA stream handle, got 0 ",
                       "(ambiguous in the DLPack protocol)");
    // 1: the legacy default stream, ordered with ours already; -1: the consumer syncs itself.
    if (s != 1 && s != -1) {
      nb::gil_scoped_release unlocked;
      backend::backend_for(t.device()).synchronize();
    }
  }

  bool versioned = false;
  if (!max_version.is_none())
    versioned = nb::cast<int>(parse_pair(max_version, "max_version")[0]) >= 1;
  PyObject* capsule;
  if (versioned) {
    auto* m = make_managed<dl::ManagedTensorVersioned>(t);
    m->version = dl::Version{1, 0};
    m->flags = copied ? dl::kFlagIsCopied : 0;
    capsule = PyCapsule_New(m, kVersionedName, [](PyObject* c) {
      capsule_destructor<dl::ManagedTensorVersioned>(c, kVersionedName);
    });
    if (!capsule) m->deleter(m);
  } else {
    auto* m = make_managed<dl::ManagedTensor>(t);
    capsule = PyCapsule_New(m, kName,
                            [](PyObject* c) { capsule_destructor<dl::ManagedTensor>(c, kName); });
    if (!capsule) m->deleter(m);
  }
  if (!capsule) throw nb::python_error();
  return nb::steal(capsule);
}

nb::tuple tensor_dlpack_device(const lc::Tensor& self) {
  const Device d = self.device();
  return d.is_cpu() ? nb::make_tuple(int(dl::kCPU), 0) : nb::make_tuple(int(dl::kCUDA), d.index);
}

nb::dict tensor_cuda_array_interface(const lc::Tensor& self) {
  if (self.device().is_cpu())
    throw nb::attribute_error("[__cuda_array_interface__] expected a CUDA tensor, got one on cpu");
  nb::list shape;
  for (auto d : self.shape()) shape.append(d);
  nb::dict d;
  d["shape"] = nb::tuple(shape);
  d["typestr"] = self.dtype() == DType::f64 ? "<f8" : "<f4";
  d["data"] = nb::make_tuple(reinterpret_cast<std::uintptr_t>(self.data()), false);
  d["version"] = 3;
  d["strides"] = nb::none();
  d["stream"] = 1;  // the legacy default stream, which our blocking stream is ordered with
  return d;
}

// ---- import --------------------------------------------------------------------------------

std::string dtype_text(const dl::DataType& t) {
  const char* names[] = {"int", "uint", "float", "opaque", "bfloat", "complex", "bool"};
  std::string s = t.code < 7 ? names[t.code] : "code" + std::to_string(t.code);
  s += std::to_string(t.bits);
  if (t.lanes != 1) s += "x" + std::to_string(t.lanes);
  return s;
}

// The producer's managed tensor, whichever version, deleted exactly once (under the GIL, which
// some producers' deleters expect).
struct Imported {
  void* managed = nullptr;
  bool versioned = false;
  void release() noexcept {
    if (!managed) return;
    if (!Py_IsInitialized()) return;  // interpreter gone: leak rather than crash at exit
    PyGILState_STATE g = PyGILState_Ensure();
    if (versioned) {
      auto* m = static_cast<dl::ManagedTensorVersioned*>(managed);
      if (m->deleter) m->deleter(m);
    } else {
      auto* m = static_cast<dl::ManagedTensor*>(managed);
      if (m->deleter) m->deleter(m);
    }
    PyGILState_Release(g);
    managed = nullptr;
  }
};

nb::object from_dlpack(nb::handle obj) {
  // Ask for the producer's device first: the stream argument depends on it.
  nb::object capsule;
  if (PyCapsule_CheckExact(obj.ptr())) {
    capsule = nb::borrow(obj);  // a legacy capsule handed over directly
  } else {
    if (!nb::hasattr(obj, "__dlpack__"))
      fail<TypeError>("from_dlpack",
                      "expected an object with __dlpack__ (a torch/cupy/jax/numpy array), got ",
                      Py_TYPE(obj.ptr())->tp_name);
    int type = dl::kCPU;
    if (nb::hasattr(obj, "__dlpack_device__"))
      type = nb::cast<int>(nb::tuple(obj.attr("__dlpack_device__")())[0]);
    nb::object stream = type == dl::kCUDA ? nb::object(nb::int_(1)) : nb::object(nb::none());
    try {
      capsule = obj.attr("__dlpack__")("stream"_a = stream, "max_version"_a = nb::make_tuple(1, 0));
    } catch (nb::python_error& e) {
      if (!e.matches(PyExc_TypeError)) throw;  // an older producer without max_version
      capsule = obj.attr("__dlpack__")("stream"_a = stream);
    }
  }

  Imported owner;
  dl::Tensor* t = nullptr;
  std::uint64_t flags = 0;
  if (PyCapsule_IsValid(capsule.ptr(), kVersionedName)) {
    auto* m = static_cast<dl::ManagedTensorVersioned*>(
        PyCapsule_GetPointer(capsule.ptr(), kVersionedName));
    if (m->version.major != 1)
      throw nb::buffer_error(
          ("[from_dlpack] expected DLPack version 1.x, got " + std::to_string(m->version.major))
              .c_str());
    PyCapsule_SetName(capsule.ptr(), kUsedVersionedName);
    owner = Imported{m, true};
    t = &m->dl_tensor;
    flags = m->flags;
  } else if (PyCapsule_IsValid(capsule.ptr(), kName)) {
    auto* m = static_cast<dl::ManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kName));
    PyCapsule_SetName(capsule.ptr(), kUsedName);
    owner = Imported{m, false};
    t = &m->dl_tensor;
  } else {
    fail<TypeError>("from_dlpack", "expected a DLPack capsule from __dlpack__, got ",
                    Py_TYPE(capsule.ptr())->tp_name);
  }
  struct Guard {  // deletes the managed tensor on every path that does not hand it to a Tensor
    Imported* o;
    ~Guard() { o->release(); }
  } guard{&owner};

  if (t->dtype.code != dl::kFloat || t->dtype.lanes != 1 ||
      (t->dtype.bits != 32 && t->dtype.bits != 64))
    fail<TypeError>("from_dlpack", "expected a float32 or float64 array, got ",
                    dtype_text(t->dtype), "; convert it first (e.g. x.float())");
  if (t->ndim > Shape::kMaxRank)
    fail<ValueError>("from_dlpack", "expected at most ", Shape::kMaxRank, " dimensions, got ",
                     t->ndim);
  Device dev;
  if (t->device.device_type == dl::kCUDA)
    dev = Device{DeviceKind::cuda, t->device.device_id};
  else if (t->device.device_type != dl::kCPU && t->device.device_type != dl::kCUDAHost)
    fail<ValueError>("from_dlpack", "expected a CPU or CUDA array, got DLPack device type ",
                     t->device.device_type);
  const DType dtype = t->dtype.bits == 64 ? DType::f64 : DType::f32;
  Shape shape, strides;
  for (int i = 0; i < t->ndim; ++i) shape.push_back(t->shape[i]);
  strides = t->strides ? Shape(t->strides, t->strides + t->ndim) : contiguous_strides(shape);
  void* data = static_cast<char*>(t->data) + t->byte_offset;
  const TensorView view(data, dtype, shape, strides, dev);

  lc::Tensor result;
  if (!view.is_contiguous() || (flags & dl::kFlagReadOnly)) {
    // lc.Tensor is dense and writable: a strided or read-only array is copied once.
    if (!dev.is_cpu() && !view.is_contiguous())
      fail<ValueError>("from_dlpack", "expected a C-contiguous CUDA array, got shape ", shape.str(),
                       " with strides ", strides.str(), "; make it contiguous first");
    nb::gil_scoped_release unlocked;
    result = view.is_contiguous() ? lc::Tensor(shape, dtype, dev) : contiguous_copy(view);
    if (view.is_contiguous()) copy_into(view, result.view());
  } else {
    // Zero-copy: the storage points into the producer's buffer; its deleter frees nothing of
    // ours and hands the managed tensor back to the producer.
    auto* keep = new Imported(owner);
    owner.managed = nullptr;
    const std::size_t bytes = static_cast<std::size_t>(shape.numel()) * dtype_size(dtype);
    std::shared_ptr<Storage> storage(new Storage(data, bytes, dev), [keep](Storage* s) {
      s->data = nullptr;  // not ours to free
      delete s;
      keep->release();
      delete keep;
    });
    result = lc::Tensor(std::move(storage), shape, dtype);
  }
  if (dtype == DType::f64) return nb::cast(Tensor64(std::move(result)));
  return nb::cast(std::move(result));
}

}  // namespace

void bind_dlpack(nb::module_& m) {
  nb::handle cls = nb::type<lc::Tensor>();
  nb::setattr(
      cls, "__dlpack__",
      nb::cpp_function(&tensor_dlpack, nb::scope(cls), nb::name("__dlpack__"), nb::is_method(),
                       nb::kw_only(), "stream"_a = nb::none(), "max_version"_a = nb::none(),
                       "dl_device"_a = nb::none(), "copy"_a = nb::none(),
                       "A DLPack capsule over this tensor's memory (zero-copy; a copy only when "
                       "copy=True or dl_device asks for the host)."));
  nb::setattr(cls, "__dlpack_device__",
              nb::cpp_function(&tensor_dlpack_device, nb::scope(cls), nb::name("__dlpack_device__"),
                               nb::is_method(),
                               "(device_type, device_id) as DLPack numbers it: (1, 0) "
                               "for the CPU, (2, N) for cuda:N."));
  nb::object property = nb::module_::import_("builtins").attr("property");
  nb::setattr(cls, "__cuda_array_interface__",
              property(nb::cpp_function(&tensor_cuda_array_interface), nb::none(), nb::none(),
                       "The CUDA array interface (version 3) of a CUDA tensor."));
  m.def("from_dlpack", &from_dlpack, "obj"_a,
        "from_dlpack(obj) -> Tensor | Tensor64\n\n"
        "Imports a DLPack array (torch, cupy, jax, numpy, lc.Tensor) zero-copy: the result shares "
        "the producer's memory and keeps it alive. float32 gives lc.Tensor, float64 lc.Tensor64; a "
        "strided or read-only host array is copied once; a strided CUDA array is a ValueError.");
}

}  // namespace lc::py
