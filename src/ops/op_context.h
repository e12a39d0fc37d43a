// The shared front-end machinery every op uses: argument checks with the one error format,
// the execution device, staging of inputs (contiguous, on that device) and of outputs.
//
//   OpContext ctx("matmul2d", policy, Dtypes::f32_f64);
//   ctx.input("a", a); ctx.input("b", b);            // dtype / None / type checks
//   ... op-specific shape checks, using ctx.fail(...) ...
//   ctx.output("out", out, expected_shape);           // for *_into, before anything is written
//   auto A = ctx.stage(a); auto O = ctx.target();     // contiguous views on ctx.device()
//   ctx.backend().gemm(...);
//   ctx.finish();                                     // copies a staged output back, syncs
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"
#include "lightning_core/error.h"
#include "lightning_core/ops.h"

namespace lc::ops {

enum class Dtypes { f32, f32_f64 };

class OpContext {
 public:
  OpContext(const char* op, const Policy& policy, Dtypes dtypes = Dtypes::f32);

  const char* op() const { return op_; }
  const Policy& policy() const { return policy_; }

  // Checks one required input: an array (not None, not another type), of an accepted dtype
  // matching the other inputs, with `rank` dimensions when rank >= 0.
  void input(const char* name, const TensorView& v, int rank = -1);
  // Same for an optional input; returns whether it is present.
  bool input(const char* name, const OptView& v, int rank = -1);
  // Checks an *_into output: type, dtype, exact shape, contiguity, writability.
  void output(const char* name, const TensorView& out, const Shape& expected);

  // The dtype of the inputs (valid after the first input()).
  DType dtype() const { return dtype_; }
  // The device the op runs on (resolved from the policy and the inputs' devices).
  Device device();
  backend::Backend& backend();
  // Throws NotSupportedError unless the backend runs `op` for this dtype and precision.
  void require(backend::OpKind op);
  // Where an allocating op puts its result: the execution device, or the host when every
  // input is on the host and the policy downloads.
  Device result_device();

  // `v` as a contiguous view on device(); copies when needed (kept alive by the context).
  // An input overlapping the output is copied first unless the op allows aliasing.
  TensorView stage(const TensorView& v);
  const void* stage_ptr(const OptView& v);  // data pointer of a staged optional, or null
  // The output the backend writes: the *_into output itself, or a temporary on device().
  TensorView target();
  // A fresh contiguous tensor on device() (scratch space, kept alive by the context).
  TensorView scratch(const Shape& shape);
  void allow_aliasing() { allow_alias_ = true; }
  // Copies a staged output back into the caller's output and synchronises per the policy.
  void finish();

  // Throws E("[op] ...").
  template <class E = ValueError, class... Args>
  [[noreturn]] void fail(const Args&... parts) const {
    lc::fail<E>(op_, parts...);
  }

 private:
  const char* op_;
  const Policy& policy_;
  Dtypes dtypes_;
  DType dtype_ = DType::f32;
  bool have_dtype_ = false;
  bool device_resolved_ = false;
  bool allow_alias_ = false;
  bool all_host_inputs_ = true;
  Device input_device_{};
  Device device_{};
  backend::Backend* backend_ = nullptr;
  TensorView out_;
  bool have_out_ = false;
  Tensor staged_out_;
  std::vector<Tensor> keep_;
};

}  // namespace lc::ops
