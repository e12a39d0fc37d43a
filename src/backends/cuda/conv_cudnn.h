// cuDNN convolution path of conv.cu (conv_cudnn.cpp); present only with LC_HAVE_CUDNN.
#pragma once

#include "backends/backend.h"

namespace lc::cuda {

struct Context;

// y = conv(x, w) through cuDNN with the algorithm found (and cached) for this shape and math
// mode; no bias/ReLU. tensor_ops allows TF32 tensor cores (exact for bf16/fp16-rounded inputs);
// without it only FMA kernels run (strict fp32). Returns false when cuDNN has no usable
// algorithm (the caller runs the direct kernel instead).
bool conv2d_cudnn(Context& ctx, const backend::Conv2dProblem& p, const float* x, const float* w,
                  bool tensor_ops);

}  // namespace lc::cuda
