// Recurrent-cell launchers (kernels/recurrent.cuh): the front-end computes the gate
// pre-activations with gemm; these apply the pointwise cell in one launch.
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/recurrent.cuh"

namespace lc::cuda {

void lstm_cell(Context& ctx, const backend::LstmCellProblem& p) {
  const std::int64_t batch = p.c.shape[0], hidden = p.c.shape[1];
  if (batch * hidden == 0) return;
  kern::lstm_cell_kernel<<<grid_for(batch * hidden, 256, ctx), 256, 0, ctx.stream>>>(
      p.gates_x.ptr<const float>(), p.gates_h.ptr<const float>(), p.c.ptr<const float>(),
      p.h_out.ptr<float>(), p.c_out.ptr<float>(), batch, hidden);
  LC_CUDA_CHECK_LAUNCH();
}

void gru_cell(Context& ctx, const backend::GruCellProblem& p) {
  const std::int64_t batch = p.h.shape[0], hidden = p.h.shape[1];
  if (batch * hidden == 0) return;
  kern::gru_cell_kernel<<<grid_for(batch * hidden, 256, ctx), 256, 0, ctx.stream>>>(
      p.gates_x.ptr<const float>(), p.gates_h.ptr<const float>(), p.h.ptr<const float>(),
      p.h_out.ptr<float>(), batch, hidden);
  LC_CUDA_CHECK_LAUNCH();
}

}  // namespace lc::cuda
