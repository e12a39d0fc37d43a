// Pointwise LSTM/GRU cells on precomputed gate pre-activations (PyTorch gate order and
// formulas). One thread per (batch, hidden) element; strict fp32 (expf/tanhf, no fast math).
#pragma once

#include <cstdint>

namespace lc::cuda::kern {

__device__ __forceinline__ float sigmoid_f32(float x) { return 1.f / (1.f + expf(-x)); }

// gates (B, 4H) = gates_x + gates_h, order i, f, g, o:
// c' = sigmoid(f) c + sigmoid(i) tanh(g);  h' = sigmoid(o) tanh(c').
__global__ void lstm_cell_kernel(const float* __restrict__ gx, const float* __restrict__ gh,
                                 const float* __restrict__ c, float* __restrict__ h_out,
                                 float* __restrict__ c_out, std::int64_t batch,
                                 std::int64_t hidden) {
  const std::int64_t n = batch * hidden;
  for (std::int64_t idx = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = idx / hidden, j = idx - b * hidden;
    const std::int64_t g0 = b * 4 * hidden + j;
    const float i = sigmoid_f32(gx[g0] + gh[g0]);
    const float f = sigmoid_f32(gx[g0 + hidden] + gh[g0 + hidden]);
    const float g = tanhf(gx[g0 + 2 * hidden] + gh[g0 + 2 * hidden]);
    const float o = sigmoid_f32(gx[g0 + 3 * hidden] + gh[g0 + 3 * hidden]);
    const float cn = f * c[idx] + i * g;
    c_out[idx] = cn;
    h_out[idx] = o * tanhf(cn);
  }
}

// gates_x, gates_h (B, 3H), order r, z, n:
// r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn), h' = (1 - z) n + z h.
__global__ void gru_cell_kernel(const float* __restrict__ gx, const float* __restrict__ gh,
                                const float* __restrict__ h, float* __restrict__ h_out,
                                std::int64_t batch, std::int64_t hidden) {
  const std::int64_t n = batch * hidden;
  for (std::int64_t idx = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t b = idx / hidden, j = idx - b * hidden;
    const std::int64_t g0 = b * 3 * hidden + j;
    const float r = sigmoid_f32(gx[g0] + gh[g0]);
    const float z = sigmoid_f32(gx[g0 + hidden] + gh[g0 + hidden]);
    const float nn = tanhf(gx[g0 + 2 * hidden] + r * gh[g0 + 2 * hidden]);
    h_out[idx] = (1.f - z) * nn + z * h[idx];
  }
}

}  // namespace lc::cuda::kern
