// Devices: where a tensor lives and where an op runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lc {

enum class DeviceKind { cpu, cuda, metal };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  std::string str() const;  // "cpu", "cuda:0"
};

inline constexpr Device kCpu{};

// Parses a concrete device string: "cpu", "cuda", "cuda:N", "gpu", "metal".
// "gpu" becomes the best GPU present. Throws DeviceUnavailableError for a device that
// does not exist here (listing those that do), ValueError for an unknown string.
Device parse_device(std::string_view s);

// The devices present, e.g. {"cpu", "cuda:0"}.
std::vector<std::string> devices();
bool cuda_available();
bool metal_available();
// Why CUDA is unavailable ("" when it is available).
std::string cuda_unavailable_reason();
// The best backend present: "cuda" or "cpu".
std::string backend_name();
// Blocks until every operation queued on `device` has finished ("cpu": returns at once;
// "cuda"/"cuda:N"/"gpu": waits for the backend's stream; "auto": the best device present).
// Ops run with policy sync=False only queue work; this is the host wait that ends such a run.
// Counted in stats().syncs when it waits on a GPU.
void synchronize(std::string_view device = "auto");

}  // namespace lc
