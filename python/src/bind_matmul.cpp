#include "bindings.h"

namespace lc::py {

void bind_matmul(nb::module_& m) {
  m.def("matmul2d", op<&matmul2d>(), arr("a"), arr("b"), LC_POLICY_ARGS,
        "matmul2d(a, b, device=None, policy=None) -> ndarray\n\n"
        "(M, K) @ (K, N) -> (M, N), float32 or float64.");
  m.def("matmul2d_into", op<&matmul2d_into>(), arr("a"), arr("b"), arr("out"), LC_POLICY_ARGS,
        "matmul2d_into(a, b, out, device=None, policy=None)\n\n"
        "Writes a @ b into `out` (float32/float64, C-contiguous, exactly (M, N)).");
}

}  // namespace lc::py
