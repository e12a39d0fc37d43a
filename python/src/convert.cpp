#include "convert.h"

#include <nanobind/ndarray.h>

#define NO_IMPORT_ARRAY
#define PY_ARRAY_UNIQUE_SYMBOL lc_numpy_api
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <cstring>
#include <memory>
#include <string>

namespace lc::py {
namespace {

// The NumPy name of a buffer-protocol element format, for error messages.
std::string format_name(const char* fmt, Py_ssize_t itemsize) {
  if (!fmt) return "bytes";
  while (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '>' || *fmt == '!') ++fmt;
  const std::string bits = std::to_string(itemsize * 8);
  switch (*fmt) {
    case 'e':
      return "float16";
    case 'f':
      return "float32";
    case 'd':
      return "float64";
    case 'g':
      return "longdouble";
    case '?':
      return "bool";
    case 'O':
      return "object";
    case 'b':
    case 'h':
    case 'i':
    case 'l':
    case 'q':
    case 'n':
      return "int" + bits;
    case 'B':
    case 'H':
    case 'I':
    case 'L':
    case 'Q':
    case 'N':
      return "uint" + bits;
    case 'Z':
      return "complex" + bits;
    default:
      return std::string("format '") + fmt + "'";
  }
}

TensorView invalid_view(std::string what) {
  TensorView v;
  v.invalid = std::move(what);
  return v;
}

TensorView from_buffer(nb::handle obj) {
  Py_buffer buf;
  if (PyObject_GetBuffer(obj.ptr(), &buf, PyBUF_RECORDS_RO) != 0) {
    PyErr_Clear();
    return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name +
                        " without a strided buffer");
  }
  struct Release {
    Py_buffer* b;
    ~Release() { PyBuffer_Release(b); }
  } release{&buf};

  const char* fmt = buf.format ? buf.format : "B";
  const bool native = fmt[0] != '>' && fmt[0] != '!';
  const char* code = fmt;
  while (*code == '<' || *code == '=' || *code == '@') ++code;
  DType dtype;
  if (native && code[0] == 'f' && code[1] == 0 && buf.itemsize == 4)
    dtype = DType::f32;
  else if (native && code[0] == 'd' && code[1] == 0 && buf.itemsize == 8)
    dtype = DType::f64;
  else
    return invalid_view("an array of " + format_name(buf.format, buf.itemsize) +
                        (native ? "" : " (big-endian)"));
  if (buf.ndim > Shape::kMaxRank)
    return invalid_view("an array of " + std::to_string(buf.ndim) +
                        " dimensions (at most 8 are supported)");

  TensorView v;
  v.data = buf.buf;
  v.dtype = dtype;
  v.writable = !buf.readonly;
  for (int i = 0; i < buf.ndim; ++i) {
    v.shape.push_back(buf.shape[i]);
    if (buf.strides[i] % buf.itemsize != 0) return invalid_view("an array with unaligned strides");
    v.strides.push_back(buf.strides[i] / buf.itemsize);
  }
  return v;
}

// NumPy arrays, read straight from the array object (the common, fastest case).
TensorView from_numpy(PyArrayObject* a) {
  const int type = PyArray_TYPE(a);
  const bool native = PyArray_ISNOTSWAPPED(a);
  DType dtype;
  if (type == NPY_FLOAT32 && native)
    dtype = DType::f32;
  else if (type == NPY_FLOAT64 && native)
    dtype = DType::f64;
  else {
    nb::str name =
        nb::borrow<nb::str>(nb::handle(reinterpret_cast<PyObject*>(PyArray_DESCR(a))).attr("name"));
    return invalid_view(std::string("an array of ") + name.c_str() +
                        (native ? "" : " (byte-swapped)"));
  }
  const int ndim = PyArray_NDIM(a);
  if (ndim > Shape::kMaxRank)
    return invalid_view("an array of " + std::to_string(ndim) +
                        " dimensions (at most 8 are supported)");
  const npy_intp* dims = PyArray_DIMS(a);
  const npy_intp* strides = PyArray_STRIDES(a);
  const npy_intp item = static_cast<npy_intp>(dtype_size(dtype));
  TensorView v;
  v.data = PyArray_DATA(a);
  v.dtype = dtype;
  v.writable = PyArray_ISWRITEABLE(a);
  for (int i = 0; i < ndim; ++i) {
    if (strides[i] % item != 0) return invalid_view("an array with unaligned strides");
    v.shape.push_back(dims[i]);
    v.strides.push_back(strides[i] / item);
  }
  return v;
}

}  // namespace

