// Pooling launcher (kernels/pool.cuh).
#include <algorithm>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/pool.cuh"

namespace lc::cuda {

void pool2d(Context& ctx, const backend::Pool2dProblem& p) {
  const std::int64_t total = p.out.numel();
  if (total == 0) return;
  const Pool2dParams& q = p.params;
  kern::PoolParams k{};
  k.x = p.x.ptr<const float>();
  k.out = p.out.ptr<float>();
  k.planes = p.x.shape[0] * p.x.shape[1];
  k.h = static_cast<int>(p.x.shape[2]);
  k.w = static_cast<int>(p.x.shape[3]);
  k.oh = static_cast<int>(p.out.shape[2]);
  k.ow = static_cast<int>(p.out.shape[3]);
  k.kh = q.kernel_h;
  k.kw = q.kernel_w;
  k.sh = q.stride_h;
  k.sw = q.stride_w;
  k.ph = q.pad_h;
  k.pw = q.pad_w;
  k.count_include_pad = q.count_include_pad;
  const unsigned blocks = grid_for(total, 256, ctx, 16);
  if (p.kind == backend::PoolKind::max)
    kern::pool2d_kernel<true><<<blocks, 256, 0, ctx.stream>>>(k);
  else
    kern::pool2d_kernel<false><<<blocks, 256, 0, ctx.stream>>>(k);
  LC_CUDA_CHECK_LAUNCH();
}

}  // namespace lc::cuda
