// Resident sessions (lc.matmul2d_resident_session and its MatmulResidentSession object).
#include <optional>

#include "bindings.h"

namespace lc::py {
namespace {

nb::tuple shape_tuple(const Shape& s) {
  nb::list l;
  for (auto d : s) l.append(d);
  return nb::tuple(l);
}

// A session method taking (a, b, out, extra...) with the GIL released while it runs.
template <auto M, class... Extra>
auto unlocked() {
  return [](MatmulSession& s, const TensorView& a, const TensorView& b, const TensorView& out,
            Extra... extra) {
    nb::gil_scoped_release u;
    (s.*M)(a, b, out, extra...);
  };
}

}  // namespace

void bind_session(nb::module_& m) {
  nb::class_<MatmulSession>(
      m, "MatmulResidentSession",
      "Resident a @ b: device copies of a, b and the product, with each step of a call\n"
      "(upload, launch, sync, download) on its own. Made by lc.matmul2d_resident_session.\n"
      "Every method checks its arrays against the session's shapes.")
      .def("start_into", unlocked<&MatmulSession::start_into>(), arr("a"), arr("b"), arr("out"),
           "start_into(a, b, out)\n\nUploads a and b, launches, syncs and downloads into `out`.")
      .def("run_into", unlocked<&MatmulSession::run_into>(), arr("a"), arr("b"), arr("out"),
           "run_into(a, b, out)\n\n"
           "Launches on the resident inputs: no upload, no sync, no download. `out` is written\n"
           "only by a later finish_into or download_into.")
      .def("run_batch_sync_no_download_into",
           unlocked<&MatmulSession::run_batch_sync_no_download_into, std::int64_t>(), arr("a"),
           arr("b"), arr("out"), "n"_a,
           "run_batch_sync_no_download_into(a, b, out, n)\n\n"
           "Launches n times on the resident inputs, syncs once, downloads nothing.")
      .def(
          "upload",
          [](MatmulSession& s, const TensorView& a, const TensorView& b) {
            nb::gil_scoped_release u;
            s.upload(a, b);
          },
          arr("a"), arr("b"), "upload(a, b)\n\nCopies a and b into the resident inputs.")
      .def(
          "download_into",
          [](MatmulSession& s, const TensorView& out) {
            nb::gil_scoped_release u;
            s.download_into(out);
          },
          arr("out"), "download_into(out)\n\nCopies the resident product into `out`.")
      .def(
          "sync",
          [](MatmulSession& s) {
            nb::gil_scoped_release u;
            s.sync();
          },
          "sync()\n\nWaits for the launched work to finish.")
      .def(
          "finish_into",
          [](MatmulSession& s, const TensorView& out) {
            nb::gil_scoped_release u;
            s.finish_into(out);
          },
          arr("out"), "finish_into(out)\n\nsync() then download_into(out).")
      .def_prop_ro(
          "device", [](const MatmulSession& s) { return s.device().str(); },
          "The device holding the resident buffers.")
      .def_prop_ro("dtype",
                   [](const MatmulSession& s) { return std::string(dtype_name(s.dtype())); })
      .def_prop_ro("a_shape", [](const MatmulSession& s) { return shape_tuple(s.a_shape()); })
      .def_prop_ro("b_shape", [](const MatmulSession& s) { return shape_tuple(s.b_shape()); })
      .def_prop_ro("out_shape", [](const MatmulSession& s) { return shape_tuple(s.out_shape()); })
      .def("__repr__", [](const MatmulSession& s) {
        return detail::cat("lightning_core.MatmulResidentSession(a=", s.a_shape().str(),
                           ", b=", s.b_shape().str(), ", dtype=", dtype_name(s.dtype()),
                           ", device='", s.device().str(), "')");
      });

  m.def(
      "matmul2d_resident_session",
      [](const TensorView& a, const TensorView& b, nb::handle device, nb::handle policy) {
        const Policy p = resolve_policy(device, policy);
        std::optional<MatmulSession> s;
        {
          nb::gil_scoped_release u;
          s.emplace(a, b, p);
        }
        return std::move(*s);
      },
      arr("a"), arr("b"), LC_POLICY_ARGS,
      "matmul2d_resident_session(a, b, device=None, policy=None) -> MatmulResidentSession\n\n"
      "A session for a (M, K) @ b (K, N) (float32 or float64) with device-resident copies of\n"
      "a, b and the product on the policy's device (a and b are uploaded now).");
}

}  // namespace lc::py
