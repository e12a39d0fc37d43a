// The CUDA backend's op families, each in its own launcher file. The Backend class
// (cuda_backend.cpp) owns the device context and forwards each Backend entry here.
#pragma once

#include <cstddef>

#include "backends/backend.h"

namespace lc::cuda {

// Per-device state every launcher needs. Defined in cuda_context.h (host-only header).
struct Context;

void gemm(Context& ctx, const backend::GemmProblem& p);            // gemm.cpp (cuBLASLt / cuBLAS)
void conv2d(Context& ctx, const backend::Conv2dProblem& p);        // conv.cu (cuDNN + direct)
void pool2d(Context& ctx, const backend::Pool2dProblem& p);        // pool.cu
void attention(Context& ctx, const backend::AttentionProblem& p);  // attention.cu
void attention_backward(Context& ctx, const backend::AttentionBackwardProblem& p);
void unary(Context& ctx, const backend::UnaryProblem& p);  // elementwise.cu
void binary(Context& ctx, const backend::BinaryProblem& p);
void axpy(Context& ctx, const backend::AxpyProblem& p);
void softmax(Context& ctx, const backend::SoftmaxProblem& p);  // rowwise.cu
void norm(Context& ctx, const backend::NormProblem& p);
void reduce(Context& ctx, const backend::ReduceProblem& p);
void transpose(Context& ctx, const backend::TransposeProblem& p);  // transpose.cu
void lstm_cell(Context& ctx, const backend::LstmCellProblem& p);   // recurrent.cu
void gru_cell(Context& ctx, const backend::GruCellProblem& p);

}  // namespace lc::cuda
