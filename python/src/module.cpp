// The extension module: error types and the per-area binding files.
#include "bindings.h"

#define PY_ARRAY_UNIQUE_SYMBOL lc_numpy_api
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

namespace lc::py {
namespace {

void bind_errors(nb::module_& m) {
  static nb::object base = nb::exception<Error>(m, "Error", PyExc_RuntimeError);
  static nb::object dev =
      nb::exception<DeviceUnavailableError>(m, "DeviceUnavailableError", base.ptr());
  static nb::object backend = nb::exception<BackendError>(m, "BackendError", base.ptr());
  static nb::object oom = nb::exception<OutOfMemoryError>(m, "OutOfMemoryError", PyExc_MemoryError);
  static nb::object unsupported =
      nb::exception<NotSupportedError>(m, "NotSupportedError", PyExc_NotImplementedError);
  // One translator, most specific type first.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const DeviceUnavailableError& e) {
      PyErr_SetString(dev.ptr(), e.what());
    } catch (const BackendError& e) {
      PyErr_SetString(backend.ptr(), e.what());
    } catch (const OutOfMemoryError& e) {
      PyErr_SetString(oom.ptr(), e.what());
    } catch (const NotSupportedError& e) {
      PyErr_SetString(unsupported.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(base.ptr(), e.what());
    }
  });
}

}  // namespace
}  // namespace lc::py

NB_MODULE(_core, m) {
  using namespace lc::py;
  if (_import_array() < 0) throw nb::python_error();  // NumPy's C API, for zero-copy results
  m.doc() = "Lightning Core native module (use the lightning_core package)";
  m.attr("__version__") = lc::kVersion;
  bind_errors(m);
  bind_runtime(m);
  bind_tensor(m);
  bind_matmul(m);
  bind_conv(m);
  bind_attention(m);
  bind_vector(m);
  bind_matrix(m);
  bind_recurrent(m);
  bind_pipelines(m);
  bind_dlpack(m);
  bind_session(m);
}