TensorView to_view(nb::handle obj) {
  if (PyArray_Check(obj.ptr())) return from_numpy(reinterpret_cast<PyArrayObject*>(obj.ptr()));
  if (obj.is_none()) return invalid_view("None");
  if (nb::isinstance<Tensor>(obj)) {
    const Tensor& t = *nb::inst_ptr<Tensor>(obj);
    if (!t.defined()) return invalid_view("an empty lc.Tensor");
    return t.view();
  }
  if (nb::isinstance<PyTensorView>(obj)) return nb::inst_ptr<PyTensorView>(obj)->view;
  if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(obj);
  if (nb::hasattr(obj, "__dlpack__")) {
    nb::ndarray<nb::ro> arr;
    try {
      arr = nb::cast<nb::ndarray<nb::ro>>(obj);
    } catch (...) {
      return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name +
                          " that DLPack could not import");
    }
    TensorView v;
    if (arr.dtype() == nb::dtype<float>())
      v.dtype = DType::f32;
    else if (arr.dtype() == nb::dtype<double>())
      v.dtype = DType::f64;
    else
      return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name + " of another dtype");
    v.data = const_cast<void*>(arr.data());
    for (size_t i = 0; i < arr.ndim(); ++i) {
      v.shape.push_back(static_cast<std::int64_t>(arr.shape(i)));
      v.strides.push_back(arr.stride(i));
    }
    if (arr.device_type() == nb::device::cuda::value)
      v.device = Device{DeviceKind::cuda, arr.device_id()};
    else if (arr.device_type() != nb::device::cpu::value)
      return invalid_view("an array on an unsupported device");
    return v;
  }
  return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name);
}

nb::object to_python(const Tensor& t) {
  if (!t.device().is_cpu()) return nb::cast(t);
  // A NumPy array over the tensor's memory, kept alive by a capsule holding the storage.
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  nb::capsule owner(keep,
                    [](void* p) noexcept { delete static_cast<std::shared_ptr<Storage>*>(p); });
  npy_intp shape[Shape::kMaxRank];
  for (int i = 0; i < t.rank(); ++i) shape[i] = static_cast<npy_intp>(t.shape()[i]);
  const int type = t.dtype() == DType::f64 ? NPY_FLOAT64 : NPY_FLOAT32;
  PyObject* arr = PyArray_SimpleNewFromData(t.rank(), shape, type, t.data());
  if (!arr) throw nb::python_error();
  if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), owner.release().ptr()) != 0) {
    Py_DECREF(arr);
    throw nb::python_error();
  }
  return nb::steal(arr);
}

nb::object to_python(const LstmState& s) { return nb::make_tuple(to_python(s.h), to_python(s.c)); }
nb::object to_python(const LstmResult& r) {
  return nb::make_tuple(to_python(r.output), to_python(r.h), to_python(r.c));
}
nb::object to_python(const AttentionGrads& g) {
  return nb::make_tuple(to_python(g.dq), to_python(g.dk), to_python(g.dv));
}

Policy resolve_policy(nb::handle device, nb::handle policy) {
  Policy p = policy.is_none() ? current_policy() : nb::cast<const Policy&>(policy);
  if (!device.is_none()) {
    if (!PyUnicode_Check(device.ptr()))
      fail<TypeError>("device", "expected a device string such as \"cpu\" or \"cuda\", got ",
                      Py_TYPE(device.ptr())->tp_name);
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(device.ptr(), &n);
    p.device.assign(s, static_cast<size_t>(n));
  }
  return p;
}

}  // namespace lc::py
