// fp32 (SIMT) tile products shared by the tiled attention kernels. Threads form a 16-wide grid
// (tx = tid % 16, ty = tid / 16, kRS = threads / 16 rows of it); thread (tx, ty) owns rows
// ty + kRS*i of a tile and either columns tx + 16*j (score tiles) or the float4 columns
// 4*tx + 64*c (head-dim tiles). Operands live in shared memory
// with row strides = 4 (mod 8) floats, so 16-byte reads of 8 different rows hit distinct banks.
#pragma once

#include "attention_common.cuh"

namespace lc::cuda::kern {

__device__ __forceinline__ float f4_at(const float4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// acc[i][j] += sum_k A[ty+kRS*i][k] * B[tx+16j][k]   (A (rows, K), B (cols, K), K % 4 == 0)
template <int M, int N, int K, int kRS = 16>
__device__ __forceinline__ void mm_nt(float (&acc)[M][N], const float* A, int lda, const float* B,
                                      int ldb, int tx, int ty) {
#pragma unroll 4
  for (int k = 0; k < K; k += 4) {
    float4 a[M], b[N];
#pragma unroll
    for (int i = 0; i < M; ++i)
      a[i] = *reinterpret_cast<const float4*>(A + (ty + kRS * i) * lda + k);
#pragma unroll
    for (int j = 0; j < N; ++j)
      b[j] = *reinterpret_cast<const float4*>(B + (tx + 16 * j) * ldb + k);
#pragma unroll
    for (int i = 0; i < M; ++i)
#pragma unroll
      for (int j = 0; j < N; ++j) {
        float s = acc[i][j];
        s = fmaf(a[i].x, b[j].x, s);
        s = fmaf(a[i].y, b[j].y, s);
        s = fmaf(a[i].z, b[j].z, s);
        s = fmaf(a[i].w, b[j].w, s);
        acc[i][j] = s;
      }
  }
}

// acc[i][c] += sum_k A[ty+kRS*i][k] * B[k][4tx+64c .. +3]   (A (rows, K), B (K, 64*C))
template <int M, int C, int K, int kRS = 16>
__device__ __forceinline__ void mm_nn(float4 (&acc)[M][C], const float* A, int lda, const float* B,
                                      int ldb, int tx, int ty) {
#pragma unroll 2
  for (int k = 0; k < K; k += 4) {
    float4 a[M];
#pragma unroll
    for (int i = 0; i < M; ++i)
      a[i] = *reinterpret_cast<const float4*>(A + (ty + kRS * i) * lda + k);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      float4 b[C];
#pragma unroll
      for (int c = 0; c < C; ++c)
        b[c] = *reinterpret_cast<const float4*>(B + (k + kk) * ldb + 4 * tx + 64 * c);
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const float av = f4_at(a[i], kk);
#pragma unroll
        for (int c = 0; c < C; ++c) {
          acc[i][c].x = fmaf(av, b[c].x, acc[i][c].x);
          acc[i][c].y = fmaf(av, b[c].y, acc[i][c].y);
          acc[i][c].z = fmaf(av, b[c].z, acc[i][c].z);
          acc[i][c].w = fmaf(av, b[c].w, acc[i][c].w);
        }
      }
    }
  }
}

// Synchronous tile load with rounding: dst (rows, ld) <- src rows [row0, row0+rows) of a
// (total, cols) row-major matrix, zero outside it and in columns [cols, kCols). Any alignment.
template <int kRows, int kCols, int kRound>
__device__ __forceinline__ void load_tile_rounded(float* dst, int ld, const float* src, int row0,
                                                  int total, int cols, float mul) {
  for (int idx = threadIdx.x; idx < kRows * kCols; idx += blockDim.x) {
    const int r = idx / kCols, c = idx % kCols, row = row0 + r;
    dst[r * ld + c] =
        (row < total && c < cols)
            ? round_input<kRound>(src[static_cast<std::int64_t>(row) * cols + c]) * mul
            : 0.f;
  }
}

}  // namespace lc::cuda::kern
