// The execution policy: per call (an argument) or per scope (PolicyScope / `with lc.policy()`).
#pragma once

#include <string>
#include <string_view>

namespace lc {

enum class Precision { fp32, tf32, bf16, fp16, fp64 };
enum class Upload { always, if_changed, never };
enum class Mode { automatic, fused, split };
enum class Tune { cached, off, force };

struct Policy {
  std::string device = "auto";  // cpu | cuda | cuda:N | gpu | auto | metal
  Precision precision = Precision::fp32;
  Upload upload = Upload::always;
  bool download = true;
  bool sync = true;
  Mode mode = Mode::automatic;
  Tune tune = Tune::cached;
  bool deterministic = false;
  bool pin_host = false;

  Policy with_device(std::string_view d) const {
    Policy p = *this;
    p.device = std::string(d);
    return p;
  }
};

// The innermost scoped policy of this thread (the default Policy when none is set).
const Policy& current_policy();

// Sets the thread's policy for its lifetime, restoring the previous one after.
class PolicyScope {
 public:
  explicit PolicyScope(Policy p);
  ~PolicyScope();
  PolicyScope(const PolicyScope&) = delete;
  PolicyScope& operator=(const PolicyScope&) = delete;

 private:
  Policy previous_;
};

Precision parse_precision(std::string_view s);
const char* precision_name(Precision p);
Upload parse_upload(std::string_view s);
const char* upload_name(Upload u);
Mode parse_mode(std::string_view s);
const char* mode_name(Mode m);
Tune parse_tune(std::string_view s);
const char* tune_name(Tune t);

}  // namespace lc

namespace lc {
// Throws ValueError unless the policy's device string is one of the accepted forms (it may
// still name a device absent here; that is reported when the policy is used).
void validate_device_string(std::string_view device);
}  // namespace lc
