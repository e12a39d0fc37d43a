// Batched transpose of the last two axes through a shared-memory tile (device code).
#pragma once

#include <cstdint>

#include "pdl.cuh"

namespace lc::cuda::kernels {

inline constexpr int kTile = 32;
inline constexpr int kTileRows = 8;  // blockDim = (kTile, kTileRows): each thread moves 4 elements

// x (batch, R, C) -> y (batch, C, R). Reads and writes are both coalesced; the tile's extra
// column keeps the column-wise shared-memory reads free of bank conflicts.
template <class T>
__global__ void __launch_bounds__(kTile* kTileRows)
    transpose_tiled(const T* __restrict__ x, T* __restrict__ y, std::int64_t batch, std::int64_t R,
                    std::int64_t C) {
  pdl_sync();
  __shared__ T tile[kTile][kTile + 1];
  const std::int64_t tiles_r = (R + kTile - 1) / kTile, tiles_c = (C + kTile - 1) / kTile;
  const std::int64_t tiles = batch * tiles_r * tiles_c;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (std::int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const std::int64_t bi = t / (tiles_r * tiles_c), rem = t % (tiles_r * tiles_c);
    const std::int64_t r0 = (rem / tiles_c) * kTile, c0 = (rem % tiles_c) * kTile;
    const T* src = x + bi * R * C;
    T* dst = y + bi * R * C;
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows) {
      const std::int64_t r = r0 + ty + j, c = c0 + tx;
      if (r < R && c < C) tile[ty + j][tx] = src[r * C + c];
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kTile; j += kTileRows) {
      const std::int64_t c = c0 + ty + j, r = r0 + tx;  // y[c, r] = x[r, c]
      if (r < R && c < C) dst[c * R + r] = tile[tx][ty + j];
    }
    __syncthreads();  // the tile is refilled by the next iteration
  }
}

}  // namespace lc::cuda::kernels
