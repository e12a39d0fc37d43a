// recurrent family front-ends: lstm_cell, lstm (one layer over a sequence), gru_cell.
// Gate pre-activations come from the backend's gemm (x W^T + b, W in PyTorch's (gates*H, in)
// layout); the backend's pointwise cell kernels do the rest.
#include "backends/backend.h"
#include "ops/op_context.h"

namespace lc {
namespace {

using ops::OpContext;

constexpr int kLstmGates = 4;  // i, f, g, o
constexpr int kGruGates = 3;   // r, z, n

struct CellDims {
  std::int64_t batch = 0, input = 0, hidden = 0;
};

void expect_shape(OpContext& ctx, const char* name, const TensorView& v, const Shape& expected,
                  const char* what) {
  if (v.shape != expected)
    ctx.fail("expected ", name, " of shape ", what, " = ", expected.str(), ", got ", v.shape.str());
}

// Weights (gates*H, I) and (gates*H, H), optional biases (gates*H).
void check_weights(OpContext& ctx, int gates, const CellDims& d, const TensorView& w_ih,
                   const TensorView& w_hh, const OptView& b_ih, const OptView& b_hh) {
  const bool lstm = gates == kLstmGates;
  const std::int64_t g = gates * d.hidden;
  expect_shape(ctx, "w_ih", w_ih, Shape{g, d.input}, lstm ? "(4H, I)" : "(3H, I)");
  expect_shape(ctx, "w_hh", w_hh, Shape{g, d.hidden}, lstm ? "(4H, H)" : "(3H, H)");
  if (b_ih) expect_shape(ctx, "b_ih", *b_ih, Shape{g}, lstm ? "(4H,)" : "(3H,)");
  if (b_hh) expect_shape(ctx, "b_hh", *b_hh, Shape{g}, lstm ? "(4H,)" : "(3H,)");
}

// The dtype/None/rank checks of the weight arguments (before any shape is compared).
void weight_inputs(OpContext& ctx, const TensorView& w_ih, const TensorView& w_hh,
                   const OptView& b_ih, const OptView& b_hh) {
  ctx.input("w_ih", w_ih, 2);
  ctx.input("w_hh", w_hh, 2);
  ctx.input("b_ih", b_ih, 1);
  ctx.input("b_hh", b_hh, 1);
}

// A state (B, H) given with x of batch B: h fixes H.
CellDims state_dims(OpContext& ctx, std::int64_t batch, std::int64_t input, const char* name,
                    const TensorView& h) {
  if (h.shape[0] != batch)
    ctx.fail("expected ", name, " of shape (B, H) with B = ", batch, " like x, got ",
             h.shape.str());
  return CellDims{batch, input, h.shape[1]};
}

// out (m, gates*H) = a (m, k) @ w (gates*H, k)^T + bias.
void gate_gemm(OpContext& ctx, const void* a, std::int64_t m, std::int64_t k, const TensorView& w,
               const void* bias, const TensorView& out) {
  backend::GemmProblem p;
  p.a = a;
  p.b = w.data;
  p.c = out.data;
  p.dtype = ctx.dtype();
  p.m = m;
  p.k = k;
  p.n = w.shape[0];
  p.trans_b = true;
  p.bias = bias;
  p.precision = ctx.policy().precision;
  ctx.backend().gemm(p);
}

// A second result of an allocating op (the context stages only one): written on the execution
// device, then copied to where the result lives (the host when the op downloads).
struct SideResult {
  Tensor result;
  TensorView work;
  SideResult(OpContext& ctx, const Shape& shape)
      : result(shape, ctx.dtype(), ctx.result_device()),
        work(result.device() == ctx.device() ? result.view() : ctx.scratch(shape)) {}
  void finish() const {
    if (work.data != result.data()) copy_into(work, result.view());
  }
};

// A contiguous (rows, cols) slice of a contiguous tensor, starting at row `row0`.
TensorView rows_of(const TensorView& t, std::int64_t row0, std::int64_t rows, std::int64_t cols) {
  auto* base =
      static_cast<char*>(t.data) + row0 * cols * static_cast<std::int64_t>(dtype_size(t.dtype));
  return TensorView(base, t.dtype, Shape{rows, cols}, t.device);
}

}  // namespace

LstmState lstm_cell(const TensorView& x, const TensorView& h, const TensorView& c,
                    const TensorView& w_ih, const TensorView& w_hh, const OptView& b_ih,
                    const OptView& b_hh, const Policy& policy) {
  OpContext ctx("lstm_cell", policy);
  ctx.input("x", x, 2);
  ctx.input("h", h, 2);
  ctx.input("c", c, 2);
  weight_inputs(ctx, w_ih, w_hh, b_ih, b_hh);
  const CellDims d = state_dims(ctx, x.shape[0], x.shape[1], "h", h);
  if (c.shape != h.shape)
    ctx.fail("expected c of shape ", h.shape.str(), " like h, got ", c.shape.str());
  check_weights(ctx, kLstmGates, d, w_ih, w_hh, b_ih, b_hh);

  const Shape state{d.batch, d.hidden};
  Tensor h_out(state, ctx.dtype(), ctx.result_device());
  ctx.output("h_out", h_out, state);
  SideResult c_out(ctx, state);
  ctx.require(backend::OpKind::gemm);
  ctx.require(backend::OpKind::lstm_cell);
  if (h_out.numel() > 0) {
    const TensorView X = ctx.stage(x), Hs = ctx.stage(h), C = ctx.stage(c);
    const TensorView Wi = ctx.stage(w_ih), Wh = ctx.stage(w_hh);
    const void* bi = ctx.stage_ptr(b_ih);
    const void* bh = ctx.stage_ptr(b_hh);
    const Shape gates{d.batch, kLstmGates * d.hidden};
    const TensorView gx = ctx.scratch(gates), gh = ctx.scratch(gates);
    gate_gemm(ctx, X.data, d.batch, d.input, Wi, bi, gx);
    gate_gemm(ctx, Hs.data, d.batch, d.hidden, Wh, bh, gh);
    ctx.backend().lstm_cell({gx, gh, C, ctx.target(), c_out.work});
  }
  c_out.finish();
  ctx.finish();
  return {h_out, c_out.result};
}

LstmResult lstm(const TensorView& x, const TensorView& h0, const TensorView& c0,
                const TensorView& w_ih, const TensorView& w_hh, const OptView& b_ih,
                const OptView& b_hh, const Policy& policy) {
  OpContext ctx("lstm", policy);
  ctx.input("x", x, 3);
  ctx.input("h0", h0, 2);
  ctx.input("c0", c0, 2);
  weight_inputs(ctx, w_ih, w_hh, b_ih, b_hh);
  const std::int64_t steps = x.shape[0];
  const CellDims d = state_dims(ctx, x.shape[1], x.shape[2], "h0", h0);
  if (c0.shape != h0.shape)
    ctx.fail("expected c0 of shape ", h0.shape.str(), " like h0, got ", c0.shape.str());
  check_weights(ctx, kLstmGates, d, w_ih, w_hh, b_ih, b_hh);

  const Shape state{d.batch, d.hidden};
  const Shape seq{steps, d.batch, d.hidden};
  Tensor output(seq, ctx.dtype(), ctx.result_device());
  ctx.output("output", output, seq);
  SideResult h_last(ctx, state), c_last(ctx, state);
  ctx.require(backend::OpKind::gemm);
  ctx.require(backend::OpKind::lstm_cell);
  if (h_last.result.numel() > 0) {
    if (steps == 0) {  // no step: the final state is the initial one
      copy_into(h0, h_last.work);
      copy_into(c0, c_last.work);
    } else {
      const TensorView X = ctx.stage(x), H0 = ctx.stage(h0), C0 = ctx.stage(c0);
      const TensorView Wi = ctx.stage(w_ih), Wh = ctx.stage(w_hh);
      const void* bi = ctx.stage_ptr(b_ih);
      const void* bh = ctx.stage_ptr(b_hh);
      const TensorView Y = ctx.target();  // (T,B,H); step t's h is Y[t]
      const std::int64_t g = kLstmGates * d.hidden;
      // Every step's input projection in one GEMM: (T*B, I) @ W_ih^T -> (T*B, 4H).
      const TensorView gx_all = ctx.scratch(Shape{steps * d.batch, g});
      gate_gemm(ctx, X.data, steps * d.batch, d.input, Wi, bi, gx_all);
      const TensorView gh = ctx.scratch(Shape{d.batch, g});
      const TensorView c_buf[2] = {ctx.scratch(state), ctx.scratch(state)};
      for (std::int64_t t = 0; t < steps; ++t) {
        const TensorView h_prev = t == 0 ? H0 : rows_of(Y, (t - 1) * d.batch, d.batch, d.hidden);
        const TensorView c_prev = t == 0 ? C0 : c_buf[(t - 1) % 2];
        const TensorView c_next = t == steps - 1 ? c_last.work : c_buf[t % 2];
        gate_gemm(ctx, h_prev.data, d.batch, d.hidden, Wh, bh, gh);
        ctx.backend().lstm_cell({rows_of(gx_all, t * d.batch, d.batch, g), gh, c_prev,
                                 rows_of(Y, t * d.batch, d.batch, d.hidden), c_next});
      }
      copy_into(rows_of(Y, (steps - 1) * d.batch, d.batch, d.hidden), h_last.work);
    }
  }
  h_last.finish();
  c_last.finish();
  ctx.finish();
  return {output, h_last.result, c_last.result};
}

Tensor gru_cell(const TensorView& x, const TensorView& h, const TensorView& w_ih,
                const TensorView& w_hh, const OptView& b_ih, const OptView& b_hh,
                const Policy& policy) {
  OpContext ctx("gru_cell", policy);
  ctx.input("x", x, 2);
  ctx.input("h", h, 2);
  weight_inputs(ctx, w_ih, w_hh, b_ih, b_hh);
  const CellDims d = state_dims(ctx, x.shape[0], x.shape[1], "h", h);
  check_weights(ctx, kGruGates, d, w_ih, w_hh, b_ih, b_hh);

  const Shape state{d.batch, d.hidden};
  Tensor h_out(state, ctx.dtype(), ctx.result_device());
  ctx.output("h_out", h_out, state);
  ctx.require(backend::OpKind::gemm);
  ctx.require(backend::OpKind::gru_cell);
  if (h_out.numel() > 0) {
    const TensorView X = ctx.stage(x), Hs = ctx.stage(h);
    const TensorView Wi = ctx.stage(w_ih), Wh = ctx.stage(w_hh);
    const void* bi = ctx.stage_ptr(b_ih);
    const void* bh = ctx.stage_ptr(b_hh);
    const Shape gates{d.batch, kGruGates * d.hidden};
    const TensorView gx = ctx.scratch(gates), gh = ctx.scratch(gates);
    gate_gemm(ctx, X.data, d.batch, d.input, Wi, bi, gx);
    gate_gemm(ctx, Hs.data, d.batch, d.hidden, Wh, bh, gh);
    ctx.backend().gru_cell({gx, gh, Hs, ctx.target()});
  }
  ctx.finish();
  return h_out;
}

}  // namespace lc
