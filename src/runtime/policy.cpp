#include "lightning_core/policy.h"

#include "lightning_core/error.h"

namespace lc {
namespace {
thread_local Policy g_policy;

template <class E, std::size_t N>
E parse_enum(std::string_view field, std::string_view s, const char* const (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  std::string valid;
  for (auto* n : names) valid += (valid.empty() ? "" : ", ") + std::string(n);
  fail("policy", "expected ", field, " to be one of ", valid, ", got \"", s, "\"");
}

constexpr const char* kPrecision[] = {"fp32", "tf32", "bf16", "fp16", "fp64"};
constexpr const char* kUpload[] = {"always", "if_changed", "never"};
constexpr const char* kMode[] = {"auto", "fused", "split"};
constexpr const char* kTune[] = {"cached", "off", "force"};
}  // namespace

const Policy& current_policy() { return g_policy; }

PolicyScope::PolicyScope(Policy p) : previous_(std::move(g_policy)) { g_policy = std::move(p); }
PolicyScope::~PolicyScope() { g_policy = std::move(previous_); }

Precision parse_precision(std::string_view s) {
  return parse_enum<Precision>("precision", s, kPrecision);
}
const char* precision_name(Precision p) { return kPrecision[static_cast<int>(p)]; }
Upload parse_upload(std::string_view s) { return parse_enum<Upload>("upload", s, kUpload); }
const char* upload_name(Upload u) { return kUpload[static_cast<int>(u)]; }
Mode parse_mode(std::string_view s) { return parse_enum<Mode>("mode", s, kMode); }
const char* mode_name(Mode m) { return kMode[static_cast<int>(m)]; }
Tune parse_tune(std::string_view s) { return parse_enum<Tune>("tune", s, kTune); }
const char* tune_name(Tune t) { return kTune[static_cast<int>(t)]; }

}  // namespace lc

namespace lc {
void validate_device_string(std::string_view d) {
  if (d == "auto" || d == "cpu" || d == "gpu" || d == "cuda" || d == "metal") return;
  if (d.substr(0, 5) == "cuda:" && d.size() > 5 &&
      d.find_first_not_of("0123456789", 5) == std::string_view::npos)
    return;
  fail("policy", "expected device to be one of cpu, cuda, cuda:N, gpu, auto, metal, got \"", d,
       "\"");
}
}  // namespace lc
