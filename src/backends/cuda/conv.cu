// Conv2d launcher: the direct kernel for small problems (launch-bound), cuDNN for large ones
// (conv_heuristics.h decides), bias and ReLU fused in the direct kernel or one epilogue launch.
#include <algorithm>

#include "backends/cuda/conv_cudnn.h"
#include "backends/cuda/conv_heuristics.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/kernels/conv_direct.cuh"

namespace lc::cuda {

namespace {

using namespace kern;

unsigned blocks_for(std::int64_t n, const Context& ctx) {
  const std::int64_t b = std::min<std::int64_t>(
      (n + 255) / 256, static_cast<std::int64_t>(ctx.props.multiProcessorCount) * 16);
  return static_cast<unsigned>(std::max<std::int64_t>(b, 1));
}

void run_direct(Context& ctx, const backend::Conv2dProblem& p) {
  const Conv2dParams& q = p.params;
  ConvDirectParams d{};
  d.x = p.x.ptr<const float>();
  d.w = p.weight.ptr<const float>();
  d.bias = p.bias;
  d.out = p.out.ptr<float>();
  d.n = static_cast<int>(p.x.shape[0]);
  d.c = static_cast<int>(p.x.shape[1]);
  d.h = static_cast<int>(p.x.shape[2]);
  d.w_in = static_cast<int>(p.x.shape[3]);
  d.o = static_cast<int>(p.weight.shape[0]);
  d.kh = static_cast<int>(p.weight.shape[2]);
  d.kw = static_cast<int>(p.weight.shape[3]);
  d.oh = static_cast<int>(p.out.shape[2]);
  d.ow = static_cast<int>(p.out.shape[3]);
  d.sh = q.stride_h;
  d.sw = q.stride_w;
  d.ph = q.pad_h;
  d.pw = q.pad_w;
  d.dh = q.dilation_h;
  d.dw = q.dilation_w;
  d.groups = q.groups;
  d.relu = q.relu;
  const unsigned blocks = blocks_for(p.out.numel(), ctx);
  switch (p.precision) {
    case Precision::bf16:
      conv2d_direct_kernel<kRoundBf16><<<blocks, 256, 0, ctx.stream>>>(d);
      break;
    case Precision::fp16:
      conv2d_direct_kernel<kRoundFp16><<<blocks, 256, 0, ctx.stream>>>(d);
      break;
    default:
      conv2d_direct_kernel<kRoundNone><<<blocks, 256, 0, ctx.stream>>>(d);
      break;
  }
  LC_CUDA_CHECK_LAUNCH();
}

#ifdef LC_HAVE_CUDNN
bool run_cudnn(Context& ctx, const backend::Conv2dProblem& p) {
  const bool half = p.precision == Precision::bf16 || p.precision == Precision::fp16;
  const float* x = p.x.ptr<const float>();
  const float* w = p.weight.ptr<const float>();
  Scratch rounded;
  if (half) {  // 16-bit-rounded copies: TF32 tensor cores then multiply them exactly
    const std::int64_t nx = p.x.numel(), nw = p.weight.numel();
    rounded = ctx.scratch(static_cast<std::size_t>(nx + nw) * sizeof(float));
    float* xr = rounded.as<float>();
    float* wr = xr + nx;
    auto* kernel = p.precision == Precision::bf16 ? round_copy_kernel<kRoundBf16>
                                                  : round_copy_kernel<kRoundFp16>;
    kernel<<<blocks_for(nx, ctx), 256, 0, ctx.stream>>>(x, xr, nx);
    LC_CUDA_CHECK_LAUNCH();
    kernel<<<blocks_for(nw, ctx), 256, 0, ctx.stream>>>(w, wr, nw);
    LC_CUDA_CHECK_LAUNCH();
    x = xr;
    w = wr;
  }
  const bool tensor_ops = p.precision != Precision::fp32;
  if (!conv2d_cudnn(ctx, p, x, w, tensor_ops)) return false;
  if (p.bias || p.params.relu) {
    const std::int64_t total = p.out.numel();
    conv_bias_relu_kernel<<<blocks_for(total, ctx), 256, 0, ctx.stream>>>(
        p.out.ptr<float>(), p.bias, total, p.out.shape[2] * p.out.shape[3],
        static_cast<int>(p.out.shape[1]), p.params.relu);
    LC_CUDA_CHECK_LAUNCH();
  }
  return true;
}
#endif

}  // namespace

void conv2d(Context& ctx, const backend::Conv2dProblem& p) {
  if (p.out.numel() == 0) return;
  convh::ConvShape s;
  s.n = p.x.shape[0];
  s.c = p.x.shape[1];
  s.h = p.x.shape[2];
  s.w = p.x.shape[3];
  s.o = p.weight.shape[0];
  s.kh = p.weight.shape[2];
  s.kw = p.weight.shape[3];
  s.oh = p.out.shape[2];
  s.ow = p.out.shape[3];
  s.groups = p.params.groups;
#ifdef LC_HAVE_CUDNN
  s.cudnn_available = true;
#endif
  const convh::ConvPlan plan = convh::plan_conv(s);
#ifdef LC_HAVE_CUDNN
  if (plan.variant == convh::ConvVariant::cudnn && run_cudnn(ctx, p)) return;
#endif
  run_direct(ctx, p);
}

}  // namespace lc::cuda
