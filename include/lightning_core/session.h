// Resident sessions: inputs and output pinned on the execution device, and each step of a
// call (upload, launch, sync, download) available on its own, so a loop can replay the work
// without host round trips.
#pragma once

#include <cstdint>

#include "lightning_core/policy.h"
#include "lightning_core/tensor.h"

namespace lc {

// a (M,K) @ b (K,N) with device-resident copies of a, b and the (M,N) product. float32 or
// float64 (the dtype of a). Every method checks its arguments against the session's shapes
// and reports "[matmul2d_resident_session] expected ..., got ...".
class MatmulSession {
 public:
  // Allocates the resident buffers on the policy's device and uploads a and b.
  MatmulSession(const TensorView& a, const TensorView& b, const Policy& policy = current_policy());

  // Upload a and b, launch, sync, download into out.
  void start_into(const TensorView& a, const TensorView& b, const TensorView& out);
  // Launch on the resident inputs. No upload, no sync, no download: out is written only by a
  // later finish_into/download_into (a and b are checked, not read).
  void run_into(const TensorView& a, const TensorView& b, const TensorView& out);
  // Launch n times, sync once, no download.
  void run_batch_sync_no_download_into(const TensorView& a, const TensorView& b,
                                       const TensorView& out, std::int64_t n);
  void upload(const TensorView& a, const TensorView& b);
  // Copies the resident product into out (waits for the device first).
  void download_into(const TensorView& out);
  void sync();
  // sync + download_into.
  void finish_into(const TensorView& out);

  Device device() const { return device_; }
  DType dtype() const { return a_.dtype(); }
  const Shape& a_shape() const { return a_.shape(); }
  const Shape& b_shape() const { return b_.shape(); }
  const Shape& out_shape() const { return out_.shape(); }
  // The resident tensors (on device()).
  const Tensor& resident_a() const { return a_; }
  const Tensor& resident_b() const { return b_; }
  const Tensor& resident_out() const { return out_; }

 private:
  void check_inputs(const TensorView& a, const TensorView& b) const;
  void check_out(const TensorView& out) const;
  void launch();

  Policy policy_;  // device fixed to device_, sync off: launches only queue work
  Device device_;
  Tensor a_, b_, out_;
};

}  // namespace lc
