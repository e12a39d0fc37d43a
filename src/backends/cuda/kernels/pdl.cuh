// Programmatic dependent launch (sm_90): kernels launched with programmatic stream
// serialization may start while the previous kernel drains. Each such kernel first lets its own
// dependents launch early, then waits until the previous grid has completed and its memory is
// visible: call pdl_sync() before the first global-memory access. Without the launch attribute
// both instructions are no-ops.
#pragma once

namespace lc::cuda::kernels {

__device__ __forceinline__ void pdl_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

}  // namespace lc::cuda::kernels
