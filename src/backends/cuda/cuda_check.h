// Error checks for CUDA, cuBLAS(Lt) and cuDNN calls. A failure throws lc::BackendError
// "[cuda] expected <expr> to succeed, got <name>: <text> (file:line)"; out-of-memory throws
// lc::OutOfMemoryError. Check every launch with LC_CUDA_CHECK_LAUNCH().
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#ifdef LC_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "lightning_core/error.h"

namespace lc::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* expr, const char* file,
                                     int line);
#ifdef LC_HAVE_CUDNN
[[noreturn]] void throw_cudnn_error(cudnnStatus_t s, const char* expr, const char* file, int line);
#endif

}  // namespace lc::cuda

#define LC_CUDA_CHECK(expr)                                                                       \
  do {                                                                                            \
    const cudaError_t lc_err_ = (expr);                                                           \
    if (lc_err_ != cudaSuccess) ::lc::cuda::throw_cuda_error(lc_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: launch-configuration errors and earlier asynchronous faults.
#define LC_CUDA_CHECK_LAUNCH() LC_CUDA_CHECK(cudaGetLastError())

#define LC_CUBLAS_CHECK(expr)                                            \
  do {                                                                   \
    const cublasStatus_t lc_st_ = (expr);                                \
    if (lc_st_ != CUBLAS_STATUS_SUCCESS)                                 \
      ::lc::cuda::throw_cublas_error(lc_st_, #expr, __FILE__, __LINE__); \
  } while (0)

#ifdef LC_HAVE_CUDNN
#define LC_CUDNN_CHECK(expr)                                            \
  do {                                                                  \
    const cudnnStatus_t lc_st_ = (expr);                                \
    if (lc_st_ != CUDNN_STATUS_SUCCESS)                                 \
      ::lc::cuda::throw_cudnn_error(lc_st_, #expr, __FILE__, __LINE__); \
  } while (0)
#endif
