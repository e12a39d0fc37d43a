#include "convert.h"

#include <nanobind/ndarray.h>

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
    case 'e': return "float16";
    case 'f': return "float32";
    case 'd': return "float64";
    case 'g': return "longdouble";
    case '?': return "bool";
    case 'O': return "object";
    case 'b': case 'h': case 'i': case 'l': case 'q': case 'n': return "int" + bits;
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N': return "uint" + bits;
    case 'Z': return "complex" + bits;
    default: return std::string("format '") + fmt + "'";
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
    return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name + " without a strided buffer");
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
  if (native && code[0] == 'f' && code[1] == 0 && buf.itemsize == 4) dtype = DType::f32;
  else if (native && code[0] == 'd' && code[1] == 0 && buf.itemsize == 8) dtype = DType::f64;
  else return invalid_view("an array of " + format_name(buf.format, buf.itemsize) + (native ? "" : " (big-endian)"));
  if (buf.ndim > Shape::kMaxRank)
    return invalid_view("an array of " + std::to_string(buf.ndim) + " dimensions (at most 8 are supported)");

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

}  // namespace

TensorView to_view(nb::handle obj) {
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
      return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name + " that DLPack could not import");
    }
    TensorView v;
    if (arr.dtype() == nb::dtype<float>()) v.dtype = DType::f32;
    else if (arr.dtype() == nb::dtype<double>()) v.dtype = DType::f64;
    else return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name + " of another dtype");
    v.data = const_cast<void*>(arr.data());
    for (size_t i = 0; i < arr.ndim(); ++i) {
      v.shape.push_back(static_cast<std::int64_t>(arr.shape(i)));
      v.strides.push_back(arr.stride(i));
    }
    if (arr.device_type() == nb::device::cuda::value) v.device = Device{DeviceKind::cuda, arr.device_id()};
    else if (arr.device_type() != nb::device::cpu::value)
      return invalid_view("an array on an unsupported device");
    return v;
  }
  return invalid_view(std::string("a ") + Py_TYPE(obj.ptr())->tp_name);
}

nb::object to_python(const Tensor& t) {
  if (!t.device().is_cpu()) return nb::cast(t);
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<std::shared_ptr<Storage>*>(p); });
  size_t shape[Shape::kMaxRank];
  for (int i = 0; i < t.rank(); ++i) shape[i] = static_cast<size_t>(t.shape()[i]);
  if (t.dtype() == DType::f64)
    return nb::cast(nb::ndarray<nb::numpy, double>(t.data(), static_cast<size_t>(t.rank()), shape, owner));
  return nb::cast(nb::ndarray<nb::numpy, float>(t.data(), static_cast<size_t>(t.rank()), shape, owner));
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
