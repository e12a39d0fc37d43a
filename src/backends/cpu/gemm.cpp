// CPU GEMM (reference loop order; the blocked kernel replaces it).
#include "backends/cpu/cpu_backend.h"

namespace lc::cpu {

template <class T>
static void gemm_naive(const backend::GemmProblem& p) {
  for (std::int64_t bi = 0; bi < p.batch; ++bi) {
    const T* A = static_cast<const T*>(p.a) + bi * p.stride_a;
    const T* B = static_cast<const T*>(p.b) + bi * p.stride_b;
    T* C = static_cast<T*>(p.c) + bi * p.stride_c;
    for (std::int64_t i = 0; i < p.m; ++i)
      for (std::int64_t j = 0; j < p.n; ++j) {
        T acc = 0;
        for (std::int64_t l = 0; l < p.k; ++l) {
          T av = p.trans_a ? A[l * p.m + i] : A[i * p.k + l];
          T bv = p.trans_b ? B[j * p.k + l] : B[l * p.n + j];
          acc += av * bv;
        }
        T r = static_cast<T>(p.alpha) * acc + (p.beta != 0 ? static_cast<T>(p.beta) * C[i * p.n + j] : T(0));
        if (p.bias) r += static_cast<const T*>(p.bias)[j];
        if (p.act == Activation::relu && r < 0) r = 0;
        C[i * p.n + j] = r;
      }
  }
}

void gemm(const backend::GemmProblem& p) {
  dispatch_float(p.dtype, [&](auto tag) { gemm_naive<decltype(tag)>(p); });
}

}  // namespace lc::cpu
