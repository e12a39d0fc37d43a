// cuDNN convolution (legacy cudnnConvolutionForward API of cuDNN 9): descriptors per call,
// the algorithm found once per (device, shape, math mode) by timing cuDNN's candidates on the
// real buffers, and cached for the process.
#include "backends/cuda/conv_cudnn.h"

#ifdef LC_HAVE_CUDNN

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "backends/cuda/cuda_context.h"

namespace lc::cuda {

namespace {

template <class T, cudnnStatus_t (*Destroy)(T)>
struct Handle {
  T h = nullptr;
  ~Handle() {
    if (h) (void)Destroy(h);
  }
};

using Key =
    std::tuple<int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int>;

struct Choice {
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;
  bool usable = false;
};

std::mutex g_mutex;  // the cache and the shared cuDNN handle
std::map<Key, Choice>& cache() {
  static std::map<Key, Choice> c;
  return c;
}

// The search may use up to this much workspace; larger algorithms are skipped.
constexpr std::size_t kSearchWorkspace = std::size_t{64} << 20;

}  // namespace

bool conv2d_cudnn(Context& ctx, const backend::Conv2dProblem& p, const float* x, const float* w,
                  bool tensor_ops) {
  const Conv2dParams& q = p.params;
  const int n = static_cast<int>(p.x.shape[0]), c = static_cast<int>(p.x.shape[1]);
  const int h = static_cast<int>(p.x.shape[2]), wd = static_cast<int>(p.x.shape[3]);
  const int o = static_cast<int>(p.weight.shape[0]), cg = static_cast<int>(p.weight.shape[1]);
  const int kh = static_cast<int>(p.weight.shape[2]), kw = static_cast<int>(p.weight.shape[3]);
  const int oh = static_cast<int>(p.out.shape[2]), ow = static_cast<int>(p.out.shape[3]);
  const cudnnMathType_t math = tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;

  std::lock_guard<std::mutex> lock(g_mutex);
  cudnnHandle_t handle = ctx.cudnn();
  Handle<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor> xd, yd;
  Handle<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor> wdsc;
  Handle<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor> cd;
  LC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd.h));
  LC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd.h));
  LC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&wdsc.h));
  LC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd.h));
  LC_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(xd.h, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, wd));
  LC_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(yd.h, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, o, oh, ow));
  LC_CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(wdsc.h, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, o, cg, kh, kw));
  LC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd.h, q.pad_h, q.pad_w, q.stride_h, q.stride_w,
                                                 q.dilation_h, q.dilation_w,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  LC_CUDNN_CHECK(cudnnSetConvolutionGroupCount(cd.h, q.groups));
  LC_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.h, math));

  // cuDNN's own output size must match the front-end's.
  int dn = 0, dc = 0, dh = 0, dw = 0;
  LC_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(cd.h, xd.h, wdsc.h, &dn, &dc, &dh, &dw));
  if (dn != n || dc != o || dh != oh || dw != ow) return false;

  const Key key{ctx.device,
                n,
                c,
                h,
                wd,
                o,
                cg,
                kh,
                kw,
                q.pad_h,
                q.pad_w,
                q.stride_h * 1000 + q.stride_w,
                q.dilation_h * 1000 + q.dilation_w,
                q.groups,
                static_cast<int>(math),
                0};
  auto it = cache().find(key);
  if (it == cache().end()) {
    Choice choice;
    Scratch ws = ctx.scratch(kSearchWorkspace);
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int returned = 0;
    LC_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
        handle, xd.h, x, wdsc.h, w, cd.h, yd.h, p.out.data, static_cast<int>(perf.size()),
        &returned, perf.data(), ws.get(), kSearchWorkspace));
    for (int i = 0; i < returned; ++i) {  // sorted fastest first
      const auto& r = perf[i];
      if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kSearchWorkspace) continue;
      if (!tensor_ops && r.mathType != CUDNN_FMA_MATH) continue;  // strict fp32: no TF32 engines
      choice.algo = r.algo;
      choice.math = r.mathType;
      choice.workspace = r.memory;
      choice.usable = true;
      break;
    }
    it = cache().emplace(key, choice).first;
  }
  const Choice& ch = it->second;
  if (!ch.usable) return false;
  LC_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.h, ch.math));
  Scratch ws = ctx.scratch(ch.workspace);
  const float alpha = 1.f, beta = 0.f;
  LC_CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, xd.h, x, wdsc.h, w, cd.h, ch.algo,
                                         ws.get(), ch.workspace, &beta, yd.h, p.out.data));
  return true;
}

}  // namespace lc::cuda

#endif  // LC_HAVE_CUDNN
