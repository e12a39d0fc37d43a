// MatmulSession: resident a, b and product on one device; each call step on its own.
#include "lightning_core/session.h"

#include "backends/backend.h"
#include "lightning_core/ops.h"
#include "ops/op_context.h"
#include "runtime/stats_counters.h"

namespace lc {
namespace {

constexpr const char* kOp = "matmul2d_resident_session";

using ops::Dtypes;
using ops::OpContext;

}  // namespace

MatmulSession::MatmulSession(const TensorView& a, const TensorView& b, const Policy& policy) {
  OpContext ctx(kOp, policy, Dtypes::f32_f64);
  ctx.input("a", a, 2);
  ctx.input("b", b, 2);
  if (a.shape[1] != b.shape[0])
    ctx.fail("expected a (M, K) and b (K, N) with matching K, got a ", a.shape.str(), " and b ",
             b.shape.str());
  ctx.require(backend::OpKind::gemm);
  device_ = ctx.device();
  policy_ = policy.with_device(device_.str());
  policy_.sync = false;
  a_ = Tensor(a.shape, a.dtype, device_);
  b_ = Tensor(b.shape, b.dtype, device_);
  out_ = Tensor(Shape{a.shape[0], b.shape[1]}, a.dtype, device_);
  copy_into(a, a_.view());
  copy_into(b, b_.view());
}

void MatmulSession::check_inputs(const TensorView& a, const TensorView& b) const {
  OpContext ctx(kOp, policy_, Dtypes::f32_f64);
  ctx.input("a", a, 2);
  ctx.input("b", b, 2);
  if (a.dtype != dtype())
    ctx.fail<TypeError>("expected a and b to be ", dtype_name(dtype()), " like the session's, got ",
                        dtype_name(a.dtype));
  if (a.shape != a_.shape())
    ctx.fail("expected a of shape ", a_.shape().str(), " like the session's, got ", a.shape.str());
  if (b.shape != b_.shape())
    ctx.fail("expected b of shape ", b_.shape().str(), " like the session's, got ", b.shape.str());
}

void MatmulSession::check_out(const TensorView& out) const {
  OpContext ctx(kOp, policy_, Dtypes::f32_f64);
  ctx.input("a", a_.view());  // fixes the dtype the output must have
  ctx.output("out", out, out_.shape());
}

void MatmulSession::launch() { matmul2d_into(a_, b_, out_, policy_); }

void MatmulSession::upload(const TensorView& a, const TensorView& b) {
  check_inputs(a, b);
  copy_into(a, a_.view());
  copy_into(b, b_.view());
}

void MatmulSession::sync() {
  if (device_.is_cpu()) return;
  backend::backend_for(device_).synchronize();
  runtime::count_sync();
}

void MatmulSession::download_into(const TensorView& out) {
  check_out(out);
  copy_into(out_.view(), out);  // a device-to-host copy waits for the queued work
}

void MatmulSession::finish_into(const TensorView& out) {
  check_out(out);
  sync();
  copy_into(out_.view(), out);
}

void MatmulSession::start_into(const TensorView& a, const TensorView& b, const TensorView& out) {
  check_inputs(a, b);
  check_out(out);
  copy_into(a, a_.view());
  copy_into(b, b_.view());
  launch();
  sync();
  copy_into(out_.view(), out);
}

void MatmulSession::run_into(const TensorView& a, const TensorView& b, const TensorView& out) {
  check_inputs(a, b);
  check_out(out);
  launch();
}

void MatmulSession::run_batch_sync_no_download_into(const TensorView& a, const TensorView& b,
                                                    const TensorView& out, std::int64_t n) {
  check_inputs(a, b);
  check_out(out);
  if (n < 0) fail(kOp, "expected n >= 0 launches, got ", n);
  for (std::int64_t i = 0; i < n; ++i) launch();
  sync();
}

}  // namespace lc
