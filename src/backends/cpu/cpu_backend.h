// The CPU backend: one entry per op family, each implemented in its own file.
#pragma once

#include "backends/backend.h"

namespace lc::cpu {

// Op families (gemm.cpp, conv.cpp, pool.cpp, attention.cpp, vector.cpp, matrix.cpp, recurrent.cpp).
void gemm(const backend::GemmProblem& p);
void conv2d(const backend::Conv2dProblem& p);
void pool2d(const backend::Pool2dProblem& p);
void attention(const backend::AttentionProblem& p);
void attention_backward(const backend::AttentionBackwardProblem& p);
void unary(const backend::UnaryProblem& p);
void binary(const backend::BinaryProblem& p);
void axpy(const backend::AxpyProblem& p);
void softmax(const backend::SoftmaxProblem& p);
void norm(const backend::NormProblem& p);
void reduce(const backend::ReduceProblem& p);
void transpose(const backend::TransposeProblem& p);
void lstm_cell(const backend::LstmCellProblem& p);
void gru_cell(const backend::GruCellProblem& p);

}  // namespace lc::cpu
