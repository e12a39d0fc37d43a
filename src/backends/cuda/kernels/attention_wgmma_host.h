// Host side of the Hopper attention kernel: TMA tensor maps (cuTensorMapEncodeTiled reached
// through the runtime's driver entry point, so no -lcuda) and one launch over all heads.
// Header-only so that standalone harnesses can launch the kernel without the library.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "attention_wgmma.cuh"

namespace lc::cuda::kern {

using EncodeTiledFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                   const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                   const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                   CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// nullptr when the driver lacks it (the caller then keeps the mma.sync kernel).
inline EncodeTiledFn tensor_map_encoder() {
  static const EncodeTiledFn fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      f = nullptr;
    return reinterpret_cast<EncodeTiledFn>(f);
  }();
  return fn;
}

// (mats, rows, dp) 16-bit tensor as a 3-D map with (64 x box_rows x 1) boxes, 128B swizzle;
// out-of-bounds rows read as zeros. False when the encoder rejects it.
inline bool make_tile_map(CUtensorMap* map, const void* base, int dp, std::int64_t rows,
                          std::int64_t mats, int box_rows) {
  EncodeTiledFn enc = tensor_map_encoder();
  if (!enc) return false;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(dp), static_cast<cuuint64_t>(rows),
                              static_cast<cuuint64_t>(mats)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(dp) * 2,
                                 static_cast<cuuint64_t>(rows) * dp * 2};
  const cuuint32_t box[3] = {64, static_cast<cuuint32_t>(box_rows), 1};
  const cuuint32_t elem[3] = {1, 1, 1};
  return enc(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 3, const_cast<void*>(base), dims, strides, box,
             elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// q16 (B*H, Sq, kD), k16/v16 (B*Hkv, Sk, kD); p.bh0 and the V strides are set here.
// Returns an error instead of launching when a tensor map cannot be built.
template <int kD, bool kHalf, int kStages = WgmmaFwdCfg<kD>::kStages,
          int kCons = WgmmaFwdCfg<kD>::kCons, int kBc = 128>
cudaError_t launch_attention_wgmma(cudaStream_t stream, const void* q16, const void* k16,
                                   const void* v16, std::int64_t batch, AttnWgmmaParams p) {
  using Cfg = WgmmaFwdCfg<kD, kStages, kCons, kBc>;
  auto* kernel = attention_wgmma_kernel<kD, kHalf, kStages, kCons, kBc>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const std::int64_t bh = batch * p.heads, bkv = batch * p.kv_heads;
  CUtensorMap tq, tk, tv;
  if (!make_tile_map(&tq, q16, kD, p.sq, bh, Cfg::kBr) ||
      !make_tile_map(&tk, k16, kD, p.sk, bkv, Cfg::kBc) ||
      !make_tile_map(&tv, v16, kD, p.sk, bkv, Cfg::kBc))
    return cudaErrorInvalidValue;
  if (p.v_lbo == 0) p.v_lbo = Cfg::kBc * 128;
  if (p.v_sbo == 0) p.v_sbo = 1024;
  const unsigned qtiles = static_cast<unsigned>((p.sq + Cfg::kBr - 1) / Cfg::kBr);
  for (std::int64_t b0 = 0; b0 < bh; b0 += 65535) {
    p.bh0 = static_cast<int>(b0);
    const dim3 grid(qtiles, static_cast<unsigned>(std::min<std::int64_t>(65535, bh - b0)));
    kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(tq, tk, tv, p);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace lc::cuda::kern
