#include "lightning_core/device.h"

#include <charconv>

#include "backends/backend.h"
#include "backends/registry.h"
#include "lightning_core/error.h"
#include "runtime/stats_counters.h"

namespace lc {

std::string Device::str() const {
  switch (kind) {
    case DeviceKind::cpu:
      return "cpu";
    case DeviceKind::cuda:
      return "cuda:" + std::to_string(index);
    case DeviceKind::metal:
      return "metal";
  }
  return "?";
}

static std::string device_list() {
  std::string s;
  for (const auto& d : devices()) s += (s.empty() ? "" : ", ") + d;
  return s;
}

Device parse_device(std::string_view s) {
  if (s == "cpu") return kCpu;
  if (s == "metal")
    fail<DeviceUnavailableError>("device", "expected one of the devices present (", device_list(),
                                 "), got \"metal\": this build has no Metal backend");
  if (s == "gpu" || s == "cuda" || s.substr(0, 5) == "cuda:") {
    int index = 0;
    if (s.size() > 5 && s[4] == ':') {
      auto r = std::from_chars(s.data() + 5, s.data() + s.size(), index);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size() || index < 0)
        fail("device", "expected cuda:N with N a device index, got \"", s, "\"");
    } else if (s.size() != 4 && s != "gpu") {
      fail("device", "expected one of cpu, cuda, cuda:N, gpu, auto, metal, got \"", s, "\"");
    }
    if (!cuda_available())
      fail<DeviceUnavailableError>("device", "expected one of the devices present (", device_list(),
                                   "), got \"", s, "\": ", cuda_unavailable_reason());
    int count = backend::cuda_device_count();
    if (index >= count)
      fail<DeviceUnavailableError>("device", "expected a CUDA device index below ", count, ", got ",
                                   index);
    return Device{DeviceKind::cuda, index};
  }
  fail("device", "expected one of cpu, cuda, cuda:N, gpu, auto, metal, got \"", s, "\"");
}

std::vector<std::string> devices() {
  std::vector<std::string> out{"cpu"};
  if (cuda_available())
    for (int i = 0; i < backend::cuda_device_count(); ++i)
      out.push_back("cuda:" + std::to_string(i));
  return out;
}

bool cuda_available() { return backend::cuda_device_count() > 0; }
bool metal_available() { return false; }
std::string cuda_unavailable_reason() { return backend::cuda_unavailable_reason(); }
std::string backend_name() { return cuda_available() ? "cuda" : "cpu"; }

void synchronize(std::string_view device) {
  if (device == "auto") device = cuda_available() ? "gpu" : "cpu";
  const Device d = parse_device(device);
  if (d.is_cpu()) return;  // CPU ops finish before they return
  backend::backend_for(d).synchronize();
  runtime::count_sync();
}

}  // namespace lc
