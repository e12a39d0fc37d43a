// Transpose of the last two axes: (..., R, C) -> (..., C, R), float32 and float64.
#include <algorithm>
#include <cstdint>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/transpose.cuh"

namespace lc::cuda {

void transpose(Context& ctx, const backend::TransposeProblem& p) {
  const int rank = p.x.rank();
  const std::int64_t n = p.x.numel();
  if (n == 0) return;
  const std::int64_t R = p.x.shape[rank - 2], C = p.x.shape[rank - 1];
  const std::int64_t batch = n / (R * C);
  if (R == 1 || C == 1) {  // the same bytes in the same order
    LC_CUDA_CHECK(cudaMemcpyAsync(p.out.data, p.x.data,
                                  static_cast<std::size_t>(n) * dtype_size(p.x.dtype),
                                  cudaMemcpyDeviceToDevice, ctx.stream));
    return;
  }
  using namespace kernels;
  const std::int64_t tiles = batch * ((R + kTile - 1) / kTile) * ((C + kTile - 1) / kTile);
  const auto grid = static_cast<unsigned>(
      std::min<std::int64_t>(tiles, static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 32));
  const dim3 block(kTile, kTileRows);
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch(ctx, transpose_tiled<T>, grid, block, 0, p.x.ptr<const T>(), p.out.ptr<T>(), batch, R,
           C);
  });
  LC_CUDA_CHECK_LAUNCH();
}

}  // namespace lc::cuda
