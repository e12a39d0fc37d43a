// Devices, the Policy type and its scope stack, statistics.
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <vector>

#include "bindings.h"

namespace lc::py {
namespace {

thread_local std::vector<std::unique_ptr<PolicyScope>> t_scopes;

template <class E, E (*Parse)(std::string_view), const char* (*Name)(E)>
void enum_property(nb::class_<Policy>& c, const char* name, E Policy::*field) {
  c.def_prop_rw(
      name, [field](const Policy& p) { return std::string(Name(p.*field)); },
      [field](Policy& p, const std::string& s) { p.*field = Parse(s); });
}

}  // namespace

void bind_runtime(nb::module_& m) {
  m.def("devices", &devices, "The devices present, e.g. ['cpu', 'cuda:0'].");
  m.def("cuda_available", &cuda_available, "Whether a CUDA device can be used.");
  m.def("metal_available", &metal_available, "Whether Metal can be used (never, in this build).");
  m.def("cuda_unavailable_reason", &cuda_unavailable_reason,
        "Why CUDA cannot be used ('' when it can): no library, no driver or no device.");
  m.def("backend_name", &backend_name, "The best backend present: 'cuda' or 'cpu'.");
  m.def("synchronize", &synchronize, "device"_a = "auto",
        "Wait until every operation queued on the device has finished ('cpu': at once; 'auto': "
        "the best device present). Ops run with Policy(sync=False) only queue work; this is the "
        "host wait that ends such a run.");

  nb::class_<Policy> policy(m, "Policy",
                            "How an op runs: device, precision, IO, sync, fused/split, tuning.");
  policy.def(
      "__init__",
      [](Policy* p, const std::string& device, const std::string& precision,
         const std::string& upload, bool download, bool sync, const std::string& mode,
         const std::string& tune, bool deterministic, bool pin_host) {
        validate_device_string(device);
        new (p) Policy{device,  parse_precision(precision), parse_upload(upload), download,
                       sync,    parse_mode(mode),           parse_tune(tune),     deterministic,
                       pin_host};
      },
      "device"_a = "auto", "precision"_a = "fp32", "upload"_a = "always", "download"_a = true,
      "sync"_a = true, "mode"_a = "auto", "tune"_a = "cached", "deterministic"_a = false,
      "pin_host"_a = false);
  policy.def_prop_rw(
      "device", [](const Policy& p) { return p.device; },
      [](Policy& p, const std::string& d) {
        validate_device_string(d);
        p.device = d;
      });
  enum_property<Precision, &parse_precision, &precision_name>(policy, "precision",
                                                              &Policy::precision);
  enum_property<Upload, &parse_upload, &upload_name>(policy, "upload", &Policy::upload);
  enum_property<Mode, &parse_mode, &mode_name>(policy, "mode", &Policy::mode);
  enum_property<Tune, &parse_tune, &tune_name>(policy, "tune", &Policy::tune);
  policy.def_rw("download", &Policy::download);
  policy.def_rw("sync", &Policy::sync);
  policy.def_rw("deterministic", &Policy::deterministic);
  policy.def_rw("pin_host", &Policy::pin_host);
  policy.def("__repr__", [](const Policy& p) {
    return detail::cat(
        "Policy(device='", p.device, "', precision='", precision_name(p.precision), "', upload='",
        upload_name(p.upload), "', download=", p.download ? "True" : "False",
        ", sync=", p.sync ? "True" : "False", ", mode='", mode_name(p.mode), "', tune='",
        tune_name(p.tune), "', deterministic=", p.deterministic ? "True" : "False",
        ", pin_host=", p.pin_host ? "True" : "False", ")");
  });

  m.def("current_policy", &current_policy, nb::rv_policy::copy,
        "The policy in effect on this thread.");
  m.def("_push_policy",
        [](const Policy& p) { t_scopes.push_back(std::make_unique<PolicyScope>(p)); });
  m.def("_pop_policy", [] {
    if (!t_scopes.empty()) t_scopes.pop_back();
  });

  m.def(
      "stats",
      [] {
        Stats s = lc::stats();
        nb::dict d;
        d["contiguous_copies"] = s.contiguous_copies;
        d["uploads"] = s.uploads;
        d["bytes_uploaded"] = s.bytes_uploaded;
        d["downloads"] = s.downloads;
        d["bytes_downloaded"] = s.bytes_downloaded;
        d["device_allocations"] = s.device_allocations;
        d["syncs"] = s.syncs;
        return d;
      },
      "Counters of copies, transfers, allocations and syncs since the last reset_stats().");
  m.def("reset_stats", &reset_stats, "Sets every counter of stats() to zero.");
}

}  // namespace lc::py
