#include "ops/op_context.h"

#include "runtime/stats_counters.h"

namespace lc::ops {

OpContext::OpContext(const char* op, const Policy& policy, Dtypes dtypes)
    : op_(op), policy_(policy), dtypes_(dtypes) {}

void OpContext::input(const char* name, const TensorView& v, int rank) {
  // Inputs decide the device under "auto": every input is checked before the device is chosen.
  if (device_resolved_)
    fail<Error>("internal: input ", name, " checked after the device was chosen");
  if (!v.invalid.empty())
    fail<TypeError>("expected ", name, " to be a float32 array, got ", v.invalid,
                    v.invalid == "None" ? "" : "; convert it with np.asarray(x, dtype=np.float32)");
  if (v.dtype == DType::f64 && dtypes_ == Dtypes::f32)
    fail<TypeError>("expected ", name, " to be float32, got float64; this op has no float64 path, ",
                    "convert it with x.astype(np.float32)");
  if (!have_dtype_) {
    // A result is never computed in lower precision than the policy allows: float32 inputs
    // have no float64 arithmetic to run under precision "fp64".
    if (policy_.precision == Precision::fp64 && v.dtype == DType::f32)
      fail<NotSupportedError>(
          "expected float64 inputs for precision \"fp64\" (float32 inputs run in fp32, tf32, "
          "bf16 or fp16), got float32 ",
          name);
    dtype_ = v.dtype;
    have_dtype_ = true;
  } else if (v.dtype != dtype_) {
    fail<TypeError>("expected ", name, " to be ", dtype_name(dtype_),
                    " like the other inputs, got ", dtype_name(v.dtype));
  }
  if (rank >= 0 && v.rank() != rank)
    fail("expected ", name, " with ", rank, " dimensions, got shape ", v.shape.str());
  for (int i = 0; i < v.rank(); ++i)
    if (v.shape[i] < 0) fail("expected ", name, " with non-negative extents, got ", v.shape.str());
  if (!v.device.is_cpu()) {
    if (all_host_inputs_)
      input_device_ = v.device;
    else if (input_device_ != v.device && !input_device_.is_cpu())
      fail("expected every input on one device, got ", input_device_.str(), " and ",
           v.device.str());
    all_host_inputs_ = false;
  }
}

bool OpContext::input(const char* name, const OptView& v, int rank) {
  if (!v) return false;
  input(name, *v, rank);
  return true;
}

void OpContext::output(const char* name, const TensorView& out, const Shape& expected) {
  if (!out.invalid.empty())
    fail<TypeError>("expected ", name, " to be a writeable float32 array, got ", out.invalid);
  if (have_dtype_ && out.dtype != dtype_)
    fail<TypeError>("expected ", name, " to be ", dtype_name(dtype_), ", got ",
                    dtype_name(out.dtype));
  if (out.shape != expected)
    fail("expected ", name, " of shape ", expected.str(), ", got ", out.shape.str());
  if (!out.is_contiguous())
    fail("expected ", name, " to be C-contiguous, got strides ", out.strides.str());
  if (!out.writable) fail("expected ", name, " to be writeable, got a read-only array");
  out_ = out;
  have_out_ = true;
}

Device OpContext::device() {
  if (device_resolved_) return device_;
  const std::string& d = policy_.device;
  if (d == "auto")
    device_ = all_host_inputs_ ? kCpu : input_device_;
  else
    device_ = parse_device(d);
  device_resolved_ = true;
  return device_;
}

backend::Backend& OpContext::backend() {
  if (!backend_) backend_ = &backend::backend_for(device());
  return *backend_;
}

void OpContext::require(backend::OpKind op) {
  if (!backend().supports(op, dtype_, policy_.precision))
    fail<NotSupportedError>("expected a device that runs ", backend::op_name(op), " in ",
                            dtype_name(dtype_), "/", precision_name(policy_.precision), ", got ",
                            device().str());
}

Device OpContext::result_device() {
  Device d = device();
  if (!d.is_cpu() && all_host_inputs_ && policy_.download) return kCpu;
  return d;
}

static bool overlaps(const TensorView& a, const TensorView& b) {
  if (a.device != b.device || a.numel() == 0 || b.numel() == 0) return false;
  auto span = [](const TensorView& v) {
    const auto* p = static_cast<const char*>(v.data);
    std::int64_t lo = 0, hi = 0;
    for (int i = 0; i < v.rank(); ++i) {
      std::int64_t ext = (v.shape[i] - 1) * v.strides[i];
      (ext < 0 ? lo : hi) += ext;
    }
    const auto es = static_cast<std::int64_t>(dtype_size(v.dtype));
    return std::pair<const char*, const char*>(p + lo * es, p + (hi + 1) * es);
  };
  auto [a0, a1] = span(a);
  auto [b0, b1] = span(b);
  return a0 < b1 && b0 < a1;
}

TensorView OpContext::stage(const TensorView& v) {
  const Device dev = device();
  const bool alias = have_out_ && !allow_alias_ && overlaps(v, out_);
  if (v.device == dev && v.is_contiguous() && !alias) return v;
  Tensor t = v.is_contiguous() || v.device.is_cpu() ? Tensor(v.shape, v.dtype, dev) : Tensor();
  if (!t.defined())
    fail<NotSupportedError>("expected a contiguous device tensor, got strides ", v.strides.str());
  copy_into(v, t.view());
  keep_.push_back(t);
  return t.view();
}

const void* OpContext::stage_ptr(const OptView& v) { return v ? stage(*v).data : nullptr; }

TensorView OpContext::target() {
  if (!have_out_) fail<Error>("internal: target() before output()");
  if (out_.device == device()) return out_;
  staged_out_ = Tensor(out_.shape, out_.dtype, device());
  return staged_out_.view();
}

TensorView OpContext::scratch(const Shape& shape) {
  Tensor t(shape, dtype_, device());
  keep_.push_back(t);
  return t.view();
}

void OpContext::finish() {
  if (staged_out_.defined()) {
    copy_into(staged_out_.view(), out_);  // downloads imply a sync
  } else if (!device().is_cpu() && policy_.sync) {
    backend().synchronize();
    runtime::count_sync();
  }
}

}  // namespace lc::ops
