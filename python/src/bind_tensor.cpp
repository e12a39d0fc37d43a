// lc.Tensor, lc.Tensor64 and lc.TensorView.
#include <nanobind/stl/vector.h>

#include <vector>

#include "bindings.h"

namespace lc::py {
namespace {

Tensor from_array(nb::handle obj, DType dtype, const std::string& device, const char* what) {
  TensorView v = to_view(obj);
  if (!v.invalid.empty() || v.dtype != dtype)
    fail<TypeError>(what, "expected a ", dtype_name(dtype), " array, got ",
                    v.invalid.empty() ? dtype_name(v.dtype) : v.invalid);
  Tensor out(v.shape, dtype, parse_device(device));  // uploaded straight from the array
  copy_into(v, out.view());
  return out;
}

nb::tuple shape_tuple(const Shape& s) {
  nb::list l;
  for (auto d : s) l.append(d);
  return nb::tuple(l);
}

}  // namespace

void bind_tensor(nb::module_& m) {
  nb::class_<Tensor>(m, "Tensor",
                     "A float32 tensor on a device (a copy of the array it is made from).")
      .def(
          "__init__",
          [](Tensor* t, nb::handle array, const std::string& device) {
            new (t) Tensor(from_array(array, DType::f32, device, "Tensor"));
          },
          "array"_a, "device"_a = "cpu")
      .def_static(
          "empty",
          [](const std::vector<std::int64_t>& shape, const std::string& device) {
            return Tensor(Shape(shape.begin(), shape.end()), DType::f32, parse_device(device));
          },
          "shape"_a, "device"_a = "cpu", "An uninitialised float32 tensor.")
      .def_prop_ro("shape", [](const Tensor& t) { return shape_tuple(t.shape()); })
      .def_prop_ro("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_prop_ro("device", [](const Tensor& t) { return t.device().str(); })
      .def_prop_ro("nbytes", &Tensor::nbytes)
      .def("__len__", [](const Tensor& t) { return t.rank() ? t.shape()[0] : 0; })
      .def(
          "to", [](const Tensor& t, const std::string& d) { return t.to(parse_device(d)); },
          "device"_a, "A copy on `device` (this tensor when it is already there).")
      .def(
          "reshape",
          [](const Tensor& t, const std::vector<std::int64_t>& shape) {
            return t.reshape(Shape(shape.begin(), shape.end()));
          },
          "shape"_a, "The same storage with a new shape of the same element count.")
      .def(
          "numpy", [](const Tensor& t) { return to_python(t.to(kCpu)); },
          "A NumPy array of the values (shares memory for a host tensor).")
      .def(
          "__array__",
          [](const Tensor& t, nb::handle, nb::handle) { return to_python(t.to(kCpu)); },
          "dtype"_a = nb::none(), "copy"_a = nb::none())
      .def("__repr__", [](const Tensor& t) {
        return detail::cat("lightning_core.Tensor(shape=", t.shape().str(),
                           ", dtype=", dtype_name(t.dtype()), ", device='", t.device().str(), "')");
      });

  nb::class_<Tensor64, Tensor>(m, "Tensor64",
                               "A float64 tensor (a copy of the array it is made from).")
      .def(
          "__init__",
          [](Tensor64* t, nb::handle array, const std::string& device) {
            new (t) Tensor64(from_array(array, DType::f64, device, "Tensor64"));
          },
          "array"_a, "device"_a = "cpu");

  nb::class_<PyTensorView>(m, "TensorView",
                           "A non-owning, strided view of an array (keeps the array alive).")
      .def(
          "__init__",
          [](PyTensorView* p, nb::handle array) {
            TensorView v = to_view(array);
            if (!v.invalid.empty())
              fail<TypeError>("TensorView", "expected a float32 or float64 array, got ", v.invalid);
            new (p) PyTensorView{nb::borrow(array), v};
          },
          "array"_a)
      .def_prop_ro("shape", [](const PyTensorView& p) { return shape_tuple(p.view.shape); })
      .def_prop_ro("strides", [](const PyTensorView& p) { return shape_tuple(p.view.strides); })
      .def_prop_ro("dtype",
                   [](const PyTensorView& p) { return std::string(dtype_name(p.view.dtype)); })
      .def_prop_ro("device", [](const PyTensorView& p) { return p.view.device.str(); })
      .def_prop_ro("is_contiguous", [](const PyTensorView& p) { return p.view.is_contiguous(); })
      .def(
          "numpy", [](const PyTensorView& p) { return p.owner; }, "The array this view reads.")
      .def("__repr__", [](const PyTensorView& p) {
        return detail::cat("lightning_core.TensorView(shape=", p.view.shape.str(),
                           ", strides=", p.view.strides.str(), ", dtype=", dtype_name(p.view.dtype),
                           ")");
      });
}

}  // namespace lc::py
